"""cache: entries that name their key, corrupt/truncated/foreign entries refused, a directory others can write
refused, the size cap (least recently used first), full disks, concurrent writers and sweepers."""

import multiprocessing
import os
import sys
import time

import pytest

from graphc import settings
from graphc.codegen.llvm import cache
from graphc.errors import GraphcWarning


@pytest.fixture
def store(tmp_path):
    return cache.ObjectCache(tmp_path / "c", max_bytes=1 << 20)


def _entry(size: int, fill: int = 7) -> cache.CacheEntry:
    return cache.CacheEntry(bytes([fill]) * size, ("f",), ("exp:f64",))


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "a"))
    settings.reload()
    assert cache.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GRAPHC_CACHE_DIR")
    settings.reload()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "graphc"


def test_key_depends_on_every_part():
    assert cache.cache_key("kernel", "a") != cache.cache_key("kernel", "b") != cache.cache_key("main", "a")
    assert cache.cache_key("a", "bc") != cache.cache_key("ab", "c")
    assert cache.cache_key("a") == cache.cache_key(b"a") and len(cache.cache_key("a")) == 64


def test_entry_roundtrip(store):
    assert store.load("k") is None
    assert store.store("k", _entry(1000))
    assert store.load("k") == _entry(1000)
    assert [p.name for p in store.directory.iterdir()] == ["k.o.cache"]  # no temporary files left
    assert oct(store.directory.stat().st_mode & 0o777) == "0o700"  # made private


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_damaged_entry_is_deleted(store, damage):
    store.store("k", _entry(5000))
    path = store.path("k")
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
    assert store.load("k") is None
    assert not path.exists()


def test_another_keys_entry_is_refused(store):
    """A whole, checksummed entry copied under another key is not this key's code: refused and deleted."""
    store.store("key-a", _entry(100, fill=1))
    store.path("key-b").write_bytes(store.path("key-a").read_bytes())
    assert store.load("key-b") is None
    assert not store.path("key-b").exists()
    assert store.load("key-a") == _entry(100, fill=1)


@pytest.mark.parametrize("why", ["world-writable", "another user's"])
def test_directory_others_can_write_is_refused(tmp_path, monkeypatch, why):
    shared = tmp_path / "shared"
    shared.mkdir()
    cache.ObjectCache(shared).store("k", _entry(10))  # written while it was private
    if why == "world-writable":
        shared.chmod(0o777)
    else:
        monkeypatch.setattr(os, "geteuid", lambda: os.stat(shared).st_uid + 1)
    store = cache.ObjectCache(shared)
    with pytest.warns(GraphcWarning, match="does not use the object cache .*(writable by every|another)"):
        assert store.load("k") is None
    assert not store.store("k2", _entry(10))
    assert sorted(p.name for p in shared.iterdir()) == ["k.o.cache"]
    assert store.info()["refused"]


def test_unwritable_directory_is_a_miss_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = cache.ObjectCache(blocker / "sub")
    assert not store.store("k", _entry(1))
    assert store.load("k") is None


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_is_a_miss_and_leaves_nothing(store, monkeypatch):
    real_mkstemp = cache.tempfile.mkstemp

    def mkstemp_on_a_full_disk(**kwargs):
        _, name = real_mkstemp(**kwargs)
        os.unlink(name)
        return os.open("/dev/full", os.O_WRONLY), name  # every write: ENOSPC

    monkeypatch.setattr(cache.tempfile, "mkstemp", mkstemp_on_a_full_disk)
    assert not store.store("k", _entry(100))
    assert store.load("k") is None and list(store.directory.iterdir()) == []


def test_sweep_evicts_least_recently_used(tmp_path):
    for k in range(8):
        cache.ObjectCache(tmp_path).store(f"k{k}", _entry(2000))
        os.utime(cache.ObjectCache(tmp_path).path(f"k{k}"), (1000 + k, 1000 + k))  # k0 oldest
    store = cache.ObjectCache(tmp_path, max_bytes=10_000)
    assert store.load("k0") is not None  # a hit makes k0 the most recently used
    assert store.sweep() > 0
    left = {p.name.split(".")[0] for p in tmp_path.glob("*.o.cache")}
    assert "k0" in left and "k1" not in left
    assert store.info()["bytes"] <= 10_000 * 0.75


def test_writing_past_the_cap_sweeps_by_itself(tmp_path):
    store = cache.ObjectCache(tmp_path, max_bytes=32_000)
    for k in range(100):
        store.store(f"k{k}", _entry(1000))
    # Between sweeps a process writes at most a sixteenth of the cap (plus one entry).
    assert store.info()["bytes"] <= 32_000 * (1 + 1 / 16) + 1100
    assert store.load("k99") is not None


def test_stale_temporary_files_are_swept(store):
    store.store("k", _entry(10))
    leftover = store.directory / ".0123.tmp"
    leftover.write_bytes(b"half an entry")
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    store.sweep()
    assert not leftover.exists() and store.path("k").exists()


def test_info_and_clear(store):
    for k in range(3):
        store.store(f"k{k}", _entry(100))
    info = store.info()
    assert info["entries"] == 3 and info["bytes"] > 300 and info["directory"] == str(store.directory)
    assert store.clear()[0] == 3
    assert store.info()["entries"] == 0


def test_cap_from_settings_and_zero_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_MAX_MB", "0.5")
    settings.reload()
    assert cache.ObjectCache(tmp_path).max_bytes == 2**19
    monkeypatch.setenv("GRAPHC_CACHE_MAX_MB", "0")
    settings.reload()
    off = cache.ObjectCache(tmp_path)
    assert not off.store("k", _entry(10)) and off.load("k") is None and not list(tmp_path.iterdir())


def _writer(directory: str, worker: int, rounds: int) -> int:
    """Store the same key many times with a payload that differs per writer, reading back in between, while
    other keys overflow a small cap (so sweeps delete entries under the other writers' feet)."""
    store = cache.ObjectCache(directory, max_bytes=400_000)
    bad = 0
    for i in range(rounds):
        payload = bytes([worker]) * (50_000 + i)
        store.store("shared", cache.CacheEntry(payload, ("f",)))
        store.store(f"w{worker}-{i}", cache.CacheEntry(payload, ("f",)))
        entry = store.load("shared")
        # Any whole entry from any writer, or none (evicted), is fine; a torn or mixed one is not.
        if entry is not None and len(set(entry.obj)) != 1:
            bad += 1
    return bad


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+: the workers use no threads
def test_concurrent_writers_and_sweepers(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        bad = pool.starmap(_writer, [(str(tmp_path), w, 40) for w in range(4)])
    assert bad == [0, 0, 0, 0]
    store = cache.ObjectCache(tmp_path, max_bytes=400_000)
    assert store.info()["bytes"] <= 400_000 * (1 + 1 / 16) + 4 * 2 * 51_000
    assert not list(tmp_path.glob("*.tmp"))


def test_command_line_info_and_clear(monkeypatch, tmp_path, capsys):
    from graphc.__main__ import main

    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    settings.reload()
    cache.ObjectCache().store("k", _entry(3000))
    assert main(["cache", "--info"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"graphc object cache: {tmp_path}",
        "  1 entries, 3 KB (cap 256.0 MB; least recently used entries go first)",
    ]
    assert main(["cache", "--clear"]) == 0
    assert capsys.readouterr().out == f"removed 1 entries (3 KB) from {tmp_path}\n"
    assert not list(tmp_path.iterdir())
