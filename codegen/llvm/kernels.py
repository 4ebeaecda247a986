"""Loop kernels: one LLVM function per `LoopSpec` (body, rank, dtypes, static strides). Knows op dtypes, not
graphs.

A kernel is ``void k(i8** ptrs, i64* info, i64 lo, i64 hi)``: it runs its scalar body (a graphc.kernel-style
list of `Instr`) at every point of a rank-r iteration space whose outermost index goes from ``lo`` to ``hi``.
``info`` holds the r sizes, then the strides that are not known statically. Strides that are 0 (broadcast) or
1 (contiguous) are constants in the IR, so the inner loop vectorises. Each instruction is emitted by its op's
row of the backend's table (``rules[op].scalar``, passed in), the same table the graph walk runs.
Each kernel is a module of its own, keyed by its spec alone, so it is cached once for every program that
has it (``units``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from graphc.kernel import Instr
from graphc.ops import TRANSCENDENTAL, Op

from . import loops, mathlib
from .scalar import I64, Scalar, constant, convert, load_value, maximum, memory_type, minimum, store_value
from .scalar_rules import compute_dtype, rule_dtype
from .threads import KERNEL_TYPE


def instr(op: Op, args, dtype, **params) -> Instr:
    """One instruction of a scalar body: ``op`` applied to earlier value ids ``args``."""
    return Instr(op, tuple(args), tuple(sorted(params.items())), np.dtype(dtype).name)


def const_instr(value, dtype) -> Instr:
    """A constant of a scalar body."""
    return Instr(None, (), (("value", value),), np.dtype(dtype).name)


@dataclass(frozen=True)
class LoopSpec:
    """Everything a kernel function is specialised on (sizes and non-unit strides are run-time values)."""

    input_dtypes: tuple[str, ...]
    instrs: tuple  # graphc.kernel.Instr
    outputs: tuple[int, ...]  # value ids stored
    out_dtypes: tuple[str, ...]  # dtype of each output buffer (the accumulator for reductions)
    reduce_ops: tuple[Op | None, ...]  # per output: SUM/PROD/MAX/MIN accumulate in place, None stores
    rank: int
    strides: tuple[tuple[int | None, ...], ...]  # per operand (inputs, then outputs), per dim: 0, 1 or None

    def dtype_of(self, value_id: int) -> str:
        n = len(self.input_dtypes)
        return self.input_dtypes[value_id] if value_id < n else self.instrs[value_id - n].dtype

    @property
    def cost(self) -> int:
        """Rough work per element, to decide when two threads pay off."""
        return 1 + len(self.instrs) + 8 * sum(ins.op in TRANSCENDENTAL for ins in self.instrs)

    @property
    def memory_bound(self) -> bool:
        """Little arithmetic per element loaded or stored: one core already moves memory as fast as two
        (an SGD update of a 784x512 matrix ran no faster on two threads, and 0.4 ms slower beside the BLAS
        worker that still spins on the other core after a matmul). Such loops never start threads."""
        return self.cost < 4 * (len(self.input_dtypes) + len(self.outputs))


def emit_kernel(module: ir.Module, spec: LoopSpec, name: str, rules) -> ir.Function:
    """Emit the kernel for ``spec`` as the external function ``name`` of ``module`` (a module of its own:
    see ``units``); ``rules[op].scalar`` emits one element of ``op``. A kernel with more transcendental calls
    than ``mathlib.MAX_INLINE`` calls them out of line (``module.out_of_line_math`` lists them)."""
    if sum(ins.op in TRANSCENDENTAL for ins in spec.instrs) > mathlib.MAX_INLINE:
        module.out_of_line_math = set()
    dtypes = list(spec.input_dtypes) + list(spec.out_dtypes)
    ptr_types = [memory_type(d).as_pointer() for d in dtypes]
    body = ir.Function(
        module, ir.FunctionType(ir.VoidType(), ptr_types + [I64.as_pointer(), I64, I64]), name + ".body"
    )
    body.linkage = "internal"
    body.attributes.add("alwaysinline")
    for arg in body.args[: len(dtypes)]:
        arg.add_attribute("noalias")  # outputs are fresh buffers, never views of an input
    _emit_body(body, spec, rules)

    fn = ir.Function(module, KERNEL_TYPE, name)
    fn.attributes.add("noinline")  # shared by many call sites: inlining each would multiply compile time
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ptrs, info, lo, hi = fn.args
    args = [b.bitcast(b.load(b.gep(ptrs, [ir.Constant(I64, k)])), t) for k, t in enumerate(ptr_types)]
    b.call(body, args + [info, lo, hi])
    b.ret_void()
    mathlib.keep_variants(module)
    return fn


def _emit_body(fn: ir.Function, spec: LoopSpec, rules) -> None:
    n_ops = len(spec.input_dtypes) + len(spec.out_dtypes)
    ptrs, (info, lo, hi) = fn.args[:n_ops], fn.args[n_ops:]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    dims = [b.load(b.gep(info, [ir.Constant(I64, k)])) for k in range(spec.rank)]
    slot = spec.rank
    strides: list[list] = []
    for op_strides in spec.strides:
        row = []
        for s in op_strides:
            if s is None:
                row.append(b.load(b.gep(info, [ir.Constant(I64, slot)])))
                slot += 1
            else:
                row.append(s)
        strides.append(row)
    offsets = [ir.Constant(I64, 0)] * n_ops
    managers = []
    for level in range(spec.rank):
        manager = loops.for_range(
            b, hi if level == 0 else dims[level], start=lo if level == 0 else 0, name=f"i{level}"
        )
        managers.append(manager)
        index = manager.__enter__()
        offsets = [_advance(b, off, index, row[level]) for off, row in zip(offsets, strides, strict=True)]
    _emit_point(b, spec, rules, ptrs, offsets)
    for manager in reversed(managers):
        manager.__exit__(None, None, None)
    b.ret_void()


def _advance(b: ir.IRBuilder, offset, index, stride):
    if isinstance(stride, int):
        if stride == 0:
            return offset
        term = index if stride == 1 else b.mul(index, ir.Constant(I64, stride))
    else:
        term = b.mul(index, stride)
    return b.add(offset, term)


def _emit_point(b: ir.IRBuilder, spec: LoopSpec, rules, ptrs, offsets) -> None:
    n_in = len(spec.input_dtypes)
    values = [load_value(b, b.gep(ptrs[k], [offsets[k]]), d) for k, d in enumerate(spec.input_dtypes)]
    for ins in spec.instrs:
        values.append(_emit_instr(b, spec, rules, ins, values))
    for k, (vid, dtype, red) in enumerate(zip(spec.outputs, spec.out_dtypes, spec.reduce_ops, strict=True)):
        ptr = b.gep(ptrs[n_in + k], [offsets[n_in + k]])
        value = convert(b, values[vid], spec.dtype_of(vid), dtype)
        if red is not None:
            value = combine(b, red, dtype, load_value(b, ptr, dtype), value)
        store_value(b, value, ptr, dtype)


def _emit_instr(b: ir.IRBuilder, spec: LoopSpec, rules, ins, values: list):
    if ins.op is None:
        return constant(ins.dtype, ins.param_dict["value"])
    arg_dtypes = [np.dtype(spec.dtype_of(a)) for a in ins.args]
    if ins.op is Op.POW and np.dtype(ins.dtype).kind == "f" and _constant_value(spec, ins.args[1]) == 2:
        x = convert(b, values[ins.args[0]], arg_dtypes[0], ins.dtype)
        return b.fmul(x, x)  # x**2 is exactly x*x; avoids a libm call that would not vectorise
    targets = compute_dtype(ins.op, arg_dtypes, ins.dtype)
    args = [convert(b, values[a], d, t) for a, d, t in zip(ins.args, arg_dtypes, targets, strict=True)]
    scalar = Scalar(b, rule_dtype(ins.op, arg_dtypes, ins.dtype))
    extra = {"fn": ins.param_dict["fn"]} if ins.op is Op.SCALAR_FN else {}
    return rules[ins.op].scalar(scalar, *args, **extra)


def _constant_value(spec: LoopSpec, vid: int):
    n_in = len(spec.input_dtypes)
    if vid < n_in or spec.instrs[vid - n_in].op is not None:
        return None
    return spec.instrs[vid - n_in].param_dict["value"]


def combine(b: ir.IRBuilder, op: Op, dtype, acc, value):
    """One step of a reduction. Sums and products may be reassociated (so they vectorise); NaN still wins."""
    s = Scalar(b, dtype)
    if op is Op.SUM:
        return b.fadd(acc, value, flags=("reassoc",)) if s.float else (b.or_ if s.bool else b.add)(acc, value)
    if op is Op.PROD:
        return (
            b.fmul(acc, value, flags=("reassoc",)) if s.float else (b.and_ if s.bool else b.mul)(acc, value)
        )
    if op is Op.MAX:
        return maximum(s, acc, value)
    if op is Op.MIN:
        return minimum(s, acc, value)
    raise NotImplementedError(f"llvm backend: no reduction {op}")


__all__ = ["LoopSpec", "combine", "const_instr", "emit_kernel", "instr"]
