"""The Python side of an llvm-compiled function: sizes, output allocation, one ctypes call. Knows no graph
ops.

Per call the generated ``run`` reads the named sizes, evaluates the few sizes that are not polynomials of
them, allocates the outputs with ``np.empty`` (fresh each call: the caller owns them; intermediates live in
the native arena), packs everything into one tuple and calls the native entry once. ctypes releases the GIL
for the call. The entry reads each array's data pointer from the tuple (CPython tuple and NumPy array layouts,
verified at import); inputs were already checked by ``gc.function`` (dtype, rank, sizes, C-contiguity), so
native code only sees valid memory.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

import numpy as np

from graphc import settings
from graphc.codegen.checks import first_too_big
from graphc.dims import sizes_in, to_python
from graphc.errors import BackendError

from . import jit
from .entry import ARRAY_DATA_OFFSET, ARRAY_DIMS_OFFSET, TUPLE_ITEMS_OFFSET
from .failure import RECORD
from .kernel_failure import NO_BOUND


def _layout_ok() -> bool:
    a, b = np.zeros(3), np.ones(2, np.int32)
    t = (a, b)
    items = [ctypes.c_void_p.from_address(id(t) + TUPLE_ITEMS_OFFSET + 8 * k).value for k in range(2)]
    if items != [id(a), id(b)]:
        return False
    for x in t:
        if ctypes.c_void_p.from_address(id(x) + ARRAY_DATA_OFFSET).value != x.ctypes.data:
            return False
        dims = ctypes.c_void_p.from_address(id(x) + ARRAY_DIMS_OFFSET).value
        if (ctypes.c_int64 * x.ndim).from_address(dims)[:] != list(x.shape):
            return False
    return True


LAYOUT_OK = _layout_ok()
_free = ctypes.CDLL(None).free  # the C library's: the entry malloc'd the failure record with its malloc
_free.argtypes, _free.restype = [ctypes.c_void_p], None


def num_threads() -> int:
    """GRAPHC_NUM_THREADS, else the CPUs this process may run on."""
    value = settings.current().num_threads
    if value:
        return max(1, int(value))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LlvmProgram:
    """``program.run(arrays, shared_values, sizes) -> (outputs, new_shared_values)``; ``source``: LLVM IR."""

    fresh_outputs = True  # every output is a new array the entry wrote: gc.function need not copy

    def __init__(self, fgraph, lowered):
        if not LAYOUT_OK:
            raise BackendError("the llvm backend does not support this Python/NumPy object layout")
        build = lowered.build
        self.library = build.link(lowered.module, ["graphc_entry", "graphc_nthreads"], lowered.optimise_main)
        self.units = list(build.units.values())  # main first, then kernels and math, each with its IR source
        self.units.insert(0, self.units.pop(list(build.units).index(build.main_key)))
        ctypes.c_int64.from_address(self.library.address("graphc_nthreads")).value = num_threads()
        argtypes = (ctypes.c_int64, ctypes.py_object, *([ctypes.c_int64] * len(lowered.entry.arg_exprs)))
        address = self.library.address("graphc_entry")
        # Large calls release the GIL (CFUNCTYPE); tiny ones keep it (PYFUNCTYPE), which is ~0.2 us cheaper.
        self._entry = ctypes.CFUNCTYPE(*argtypes)(address)
        self._entry_small = ctypes.PYFUNCTYPE(*argtypes)(address)
        self.memory_plan = lowered.plan
        self._llvm_ir: list[str] | None = None
        self._asm: str | None = None
        # run(arrays, shared_values, sizes) is the generated runner itself: no method frame per call
        # The runner holds the native code and the specs, not this program: no reference cycle.
        fail = functools.partial(_raise_failure, lowered.specs)
        self.run = _make_runner(fgraph, lowered, (self._entry, self._entry_small), fail, self.library)

    @property
    def compiled_units(self) -> int:
        """How many of this program's units (main, kernels, math) were compiled rather than loaded."""
        return sum(not unit.from_cache for unit in self.units)

    @property
    def source(self) -> str:
        """The LLVM IR given to LLVM: the main module, then each kernel and math unit."""
        return "\n".join(unit.source() for unit in self.units)

    @property
    def llvm_ir(self) -> str:
        """The optimised LLVM IR of every unit (units loaded from the cache are optimised again to show it;
        a big graph's main module as it was compiled, without optimisation)."""
        return "\n".join(self._compiled_ir())

    @property
    def asm(self) -> str:
        """Host assembly of the native code (units at -O3, a big graph's main module at -O0)."""
        if self._asm is None:
            pairs = zip(self._compiled_ir(), self.units, strict=True)
            self._asm = "\n".join(jit.assembly(text, 3 if unit.optimise else 0) for text, unit in pairs)
        return self._asm

    def _compiled_ir(self) -> list[str]:
        if self._llvm_ir is None:
            engine = jit.default_engine()
            self._llvm_ir = [
                unit.compile(engine, keep_ir=True)[0] if unit.optimise else unit.source()
                for unit in self.units
            ]
        return self._llvm_ir


def _raise_failure(specs: list, status: int):
    """Raise what a non-zero status says (see ``failure``): a code, or the address of a record to free."""
    if status < 0:
        raise specs[-status - 1].error(None, None, None)
    if status == 1:
        raise MemoryError("graphc llvm: could not allocate the intermediate buffers")
    check, value, bound, position = (ctypes.c_int64 * RECORD.count).from_address(status)[:]
    _free(status)
    raise specs[check].error(value, None if bound == NO_BOUND else bound, position)


def _too_big_output(roots, k: int, shape: tuple) -> None:
    """Raise `checks.too_big` for output ``k`` if NumPy could not allocate it for that reason."""
    error = first_too_big([roots[k]], dict(zip(roots[k].type.shape, shape, strict=True)))
    if error is not None:
        raise error


def _make_runner(fgraph, lowered, entry, fail, library):
    """Generate ``run(arrays, shared, sizes)`` for this program (no per-call loops or dict building)."""
    env: dict = {
        "ENTRY": entry[0],
        "SMALL": entry[1],
        "empty": np.empty,
        "fail": fail,
        "LIBRARY": library,  # the native code stays loaded while the runner lives
        "math": __import__("math"),
        "too_big": functools.partial(_too_big_output, fgraph.roots),
    }
    names = {}
    lines = []
    binding = lowered.entry.binding
    for k, sym in enumerate(_all_symbols(fgraph, lowered)):
        names[sym] = f"s{k}"
        if sym in binding:  # reading a shape is cheaper than a dict lookup
            pos, axis = binding[sym]
            lines.append(f"s{k} = arrays[{pos}].shape[{axis}]")
        else:
            env[f"S{k}"] = sym
            lines.append(f"s{k} = sizes[S{k}]")

    def py(d) -> str:
        if isinstance(d, int | np.integer):
            return str(int(d))
        return to_python(d, names.__getitem__)

    outs = []
    env["PREV"] = [None] * len(fgraph.roots)
    env["SPARE"] = [None] * len(fgraph.roots)
    env["refs"] = sys.getrefcount
    for k, var in enumerate(fgraph.roots):
        env[f"T{k}"] = var.type.dtype
        shape = ", ".join(py(d) for d in var.type.shape) + ("," if len(var.type.shape) == 1 else "")
        # Reuse the array of the last call, or of the one before (a shared variable's new value is held until
        # the next update replaces it; `loss = f(x)` holds the last loss during the call), when nobody else
        # references it (refcount: our slot or the local, and getrefcount's argument): no array handed out
        # is ever overwritten, and large outputs skip the page faults of fresh memory.
        lines.append(f"o{k} = PREV[{k}]")
        lines.append(f"if o{k} is None or refs(o{k}) != 3 or o{k}.shape != ({shape}):")
        lines.append(f"    o{k} = SPARE[{k}]")
        lines.append(f"    SPARE[{k}] = PREV[{k}]")
        lines.append(f"    if o{k} is None or refs(o{k}) != 2 or o{k}.shape != ({shape}):")
        lines.append("        try:")
        lines.append(f"            o{k} = empty(({shape}), T{k})")
        lines.append("        except (ValueError, OverflowError):")  # NumPy's "array is too big"
        lines.append(f"            too_big({k}, ({shape}))")
        lines.append("            raise")
        lines.append(f"    PREV[{k}] = o{k}")
        outs.append(f"o{k}")
    for k, c in enumerate(lowered.big_constants):
        env[f"C{k}"] = np.ascontiguousarray(c.value)
    consts = "".join(f"C{k}, " for k in range(len(lowered.big_constants)))
    extra = "".join(f", {py(expr)}" for expr in lowered.entry.arg_exprs)
    pack = f"(*arrays, *shared, {consts}{''.join(o + ', ' for o in outs)})"
    # Holding the GIL is harmless when every array is small: bound the element count of inputs and outputs.
    static = max((_static_size(v) for v in list(fgraph.inputs) + list(fgraph.roots)), default=1)
    scale = " * ".join(f"s{k}" for k in range(len(names))) or "1"
    if static <= SMALL_CALL:
        entry_name = "SMALL" if not names else f"(SMALL if {scale} * {static} <= {SMALL_CALL} else ENTRY)"
    else:
        entry_name = "ENTRY"
    lines.append(f"status = {entry_name}({pack}{extra})")
    lines.append("if status:\n        fail(status)")
    n_out = len(fgraph.outputs)
    lines.append(f"return [{', '.join(outs[:n_out])}], [{', '.join(outs[n_out:])}]")
    src = "def run(arrays, shared, sizes):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(src, "<graphc llvm runner>", "exec"), env)  # noqa: S102 - generated from our own types
    run = env["run"]
    run.source = src
    return run


SMALL_CALL = 1 << 14  # elements per array below which a call keeps the GIL


def _static_size(var) -> int:
    size = 1
    for d in var.type.shape:
        size *= d if isinstance(d, int) else 1
    return size


def _all_symbols(fgraph, lowered) -> list:
    found = list(lowered.symbols)
    for var in list(fgraph.inputs) + list(fgraph.roots):
        for s in sorted(var.type.symbols, key=str):
            if s not in found:
                found.append(s)
    for expr in lowered.derived:
        for s in sorted(sizes_in(expr), key=str):
            if s not in found:
                found.append(s)
    return found
