"""Persistence: graphs, compiled functions and parameters in a safe, versioned file format (docs/FORMAT.md).

Loading a file never runs code from it. The API (`save`, `load`, `save_params`, `load_params`) is also on
the facade (gc.save, ...). Modules: archive (the zip container), codecs (values, sympy trees), schema (each
op's params), graphs (graph -> JSON), reading (JSON -> graph, every field checked), document (what a file
holds; pickling), params (named arrays), checkpoint (gc.train's), api (the one that compiles). This
package imports its modules lazily, so graphc.compile can use graphc.io.document without an import cycle.
FORMAT_VERSION is the version of the format this graphc writes (and the newest it reads).

    >>> gc.io.FORMAT_VERSION
    1
"""

from __future__ import annotations

import importlib

_LAZY = {
    "save": "graphc.io.api",
    "load": "graphc.io.api",
    "save_params": "graphc.io.params",
    "load_params": "graphc.io.params",
    "FORMAT_VERSION": "graphc.io.graphs",
}

_MODULES = ("api", "archive", "checkpoint", "codecs", "document", "graphs", "params", "reading", "schema")

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"graphc.io.{name}")
    raise AttributeError(f"module 'graphc.io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
