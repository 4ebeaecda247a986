"""The llvm backend: ``compile_graph`` lowers a whole FunctionGraph into ONE native entry point and links it.
Imports only the core.

The entry ``i64 graphc_entry(PyObject* arrays_tuple, i64 size...)`` reads each array's data pointer (inputs,
shared values, large constants, then the output buffers Python allocated), computes every intermediate in a
single malloc'd arena laid out by the memory plan, and returns a status that Python turns into an exception
(see ``failure``). Kernels depend on rank, dtype and broadcast pattern only; sizes are run-time values, so a
new batch size never recompiles.

How the modules meet (the package docstring lists them by job): ``lower.lower`` plans memory
(``codegen.memory``), builds a ``context.LowerCtx`` (sizes, arena, failure, loopcall) and runs one LLVM_RULES
row per node; ``entry`` adds the CPython entry; ``runtime.LlvmProgram`` compiles (``jit``, ``cache``) and
generates the Python side of a call.
"""

from __future__ import annotations

from graphc.errors import BackendError

from .lower import lower


def compile_graph(fgraph, check_numerics: bool = False):
    """Lower, optimise (one module, one O3 run; cached on disk by IR + llvmlite version + CPU), link."""
    from .runtime import LlvmProgram

    lowered = lower(fgraph, check_numerics=check_numerics)
    try:
        return LlvmProgram(fgraph, lowered)
    except RuntimeError as exc:  # LLVM rejected our IR: a bug here, reported as such
        raise BackendError(f"llvm backend: internal error while compiling: {exc}") from exc


__all__ = ["compile_graph"]
