"""Shared test fixtures: every test that takes `backend` runs on every backend that can run here."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from graphc import settings

BACKENDS = ["interp", "numpy"]
_LLVM = ("llvmlite", "graphc.codegen.llvm.backend")
if all(importlib.util.find_spec(name) is not None for name in _LLVM):
    BACKENDS.append("llvm")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _settings_follow_the_environment():
    """graphc reads GRAPHC_* variables once; a test that sets them calls settings.reload(), and this reads
    them again once monkeypatch has put the environment back (autouse fixtures are torn down last)."""
    yield
    settings.reload()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty object cache of this test's own (modules that compile on llvm use it for every test)."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "cache"))
    settings.reload()
    return tmp_path / "cache"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
