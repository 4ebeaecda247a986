"""The graphc file container: a zip of ``graphc.json`` and ``arrays/<k>.npy``, written atomically and read
without trusting any name, size or header in it. Knows no graphs.

Every member is stored uncompressed, so no declared size can exceed the file itself (a zip bomb is refused
before anything is read); names must be exactly those two patterns (no paths, no ``..``, no duplicates);
arrays are read with NumPy's header parser (``ast.literal_eval``, never pickle) and must match the type the
JSON declares for them, dtype, shape and byte count, before their data is read.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from graphc.errors import FormatError

DOCUMENT = "graphc.json"
_ARRAY = re.compile(r"arrays/(0|[1-9][0-9]{0,8})\.npy\Z")
MAX_DOCUMENT_BYTES = 256 << 20  # a 100,000-node graph is a few MB of JSON
_MAX_NPY_HEADER = 1 << 16
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same content gives the same bytes


def fail(message: str) -> FormatError:
    """The error for a file graphc will not read (raise it): says what is wrong, in the file's terms."""
    return FormatError(f"not a valid graphc file: {message}")


# --- writing ------------------------------------------------------------------------------------------------
def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def write_to(f: BinaryIO, document: dict, arrays: Sequence[np.ndarray]) -> None:
    """The container into an open binary file: the document, then each array as arrays/<k>.npy."""
    text = json.dumps(document, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_member(DOCUMENT), text.encode("utf-8"))
        for k, array in enumerate(arrays):
            with zf.open(_member(f"arrays/{k}.npy"), "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asarray(array, order="C"), allow_pickle=False)


def to_bytes(document: dict, arrays: Sequence[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    write_to(buffer, document, arrays)
    return buffer.getvalue()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write through `write` to a temporary file beside `path`, fsync it, rename it over `path`, fsync the
    folder: a reader (or a process killed mid-write) sees the old file or the new one, never a part."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself is durable only once the folder is synced
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


# --- reading ------------------------------------------------------------------------------------------------
class Archive:
    """An open graphc file: `document` (the parsed JSON) and `array(k, dtype, shape)`, each array checked
    against its declared type before its data is read. Use as a context manager."""

    def __init__(self, source: str | os.PathLike | bytes, what: str = "file"):
        self.what = what
        self._file = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")  # noqa: SIM115
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> None:
        head = self._file.read(4)
        if head != b"PK\x03\x04":
            raise fail(f"this {self.what} is {_sniff(head)}, not a graphc file (a zip archive)")
        size = self._file.seek(0, os.SEEK_END)
        try:
            self._zip = zipfile.ZipFile(self._file)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise fail(f"the {self.what} is damaged or truncated ({exc})") from None
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise fail("the archive lists a member twice")
        for info in infos:
            if info.filename != info.orig_filename or not (
                info.filename == DOCUMENT or _ARRAY.match(info.filename)
            ):
                raise fail(
                    f"unexpected member {info.orig_filename!r} "
                    f"(a graphc file holds {DOCUMENT} and arrays/<k>.npy)"
                )
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise fail(
                    f"member {info.filename!r} is compressed or encrypted; graphc stores members as they are"
                )
            if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
                raise fail(
                    f"member {info.filename!r} declares {info.file_size} bytes, more than the {size}-byte "
                    "file holds (a zip bomb or a truncated file)"
                )
        self._infos = {i.filename: i for i in infos}
        self._read: set[str] = set()
        self.document = self._read_document()

    def _read_document(self) -> dict:
        info = self._infos.get(DOCUMENT)
        if info is None:
            raise fail(f"the archive has no {DOCUMENT}")
        if info.file_size > MAX_DOCUMENT_BYTES:
            raise fail(f"{DOCUMENT} is {info.file_size} bytes (the limit is {MAX_DOCUMENT_BYTES})")
        try:
            text = self._zip.read(info).decode("utf-8")
            document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise fail(f"the {self.what} is damaged or truncated ({exc})") from None
        except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, absurd numbers, absurd nesting
            raise fail(f"{DOCUMENT} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
        if type(document) is not dict:
            raise fail(f"{DOCUMENT} must hold a JSON object")
        return document

    def array(self, index, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        """Array `index`, which the document declares as `dtype` of `shape`; anything else is refused."""
        name = f"arrays/{index}.npy"
        if type(index) is not int or name not in self._infos:
            raise fail(f"the array {index!r} is not in the archive")
        if name in self._read:
            raise fail(f"the array {index} is used twice")
        self._read.add(name)
        info = self._infos[name]
        nbytes = dtype.itemsize * math.prod(shape)
        if not nbytes <= info.file_size <= nbytes + _MAX_NPY_HEADER:
            raise fail(
                f"{name} holds {info.file_size} bytes, but its declared type {dtype.name}{shape} "
                f"needs {nbytes}"
            )
        try:
            with self._zip.open(info) as f:
                return _read_npy(f, name, dtype, shape, nbytes)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise fail(f"the {self.what} is damaged or truncated ({exc})") from None

    def check_all_read(self) -> None:
        unread = sorted(set(self._infos) - self._read - {DOCUMENT})
        if unread:
            raise fail(f"the archive holds arrays nothing refers to: {', '.join(unread[:5])}")

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self._zip.close()
        self._file.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_npy(f, name: str, dtype: np.dtype, shape: tuple[int, ...], nbytes: int) -> np.ndarray:
    try:
        version = np.lib.format.read_magic(f)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise ValueError(f"npy version {version}")
        got_shape, fortran, got_dtype = reader[version](f)
    except ValueError as exc:
        raise fail(f"{name} has no valid .npy header ({exc})") from None
    if got_dtype != dtype or fortran or tuple(got_shape) != tuple(shape):
        order = "Fortran-order " if fortran else ""
        raise fail(
            f"{name} holds {order}{got_dtype.str}{tuple(got_shape)} but the graph declares "
            f"{dtype.name}{tuple(shape)}"
        )
    out = np.empty(shape, dtype)
    view, done = memoryview(out.reshape(-1).view(np.uint8)), 0
    while done < nbytes:
        n = f.readinto(view[done:])
        if not n:
            raise fail(f"{name} ends after {done} of {nbytes} bytes")
        done += n
    if f.read(1):
        raise fail(f"{name} has bytes after its data")
    return out if dtype.kind != "b" else out.view(np.uint8) != 0  # a bool is 0 or 1, whatever the byte was


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        raise ValueError(f"a JSON object repeats the key {next(k for k in keys if keys.count(k) > 1)!r}")
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON (graphc writes {{'float': 'nan'}})")


def _sniff(head: bytes) -> str:
    if not head:
        return "empty"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"]", b"}"):
        return "a Python pickle (graphc never reads pickles: they run code)"
    if head.startswith(b"\x93NUM"):
        return "a bare .npy array"
    if head[:1] in (b"{", b"["):
        return "bare JSON"
    return f"something else (it starts with {head!r})"
