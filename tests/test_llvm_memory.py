"""A process that compiles and drops llvm functions does not grow (issue 17): it kept ~107 KiB per compiled
function (llvmlite never freed the O3 pass manager) and ~10 KiB per function even from the cache (an LLJIT
never forgets a library). Measured with glibc's mallinfo2: what malloc handed out and did not get back."""

from __future__ import annotations

import ctypes
import gc as python_gc

import numpy as np
import pytest

import graphc as gc


def _allocated() -> int:
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallinfo2")
    names = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    mallinfo2.restype = type(
        "Mallinfo2", (ctypes.Structure,), {"_fields_": [(n, ctypes.c_size_t) for n in names]}
    )
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def _growth(make, count: int) -> int:
    """Bytes still allocated after compiling, calling and dropping ``count`` functions (after a warm-up)."""
    for k in range(10):
        make(k)(np.ones(3))
    python_gc.collect()
    before = _allocated()
    for k in range(10, 10 + count):
        make(k)(np.ones(3))
    python_gc.collect()
    return _allocated() - before


def test_compiling_new_functions_does_not_grow(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    gc.settings.reload()
    x = gc.vector("x")
    grown = _growth(lambda k: gc.function([x], x * (k + 0.5) + 1.0, backend="llvm"), 30)  # each one compiled
    assert grown < 2**20, f"{grown / 30 / 1024:.1f} KiB kept per compiled function"  # it was 3 MiB


def test_loading_from_the_cache_does_not_grow(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    gc.settings.reload()
    x = gc.vector("x")
    grown = _growth(lambda k: gc.function([x], gc.exp(x) * 2.0, backend="llvm"), 150)  # each one loaded
    assert grown < 0.75 * 2**20, (
        f"{grown / 150 / 1024:.1f} KiB kept per function loaded from the cache"
    )  # 1.5 MiB


def test_no_code_reaches_its_data_by_a_32_bit_offset():
    """RuntimeDyld may place an object's code and its constant pools more than 2 GiB apart in a long-lived,
    fragmented process (an abort after ~150 programs): code uses full 64-bit addresses (jit.CODE_MODEL)."""
    x, W = gc.vector("x", 64), gc.matrix("W", (64, 64))
    f = gc.function([x, W], [gc.sum(gc.tanh(W @ x) * 0.5 + gc.sin(x)), gc.exp(x) + 1.5], backend="llvm")
    np.testing.assert_allclose(f(np.ones(64), np.eye(64))[1], np.exp(1.0) + 1.5)
    assert "(%rip)" not in f.asm and "movabs" in f.asm
