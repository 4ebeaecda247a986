"""A process that compiles and drops llvm functions does not grow (issue 17): it kept ~107 KiB per compiled
function (llvmlite never freed the O3 pass manager) and ~10 KiB per function even from the cache (an LLJIT
never forgets a library). Measured with glibc's mallinfo2: what malloc handed out and did not get back."""

from __future__ import annotations

import ctypes
import gc as python_gc
import threading

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


def _cached_block(f) -> tuple[int, int]:
    """(address, size in bytes) of the arena block ``f`` keeps between calls; (0, 0) when none."""
    from graphc.codegen.llvm.arena import CACHE

    block = ctypes.c_void_p.from_address(f.program.library.address(CACHE)).value or 0
    return block, (ctypes.c_int64.from_address(block).value if block else 0)


def test_a_call_reuses_the_arena_of_the_last_one_and_grows_it_when_needed():
    x = gc.vector("x")
    f = gc.function([x], gc.softmax(x) * 2.0, backend="llvm")  # softmax: arena slots of n float64
    assert _cached_block(f) == (0, 0)
    blocks = []
    for n in (1000, 1000, 30, 4000, 10):
        a = np.linspace(-1, 1, n)
        np.testing.assert_allclose(f(a), 2 * np.exp(a) / np.exp(a).sum())
        block, size = _cached_block(f)
        assert block and size >= 8 * n
        if n == 1000:
            blocks.append(block)
    assert blocks[0] == blocks[1]  # the second call of the same size took the same block
    assert size >= 8 * 4000  # grown for n = 4000, kept for n = 10


def test_repeated_calls_do_not_grow():
    x = gc.vector("x")
    f = gc.function([x], gc.softmax(x) * 2.0, backend="llvm")
    inputs = [np.ones(n) for n in (4096, 100, 2048, 8192)]  # sizes vary: the block grows, then is kept
    for a in inputs * 3:
        f(a)
    python_gc.collect()
    before = _allocated()
    for _ in range(2500):
        for a in inputs:
            f(a)
    grown = _allocated() - before
    assert grown < 256 * 1024, f"{grown} bytes more in use after 10^4 calls"


def test_threads_calling_one_function_never_share_an_arena():
    """Each thread's arena holds its own softmax while the others run (large calls release the GIL)."""
    x = gc.vector("x")
    f = gc.function([x], gc.softmax(x * 3.0) * 2.0 - gc.exp(x - 1.0), backend="llvm")
    inputs = [np.linspace(-1 - k, 1 + k, 40_000 + 1000 * k) for k in range(4)]
    expected = [2 * np.exp(3 * a) / np.exp(3 * a).sum() - np.exp(a - 1) for a in inputs]
    wrong: list[int] = []

    def work(k: int) -> None:
        for _ in range(40):
            if not np.allclose(f(inputs[k]), expected[k], rtol=1e-12, atol=0):
                wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    assert _cached_block(f)[1] >= 8 * 40_000  # one of the blocks is kept


def test_a_dropped_function_frees_its_arena(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    gc.settings.reload()
    x = gc.vector("x")
    a = np.ones(1 << 17)  # an arena of 1 MiB and more

    def make(k):
        f = gc.function([x], gc.softmax(x) * 2.0 + 1.0, backend="llvm")  # loaded from the cache after one
        f(a)
        assert _cached_block(f)[1] >= a.nbytes
        return f

    grown = _growth(make, 40)
    assert grown < 2**20, f"{grown / 40 / 1024:.1f} KiB kept per dropped function"  # 40 MiB if kept
