"""cache: roundtrip, corrupt and truncated entries rebuilt, concurrent writers from several processes."""

import multiprocessing
import os
import sys

import numpy as np
import pytest
from kernels import UNARY_SIG, unary_kernel_ir

from graphc import settings
from graphc.codegen.llvm import cache, jit


@pytest.fixture
def store(tmp_path):
    return cache.ObjectCache(tmp_path)


def _exp_kernel(lib):
    fn = UNARY_SIG(lib.address("kernel"))
    x = np.array([0.0, 1.0, -1.0, 700.0], dtype=np.float64)
    y = np.empty_like(x)
    fn(x.ctypes.data, y.ctypes.data, x.size)
    return y


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "a"))
    settings.reload()
    assert cache.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GRAPHC_CACHE_DIR")
    settings.reload()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "graphc"


def test_key_depends_on_source():
    assert cache.cache_key("a") != cache.cache_key("b")
    assert cache.cache_key("a") == cache.cache_key(b"a")
    assert len(cache.cache_key("a")) == 64


def test_entry_roundtrip(store):
    entry = cache.CacheEntry(b"\x7fELF-not-really" * 100, ("f", "g"))
    assert store.load("k") is None
    assert store.store("k", entry)
    assert store.load("k") == entry
    assert [p.name for p in store.directory.iterdir()] == ["k.o.cache"]  # no temporary files left


def test_compile_cached_roundtrip(store):
    engine = jit.default_engine()
    ir_text = unary_kernel_ir("exp", np.float64)
    first = cache.compile_cached(engine, ir_text, ["kernel"], cache=store)
    assert first.llvm_ir  # compiled here
    second = cache.compile_cached(engine, ir_text, ["kernel"], cache=store)
    with pytest.raises(ValueError):
        _ = second.llvm_ir  # loaded from object code: no IR
    np.testing.assert_array_equal(_exp_kernel(first), _exp_kernel(second))
    np.testing.assert_allclose(_exp_kernel(second), np.exp([0.0, 1.0, -1.0, 700.0]))


def test_graph_key_builds_ir_only_on_miss(store):
    calls = []

    def build():
        calls.append(1)
        return unary_kernel_ir("exp", np.float64)

    key = cache.cache_key("graph: y = exp(x), f64, rank 1")
    for _ in range(3):
        lib = cache.compile_cached(jit.default_engine(), build, ["kernel"], key=key, cache=store)
    assert len(calls) == 1
    assert _exp_kernel(lib)[1] == pytest.approx(np.e)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_damaged_entry_is_detected_and_rebuilt(store, damage):
    ir_text = unary_kernel_ir("exp", np.float64)
    key = cache.cache_key(ir_text)
    cache.compile_cached(jit.default_engine(), ir_text, ["kernel"], cache=store)
    path = store.path(key)
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    elif damage == "truncate":
        blob = blob[: len(blob) - 100]
    elif damage == "empty":
        blob = bytearray()
    else:
        blob = bytearray(os.urandom(len(blob)))
    path.write_bytes(bytes(blob))
    assert store.load(key) is None
    assert not path.exists()  # deleted
    lib = cache.compile_cached(jit.default_engine(), ir_text, ["kernel"], cache=store)
    assert lib.llvm_ir  # rebuilt
    assert store.load(key) is not None
    np.testing.assert_allclose(_exp_kernel(lib), np.exp([0.0, 1.0, -1.0, 700.0]))


def test_unwritable_directory_is_a_miss_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = cache.ObjectCache(blocker / "sub")
    assert not store.store("k", cache.CacheEntry(b"x", ()))
    assert store.load("k") is None


def _writer(directory: str, worker: int, rounds: int) -> int:
    """Store the same key many times with a payload that differs per writer, reading back in between."""
    store = cache.ObjectCache(directory)
    bad = 0
    for i in range(rounds):
        payload = bytes([worker]) * (50_000 + i)
        store.store("shared", cache.CacheEntry(payload, ("f",)))
        entry = store.load("shared")
        # Any whole entry from any writer is fine; a torn or mixed one is not (load would return None).
        if entry is None or len(set(entry.obj)) != 1:
            bad += 1
    return bad


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+: the workers use no threads
def test_concurrent_writers(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        bad = pool.starmap(_writer, [(str(tmp_path), w, 40) for w in range(4)])
    assert bad == [0, 0, 0, 0]
    assert cache.ObjectCache(tmp_path).load("shared") is not None
    assert [p.name for p in tmp_path.iterdir()] == ["shared.o.cache"]
