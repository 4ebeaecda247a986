"""Backends: turn an optimised FunctionGraph into a program. Imports only the graphc core.

A program is run as ``program.run(input_arrays, shared_values, sizes) -> (outputs, new_shared_values)`` where
``sizes`` maps each symbolic dimension to its call-time value; it never writes into ``shared_values``. It may
expose ``source`` (generated code) and ``memory_plan`` (``codegen.memory``: what it keeps, and where).
"""

from __future__ import annotations

import importlib

from graphc.errors import BackendError

BACKENDS = {
    "interp": "graphc.codegen.interp",
    "numpy": "graphc.codegen.numpy_backend",
    "llvm": "graphc.codegen.llvm.backend",
}


def compile_program(fgraph, backend: str, check_numerics: bool = False):
    """Lower `fgraph` with the named backend; an unknown name is a BackendError listing the known ones.
    With `check_numerics`, the program raises a NumericsError (graphc.codegen.checks.NumericsCheck) after
    the first node whose output has a NaN or an infinity its inputs lack; without it, the code is as if the
    option did not exist."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(map(repr, BACKENDS))}")
    try:
        module = importlib.import_module(BACKENDS[backend])
    except ImportError as exc:
        raise BackendError(f"the {backend!r} backend cannot be loaded here: {exc}") from exc
    return module.compile_graph(fgraph, check_numerics) if check_numerics else module.compile_graph(fgraph)
