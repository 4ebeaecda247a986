"""The code style is checked, not hoped for: `ruff check` and `ruff format --check` (configured in
pyproject.toml) pass on the whole repository. Skips where ruff is not installed (the dev extra has it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    if ruff("--version").returncode:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")


@pytest.mark.parametrize("command", [["check", "--output-format", "concise"], ["format", "--check"]])
def test_ruff_passes(command) -> None:
    done = ruff(*command, ".")
    assert done.returncode == 0, done.stdout + done.stderr
