"""Calling loop kernels from the entry: which kernel a loop needs (rank, static strides, flat or not), its
pointer and size arguments, whether it may go to threads, and, for a kernel that checks the data, the test of
its failure flag after the call. Knows views and kernels, not graphs.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir

from graphc.ops import Op

from . import threads, views
from .kernel_failure import EXPLAIN_RECORD, EXPLAIN_TYPE
from .kernels import LoopSpec, const_instr, explain_name
from .scalar import I8, I64
from .sizes import Sizes
from .views import View, const

I8P = I8.as_pointer()


class LoopCalls:
    """Emits kernel calls into the body; each kernel is a unit of ``build`` (``units``), declared in
    ``module``."""

    def __init__(
        self, module: ir.Module, entry: ir.IRBuilder, body: ir.IRBuilder, sizes: Sizes, build, failures
    ):
        self.module, self.entry, self.body, self.sizes, self.build = module, entry, body, sizes, build
        self.failures = failures
        self._scratch: dict = {}  # (type, size class) -> entry alloca shared by all calls (run one by one)
        self._elements: dict = {}  # (id(array), k) -> &array[k], computed once

    def loop(self, instrs, inputs: list[View], outputs: list[tuple[int, View, Op | None]], shape, checks=()):
        """Run a scalar body over ``shape``: inputs broadcast; outputs (of that shape) stored or reduced.
        ``checks[k]``: the specs (``graphc.codegen.checks``) of instruction k's ``fail_if`` calls."""
        shape = tuple(shape)
        dims = [self.sizes.dim(d) for d in shape]
        inputs = [views.broadcast(v, shape, dims) for v in inputs]
        operands = inputs + [v for _, v, _ in outputs]
        flat = all((v.contig and v.shape == shape) or all(s == 0 for s in v.sstrides) for v in operands)
        flat = flat and all(red is None for _, _, red in outputs)
        if flat or not shape:
            rank, loop_dims = 1, [self.sizes.product(dims)]
            # flat: contiguous operands of the full shape walk with the index, the rest are broadcast scalars
            strides = [(1,) if shape and v.contig and v.shape == shape else (0,) for v in operands]
            runtime = []
        else:
            rank, loop_dims = len(shape), dims
            strides = [tuple(s if s is None or s in (0, 1) else None for s in v.sstrides) for v in operands]
            runtime = [
                v.strides[a]
                for v, st in zip(operands, strides, strict=True)
                for a in range(rank)
                if st[a] is None
            ]
        spec = LoopSpec(
            tuple(dtype_name(v.dtype) for v in inputs),
            tuple(instrs),
            tuple(vid for vid, _, _ in outputs),
            tuple(dtype_name(v.dtype) for _, v, _ in outputs),
            tuple(red for _, _, red in outputs),
            rank,
            tuple(strides),
            tuple(len(c) for c in checks) if any(checks) else (),
        )
        fn = self.build.kernel(spec, self.module)
        ptr_array = self._scratch_array(I8P, len(operands) + spec.checked)
        info = self._scratch_array(I64, rank + len(runtime))
        b = self.body
        for k, v in enumerate(operands):
            b.store(_as_i8p(b, v.ptr), self._element(ptr_array, k))
        if spec.checked:
            b.store(ir.Constant(I8, 0), self._flag())
            b.store(self._flag(), self._element(ptr_array, len(operands)))
        for k, value in enumerate(list(loop_dims) + runtime):
            b.store(value, self._element(info, k))
        outer = loop_dims[0]
        splittable = all(red is None or (v.sstrides and v.sstrides[0] != 0) for _, v, red in outputs)
        total = self.sizes.product(loop_dims)
        small = isinstance(total, ir.Constant) and total.constant * spec.cost < threads.PARALLEL_WORK
        if small or not splittable or spec.memory_bound:  # no thread machinery in the module at all
            b.call(fn, [ptr_array, info, const(0), outer])
        else:
            work = b.mul(total, const(spec.cost))
            b.call(threads.get_runner(self.module), [fn, ptr_array, info, outer, work, self.sizes.nthreads])
        if spec.checked:
            self._explain_failure(spec, fn, checks, ptr_array, info, outer)

    def _explain_failure(self, spec: LoopSpec, fn, checks, ptr_array, info, outer) -> None:
        """After a checked kernel: if its flag is set, find the failing element with its explain function,
        check by check in order, and leave through the entry's failure exit."""
        b = self.body
        name = explain_name(fn.name)
        explain = self.module.globals.get(name)
        if explain is None:
            explain = ir.Function(self.module, EXPLAIN_TYPE, name)
        record = self._scratch_array(I64, EXPLAIN_RECORD)
        with b.if_then(b.icmp_unsigned("!=", b.load(self._flag()), ir.Constant(I8, 0))):
            for c, (k, nth) in enumerate(spec.check_slots):
                found = b.call(explain, [ptr_array, info, outer, record, const(c)])
                value, bound, position = (b.load(self._element(record, j)) for j in range(3))
                bad = b.icmp_signed("!=", found, const(0))
                self.failures.fail_if(b, bad, checks[k][nth], value, bound, position)

    def _flag(self) -> ir.Value:
        """The byte checked kernels set when some element failed (one for the entry: kernels run in turn)."""
        if "flag" not in self._scratch:
            with self.entry.goto_entry_block():
                self._scratch["flag"] = self.entry.alloca(I8, name="kernel.failed")
        return self._scratch["flag"]

    def copy(self, src: View, dest: View) -> None:
        """dest[...] = src (broadcast to dest's shape, converted to dest's dtype)."""
        self.loop((), [src], [(0, dest, None)], dest.shape)

    def fill(self, dest: View, value) -> None:
        self.loop((const_instr(value, dest.dtype),), [], [(0, dest, None)], dest.shape)

    def _scratch_array(self, ty: ir.Type, count: int) -> ir.Value:
        """An entry-block array of at least ``count`` elements, shared by kernel calls of that size class."""
        size = 8 if count <= 8 else 64 if count <= 64 else count
        if (str(ty), size) not in self._scratch:
            with self.entry.goto_entry_block():
                self._scratch[str(ty), size] = self.entry.alloca(ty, size=const(size))
        return self._scratch[str(ty), size]

    def _element(self, array: ir.Value, k: int) -> ir.Value:
        """&array[k] for a scratch array, computed once in the entry block (kernel calls all store there)."""
        key = (id(array), k)
        if key not in self._elements:
            self._elements[key] = self.entry.gep(array, [const(k)])
        return self._elements[key]


@functools.lru_cache(maxsize=64)
def dtype_name(dtype: np.dtype) -> str:
    return dtype.name  # NumPy computes it anew each time, slowly


def _as_i8p(b: ir.IRBuilder, ptr: ir.Value) -> ir.Value:
    """``ptr`` as an i8*: the pointer it was cast from when it is a bitcast of one (arena slots are)."""
    if isinstance(ptr, ir.CastInstr) and ptr.opname == "bitcast" and ptr.operands[0].type == I8P:
        return ptr.operands[0]
    return ptr if ptr.type == I8P else b.bitcast(ptr, I8P)


__all__ = ["LoopCalls"]
