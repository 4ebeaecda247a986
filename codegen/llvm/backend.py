"""The llvm backend: ``compile_graph`` lowers a whole FunctionGraph into ONE native entry point and links it.
Imports only the core.

The entry ``i64 graphc_entry(PyObject* arrays_tuple, i64 size...)`` reads each array's data pointer (inputs,
shared values, large constants, then the output buffers Python allocated), computes every intermediate in a
single malloc'd arena laid out by the memory plan, and returns a status that Python turns into an exception
(see ``failure``). Kernels depend on rank, dtype and broadcast pattern only; sizes are run-time values, so a
new batch size never recompiles.

Modules, by job:

- ``lower``: LLVM_RULES and the walk;  ``context``: LowerCtx, what a rule may touch
- rules: ``elementwise`` (generated rows, FUSED), ``reduce``, ``softmax``, ``matmul``, ``shapes`` (views,
  slicing, concatenate), ``index`` (one_hot), ``rng``
- one element: ``scalar`` (dtypes, conversions), ``scalar_rules``, ``sympy_ir``, ``vecmath``
- loops: ``loopcall`` (kernel calls), ``kernels`` (kernel functions), ``threads`` (pthread dispatch),
  ``loops`` (IR loop helpers), ``views`` (strided views)
- the entry function: ``sizes`` (symbolic sizes), ``arena`` (memory), ``failure`` (checks, status),
  ``entry`` (CPython boundary, module split)
- linking and calling: ``runtime`` (LlvmProgram), ``jit``, ``cache``, ``blas``
"""

from __future__ import annotations

from graphc.errors import BackendError

from .lower import lower


def compile_graph(fgraph):
    """Lower, optimise (one module, one O3 run; cached on disk by IR + llvmlite version + CPU), link."""
    from .runtime import LlvmProgram

    lowered = lower(fgraph)
    try:
        return LlvmProgram(fgraph, lowered)
    except RuntimeError as exc:  # LLVM rejected our IR: a bug here, reported as such
        raise BackendError(f"llvm backend: internal error while compiling: {exc}") from exc


__all__ = ["compile_graph"]
