"""The on-disk cache of object code: entries that name their own key, atomic writes, a size cap with
least-recently-used eviction, and a directory only this user may write. Knows nothing of graphs or LLVM.

An entry is ``MAGIC | sha256(payload) | len(payload) | payload``; the payload holds a JSON header (the entry's
own key, the symbols it exports, the other entries it needs at link time) and the object file. An entry is
used only if it is whole (magic, length, checksum) AND names the key it was asked for: a valid entry of
another program copied or renamed under this key is refused, never linked. A bad entry is deleted and the code
rebuilt. Writers write a private temporary file in the directory and ``os.replace`` it into place, so
concurrent writers and readers (threads or processes) see a whole old entry, a whole new one, or none.

The cache trusts the directory it is given: anyone who can write there can make graphc run their code. So a
directory writable by others, or owned by another user, is refused (a ``GraphcWarning``, and compiled code is
then not cached). Each hit refreshes the entry's modification time; once the entries pass
``GRAPHC_CACHE_MAX_MB`` the oldest are deleted (a process sweeps after writing about a sixteenth of the cap).

Example::

    store = ObjectCache()
    key = cache_key("kernel", ir_text)
    entry = store.load(key) or compile_and_store(...)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import stat
import struct
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from graphc import settings
from graphc.errors import GraphcWarning

__all__ = ["FORMAT_VERSION", "CacheEntry", "ObjectCache", "cache_dir", "cache_key", "default_store"]

FORMAT_VERSION = 2
MAGIC = b"GRAPHCO\x02"
SUFFIX = ".o.cache"
_HEADER = struct.Struct("<8s32sQ")  # magic, sha256 of payload, payload length
_META_LEN = struct.Struct("<I")
DEFAULT_MAX_MB = 256.0
_STALE_TEMP_SECONDS = 600  # a temporary file this old belongs to a writer that died
_EVICT_TO = 0.75  # a sweep deletes down to this fraction of the cap, so it does not run again at once


def cache_dir() -> Path:
    """``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``."""
    explicit = settings.current().cache_dir
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "graphc"


def cache_key(*parts: str | bytes) -> str:
    """sha256 (hex) over this format's version and ``parts`` (kind, host CPU, source or spec text...)."""
    digest = hashlib.sha256(f"graphc-object-cache-v{FORMAT_VERSION}".encode())
    for part in parts:
        digest.update(b"\0")
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """What the cache stores for one key: object code, the symbols to export from it, and the keys of the
    other entries it must be linked with (out-of-line math, say)."""

    obj: bytes
    exports: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


def _encode(key: str, entry: CacheEntry) -> bytes:
    meta = json.dumps({"key": key, "exports": list(entry.exports), "needs": list(entry.needs)}).encode()
    payload = _META_LEN.pack(len(meta)) + meta + entry.obj
    return _HEADER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload)) + payload


def _decode(blob: bytes, key: str) -> CacheEntry | None:
    """The entry in ``blob`` if it is whole and is the entry of ``key``; None otherwise."""
    if len(blob) < _HEADER.size:
        return None
    magic, checksum, length = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    if magic != MAGIC or length != len(payload) or hashlib.sha256(payload).digest() != checksum:
        return None
    try:
        (meta_len,) = _META_LEN.unpack_from(payload)
        meta = json.loads(payload[_META_LEN.size : _META_LEN.size + meta_len])
        if meta["key"] != key:
            return None  # another key's entry under this name: never link it
        exports = tuple(str(name) for name in meta["exports"])
        needs = tuple(str(name) for name in meta["needs"])
    except (struct.error, ValueError, KeyError, TypeError):
        return None
    return CacheEntry(payload[_META_LEN.size + meta_len :], exports, needs)


def unsafe_reason(directory: Path) -> str | None:
    """Why ``directory`` must not hold code graphc will run (None if it may): writable by others, or not
    owned by this user."""
    try:
        info = directory.stat()
    except OSError:
        return None  # absent: we create it, private
    if info.st_mode & stat.S_IWOTH:
        return "it is writable by every user"
    getuid = getattr(os, "geteuid", None)
    if getuid is not None and info.st_uid != getuid():
        return f"it belongs to another user (uid {info.st_uid})"
    return None


_warned: set[Path] = set()


class ObjectCache:
    """A directory of cache entries named by key. I/O errors degrade to cache misses, never exceptions.

    ``max_bytes`` defaults to ``GRAPHC_CACHE_MAX_MB`` (256 MB when unset; 0 turns the cache off).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, max_bytes: int | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir()
        if max_bytes is None:
            mb = settings.current().cache_max_mb
            max_bytes = int((DEFAULT_MAX_MB if mb is None else mb) * 2**20)
        self.max_bytes = max_bytes
        self._checked: bool | None = None  # is the directory safe to use (decided on first use)
        self._lock = threading.Lock()
        # Each process sweeps after writing about max_bytes/16; a random start makes many short processes
        # that each write a little sweep in proportion to what they wrote.
        self._sweep_every = max(1, max_bytes // 16)
        self._until_sweep = random.uniform(0, self._sweep_every)

    @property
    def enabled(self) -> bool:
        """Whether entries are read and written: a cap above 0 and a directory only this user can write."""
        if self._checked is None:
            reason = unsafe_reason(self.directory) if self.max_bytes > 0 else "GRAPHC_CACHE_MAX_MB is 0"
            self._checked = reason is None
            if reason is not None and self.max_bytes > 0 and self.directory not in _warned:
                _warned.add(self.directory)
                warnings.warn(
                    f"graphc does not use the object cache {self.directory}: {reason}, so others could make "
                    "graphc run their code. Compiled code is not cached; set GRAPHC_CACHE_DIR to a private "
                    "directory (or chmod o-w it).",
                    GraphcWarning,
                    stacklevel=4,
                )
        return self._checked

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def load(self, key: str) -> CacheEntry | None:
        """The entry for ``key``; None if absent, unreadable, corrupt or another key's (such a file is
        deleted). A hit marks the entry as recently used."""
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        entry = _decode(blob, key)
        if entry is None:
            self.discard(key)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used = oldest modification time
        return entry

    def store(self, key: str, entry: CacheEntry) -> bool:
        """Write ``entry`` atomically; False (and no temporary file left) if it could not be written."""
        if not self.enabled:
            return False
        blob = _encode(key, entry)
        tmp_name = None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                # No fsync: it cost ~10 ms per compile, and an entry torn by a power loss fails its checksum
                # and is rebuilt; os.replace alone keeps concurrent readers and writers safe.
                handle.write(blob)
            os.replace(tmp_name, self.path(key))  # atomic on POSIX and Windows; the last writer wins
        except OSError:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            return False
        with self._lock:
            self._until_sweep -= len(blob)
            due = self._until_sweep <= 0
            if due:
                self._until_sweep = self._sweep_every
        if due:
            self.sweep()
        return True

    def discard(self, key: str) -> None:
        """Delete the entry for ``key`` if present (another process may have deleted it first)."""
        with contextlib.suppress(OSError):
            self.path(key).unlink()

    def _scan(self) -> tuple[list[tuple[float, int, Path]], list[Path]]:
        """(mtime, size, path) of every entry, and the temporary files writers left behind."""
        entries, stale = [], []
        now = time.time()
        try:
            listing = list(os.scandir(self.directory))
        except OSError:
            return [], []
        for item in listing:
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue  # deleted meanwhile
            if item.name.endswith(SUFFIX):
                entries.append((info.st_mtime, info.st_size, Path(item.path)))
            elif item.name.endswith(".tmp") and now - info.st_mtime > _STALE_TEMP_SECONDS:
                stale.append(Path(item.path))
        return entries, stale

    def sweep(self) -> int:
        """Delete the least recently used entries while the total is over the cap (down to 3/4 of it), and
        temporary files of writers that died; returns how many entries were deleted. Safe while other
        processes read and write: a deleted entry is a miss for them."""
        entries, stale = self._scan()
        for path in stale:
            with contextlib.suppress(OSError):
                path.unlink()
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return 0
        deleted = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes * _EVICT_TO:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                deleted += 1
            total -= size
        return deleted

    def info(self) -> dict:
        """Location, number of entries, their total size and the cap (for ``python -m graphc cache``)."""
        entries, _ = self._scan()
        return {
            "directory": str(self.directory),
            "entries": len(entries),
            "bytes": sum(size for _, size, _ in entries),
            "max_bytes": self.max_bytes,
            "refused": None if self.max_bytes <= 0 else unsafe_reason(self.directory),
        }

    def clear(self) -> tuple[int, int]:
        """Delete every entry (and leftover temporary file); returns (entries deleted, bytes freed)."""
        entries, stale = self._scan()
        count = freed = 0
        for _, size, path in entries:
            with contextlib.suppress(OSError):
                path.unlink()
                count, freed = count + 1, freed + size
        for path in stale:
            with contextlib.suppress(OSError):
                path.unlink()
        return count, freed


_stores: dict[tuple[Path, int], ObjectCache] = {}


def default_store() -> ObjectCache:
    """The store for the current settings (one per directory and cap, so sweeps are counted per process)."""
    store = ObjectCache()
    return _stores.setdefault((store.directory, store.max_bytes), store)
