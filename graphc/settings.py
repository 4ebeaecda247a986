"""Process-wide settings, read once from the environment variables the README lists. Core layer.

- ``GRAPHC_CACHE_DIR``: where compiled code is cached (unset: ``$XDG_CACHE_HOME/graphc``, else
  ``~/.cache/graphc``, chosen by the object cache);
- ``GRAPHC_NUM_THREADS``: threads for native loops (unset: the CPUs this process may use);
- ``GRAPHC_CACHE_MAX_MB``: the object cache's size cap in MB (unset: 256; least recently used entries go
  first; 0 turns the on-disk cache off);
- ``GRAPHC_DUMP_IR``: a directory where each compiled module's IR, optimised IR and assembly are written;
- ``GRAPHC_CHECK_NUMERICS``: 1 to compile every function with check_numerics (gc.function's default).

They are read when graphc is imported. A program or a test that changes them afterwards calls `reload()`;
`read(environ)` gives the settings an environment would give:

    >>> import graphc.settings
    >>> graphc.settings.read({"GRAPHC_NUM_THREADS": "1"}).num_threads
    1
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GraphcError


@dataclass(frozen=True)
class Settings:
    cache_dir: Path | None  # None: the object cache's default location
    num_threads: int | None  # None: the CPUs this process may use
    dump_ir: Path | None  # None: nothing is dumped
    check_numerics: bool = False  # gc.function's default for check_numerics
    cache_max_mb: float | None = None  # None: the object cache's default cap


def read(environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings the environment `environ` gives (an empty variable counts as unset)."""
    threads = environ.get("GRAPHC_NUM_THREADS") or None
    if threads is not None:
        try:
            threads = max(1, int(threads))
        except ValueError:
            raise GraphcError(f"GRAPHC_NUM_THREADS must be a whole number, not {threads!r}") from None
    text = environ.get("GRAPHC_CACHE_MAX_MB") or None
    cap = None
    if text is not None:
        try:
            cap = float(text)
        except ValueError:
            cap = -1.0
        if not 0 <= cap < float("inf"):
            raise GraphcError(
                f"GRAPHC_CACHE_MAX_MB must be a number of MB (0 turns the cache off), not {text!r}"
            )
    numerics = (environ.get("GRAPHC_CHECK_NUMERICS") or "0").strip().lower()
    if numerics not in _SWITCH:
        raise GraphcError(f"GRAPHC_CHECK_NUMERICS must be 1 or 0, not {numerics!r}")
    return Settings(
        _path(environ, "GRAPHC_CACHE_DIR"),
        threads,
        _path(environ, "GRAPHC_DUMP_IR"),
        _SWITCH[numerics],
        cap,
    )


_SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    return Path(value) if value else None


_current = read()


def current() -> Settings:
    """The settings in force (one read of a module global: safe from any thread)."""
    return _current


def reload() -> Settings:
    """Read the environment again, for code that changed a GRAPHC_* variable after importing graphc."""
    global _current
    _current = read()
    return _current
