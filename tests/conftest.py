"""Shared test fixtures: every test that takes `backend` runs on every backend that can run here."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

BACKENDS = ["interp", "numpy"]
if importlib.util.find_spec("llvmlite") is not None and importlib.util.find_spec("graphc.codegen.llvm.backend"):
    BACKENDS.append("llvm")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
