"""On-disk cache of compiled object code: keys, atomic writes, corruption checks; knows nothing of graphs.

An entry is ``MAGIC | sha256(payload) | len(payload) | payload`` where the payload holds a small JSON header
(exported symbol names) and the object file. A bad magic, length or checksum means the entry is corrupt or
truncated: it is deleted and the code rebuilt, never trusted and never a crash. Writers write a private
temporary file in the cache directory and ``os.replace`` it into place, so concurrent writers of one key
(threads or processes) are safe: readers see a whole old entry, a whole new one, or none.

Example::

    lib = compile_cached(jit.default_engine(), ir_text, exports=["kernel"])   # compiles once, then reloads
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from graphc import settings

from . import jit

__all__ = [
    "FORMAT_VERSION",
    "CacheEntry",
    "ObjectCache",
    "cache_dir",
    "cache_key",
    "compile_cached",
    "compile_split",
]

FORMAT_VERSION = 1
MAGIC = b"GRAPHCO\x01"
_HEADER = struct.Struct("<8s32sQ")  # magic, sha256 of payload, payload length
_META_LEN = struct.Struct("<I")


def cache_dir() -> Path:
    """``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``."""
    explicit = settings.current().cache_dir
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "graphc"


def cache_key(source: str | bytes) -> str:
    """sha256 over the source (IR text or a caller's graph key), llvmlite version, host CPU and our format."""
    digest = hashlib.sha256()
    for part in (f"graphc-object-cache-v{FORMAT_VERSION}", jit.host_cpu_key()):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(source.encode() if isinstance(source, str) else source)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """What the cache stores for one key: object code and the symbols to export from it."""

    obj: bytes
    exports: tuple[str, ...]


def _encode(entry: CacheEntry) -> bytes:
    meta = json.dumps({"exports": list(entry.exports)}).encode()
    payload = _META_LEN.pack(len(meta)) + meta + entry.obj
    return _HEADER.pack(MAGIC, hashlib.sha256(payload).digest(), len(payload)) + payload


def _decode(blob: bytes) -> CacheEntry | None:
    """The entry in ``blob``, or None if anything about it is wrong."""
    if len(blob) < _HEADER.size:
        return None
    magic, checksum, length = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    if magic != MAGIC or length != len(payload) or hashlib.sha256(payload).digest() != checksum:
        return None
    try:
        (meta_len,) = _META_LEN.unpack_from(payload)
        meta = json.loads(payload[_META_LEN.size : _META_LEN.size + meta_len])
        exports = tuple(str(name) for name in meta["exports"])
    except (struct.error, ValueError, KeyError, TypeError):
        return None
    return CacheEntry(payload[_META_LEN.size + meta_len :], exports)


class ObjectCache:
    """A directory of cache entries named by key. I/O errors degrade to cache misses, never exceptions."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.o.cache"

    def load(self, key: str) -> CacheEntry | None:
        """The entry for ``key``; None if absent, unreadable, or corrupt (a corrupt file is deleted)."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        entry = _decode(blob)
        if entry is None:
            self.discard(key)
        return entry

    def store(self, key: str, entry: CacheEntry) -> bool:
        """Write ``entry`` atomically; returns False (and leaves no temporary file) if the write failed."""
        tmp_name = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                # No fsync: it cost ~10 ms per compile, and an entry torn by a power loss fails its checksum
                # and is rebuilt; os.replace alone keeps concurrent readers and writers safe.
                handle.write(_encode(entry))
            os.replace(tmp_name, self.path(key))  # atomic on POSIX and Windows; the last writer wins
            return True
        except OSError:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            return False

    def discard(self, key: str) -> None:
        """Delete the entry for ``key`` if present (another process may have deleted it first)."""
        with contextlib.suppress(OSError):
            self.path(key).unlink()


def compile_cached(
    engine: jit.JitEngine,
    ir_text: str | Callable[[], str],
    exports: Iterable[str],
    key: str | None = None,
    cache: ObjectCache | None = None,
    name: str = "module",
) -> jit.JitLibrary:
    """Link the module from the cache if present, else compile it and store its object code.

    ``key`` defaults to ``cache_key(ir_text)``. A caller with a cheaper stable description (a graph hash)
    passes ``key=cache_key(graph_hash)`` and a callable ``ir_text`` that builds the IR only on a miss.
    """
    exports = tuple(exports)
    cache = cache or ObjectCache()
    if key is None:
        if callable(ir_text):
            raise TypeError("compile_cached needs an explicit key when ir_text is a callable")
        key = cache_key(ir_text)
    entry = cache.load(key)
    if entry is not None and set(exports) <= set(entry.exports):
        try:
            return engine.add_object(entry.obj, exports, name=name)
        except RuntimeError:
            cache.discard(key)  # checksummed yet unlinkable (should not happen): rebuild below
    text = ir_text() if callable(ir_text) else ir_text
    opt_ir, obj = engine.optimize(text, name)
    cache.store(key, CacheEntry(obj, exports))
    return engine.add_object(obj, exports, name=name, llvm_ir=opt_ir)


def compile_split(
    engine: jit.JitEngine,
    ir_text: str,
    plain_text: Callable[[], str],
    exports: Iterable[str],
    cache: ObjectCache | None = None,
    name: str = "module",
) -> jit.JitLibrary:
    """One library from two modules, each cached on its own: ``ir_text`` optimised at -O3, and the module
    ``plain_text()`` returns compiled without optimisation (see ``JitEngine.optimize``).

    LLVM compiles the first in a worker thread while the caller's ``plain_text`` builds the second in Python:
    llvmlite releases the GIL inside LLVM.
    """
    exports = tuple(exports)
    cache = cache or ObjectCache()
    done: dict = {}

    def compile_first() -> None:
        try:
            done["first"] = _object(engine, cache, ir_text, name, optimise=True)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread below
            done["error"] = exc

    worker = threading.Thread(target=compile_first, name="graphc-llvm")
    worker.start()
    try:
        second = _object(engine, cache, plain_text(), f"{name}.entry", optimise=False)
    finally:
        worker.join()
    if "error" in done:
        raise done["error"]
    (obj, opt_ir, key), (plain_obj, plain_ir, plain_key) = done["first"], second
    try:
        return engine.add_object((obj, plain_obj), exports, name=name, llvm_ir=opt_ir)
    except RuntimeError:
        if opt_ir is not None and plain_ir is not None:
            raise  # both freshly compiled: a real error
        cache.discard(key)  # checksummed yet unlinkable (should not happen): rebuild without the cache
        cache.discard(plain_key)
        return compile_split(engine, ir_text, lambda: plain_ir or plain_text(), exports, cache, name)


def _object(
    engine: jit.JitEngine, cache: ObjectCache, ir_text: str, name: str, optimise: bool
) -> tuple[bytes, str | None, str]:
    """(object code, its IR or None when it came from the cache, cache key) of one module."""
    key = cache_key(ir_text if optimise else "plain\0" + ir_text)
    entry = cache.load(key)
    if entry is not None:
        return entry.obj, None, key
    out_ir, obj = engine.optimize(ir_text, name, optimise=optimise)
    cache.store(key, CacheEntry(obj, ()))
    return obj, out_ir, key
