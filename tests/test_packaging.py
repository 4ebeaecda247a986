"""The package's promises hold: the floors pyproject.toml states are the ones .ci/run tests (.ci/floors.txt)
and the README repeats; the distribution name is free of the unrelated `graphc` on the package index while the
import stays `graphc`; the MIT licence pyproject names is shipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the floor run on 3.10 skips this file's checks
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_tested_floors_are_the_stated_floors() -> None:
    project = _pyproject()["project"]
    stated = {
        name: Version(v)
        for name, v in (re.match(r"([\w-]+)>=([\w.]+)", d).groups() for d in project["dependencies"])
    }
    lines = (ROOT / ".ci" / "floors.txt").read_text().splitlines()
    pinned = {
        name: Version(v)
        for name, v in (line.split("==") for line in lines if line and not line.startswith("#"))
    }
    assert pinned == stated
    assert project["requires-python"] == ">=3.10"
    assert "floor_python=3.10" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python ≥ 3.10 and NumPy ≥ {stated['numpy']}" in readme


def test_distribution_name_license_and_import_name() -> None:
    config = _pyproject()
    assert config["project"]["name"] == "graphc-dl" and "graphc" in config["tool"]["setuptools"]["packages"]
    assert config["project"]["license"] == "MIT" and config["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
