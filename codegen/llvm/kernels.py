"""Loop kernels: one LLVM function per `LoopSpec` (body, rank, dtypes, static strides). Knows op dtypes, not
graphs.

A kernel is ``void k(i8** ptrs, i64* info, i64 lo, i64 hi)``: it runs its scalar body (a graphc.kernel-style
list of `Instr`) at every point of a rank-r iteration space whose outermost index goes from ``lo`` to ``hi``.
``info`` holds the r sizes, then the strides that are not known statically. Strides that are 0 (broadcast) or
1 (contiguous) are constants in the IR, so the inner loop vectorises. Each instruction is emitted by its op's
row of the backend's table (``rules[op].scalar``, passed in), the same table the graph walk runs.
Each kernel is a module of its own, keyed by its spec alone, so it is cached once for every program that
has it (``units``).

A kernel may check the data (``s.fail_if`` in a scalar rule): ``kernel_failure`` documents that API; its
module then also holds the kernel's explain function (``explain_name``). Kernels without checks do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from graphc.kernel import Instr
from graphc.ops import TRANSCENDENTAL, Op

from . import loops, mathlib
from .kernel_failure import EXPLAIN_TYPE, PointChecks
from .scalar import I8, I64, Scalar, constant, convert, load_value, maximum, memory_type, minimum, store_value
from .scalar_rules import compute_dtype, rule_dtype
from .threads import KERNEL_TYPE

I8P = I8.as_pointer()


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
    checks: tuple[int, ...] = ()  # per instruction, its checks on the data (RUNTIME_CHECKS); () for none

    @property
    def checked(self) -> bool:
        """Some instruction checks the data: the kernel takes a failure flag and has an explain function."""
        return any(self.checks)

    @property
    def check_slots(self) -> list[tuple[int, int]]:
        """Local check c -> (instruction, the n-th check of that instruction): the explain function's c."""
        return [(k, nth) for k, count in enumerate(self.checks) for nth in range(count)]

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


def explain_name(kernel_name: str) -> str:
    """The symbol of a checked kernel's explain function (in the kernel's own module)."""
    return kernel_name + ".explain"


def emit_kernel(module: ir.Module, spec: LoopSpec, name: str, rules) -> ir.Function:
    """Emit the kernel for ``spec`` as the external function ``name`` of ``module`` (a module of its own:
    see ``units``), and its explain function if it checks the data; ``rules[op].scalar`` emits one element of
    ``op``. A kernel with more transcendental calls than ``mathlib.MAX_INLINE`` calls them out of line
    (``module.out_of_line_math`` lists them)."""
    if sum(ins.op in TRANSCENDENTAL for ins in spec.instrs) > mathlib.MAX_INLINE:
        module.out_of_line_math = set()
    fn = _emit_function(module, spec, name, rules, KERNEL_TYPE)
    if spec.checked:
        _emit_function(module, spec, explain_name(name), rules, EXPLAIN_TYPE)
    mathlib.keep_variants(module)
    return fn


def _emit_function(module: ir.Module, spec: LoopSpec, name: str, rules, fn_type) -> ir.Function:
    """The kernel (``fn_type`` KERNEL_TYPE) or its explain function (EXPLAIN_TYPE): a wrapper loading the
    operand pointers, around an always-inlined body with noalias arguments."""
    explain = fn_type is EXPLAIN_TYPE
    dtypes = list(spec.input_dtypes) + list(spec.out_dtypes)
    ptr_types = [memory_type(d).as_pointer() for d in dtypes]
    extra = list(fn_type.args[3:]) if explain else [I8P] if spec.checked else []  # (record, c) / the flag
    body = ir.Function(
        module,
        ir.FunctionType(fn_type.return_type, ptr_types + [I64.as_pointer(), I64, I64] + extra),
        name + ".body",
    )
    body.linkage = "internal"
    body.attributes.add("alwaysinline")
    for arg in body.args[: len(dtypes)]:
        arg.add_attribute("noalias")  # outputs are fresh buffers, never views of an input
    _emit_body(body, spec, rules, explain)

    fn = ir.Function(module, fn_type, name)
    fn.attributes.add("noinline")  # shared by many call sites: inlining each would multiply compile time
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ptrs, info, *rest = fn.args
    args = [b.bitcast(b.load(b.gep(ptrs, [ir.Constant(I64, k)])), t) for k, t in enumerate(ptr_types)]
    if explain:  # (ptrs, info, n, record, c): the whole range, once
        args += [info, ir.Constant(I64, 0), *rest]
    else:
        args += [info, *rest]
        if spec.checked:
            args.append(b.load(b.gep(ptrs, [ir.Constant(I64, len(dtypes))])))
    result = b.call(body, args)
    b.ret(result) if explain else b.ret_void()
    return fn


def _emit_body(fn: ir.Function, spec: LoopSpec, rules, explain: bool) -> None:
    n_ops = len(spec.input_dtypes) + len(spec.out_dtypes)
    ptrs, (info, lo, hi, *extra) = fn.args[:n_ops], fn.args[n_ops:]
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
    checks = PointChecks(b, spec, dims, explain, extra) if spec.checked else None
    offsets = [ir.Constant(I64, 0)] * n_ops
    managers, indices = [], []
    for level in range(spec.rank):
        manager = loops.for_range(
            b, hi if level == 0 else dims[level], start=lo if level == 0 else 0, name=f"i{level}"
        )
        managers.append(manager)
        index = manager.__enter__()
        indices.append(index)
        offsets = [_advance(b, off, index, row[level]) for off, row in zip(offsets, strides, strict=True)]
    if checks is not None:
        checks.indices = indices
    _emit_point(b, spec, rules, ptrs, offsets, checks)
    for manager in reversed(managers):
        manager.__exit__(None, None, None)
    if checks is None:
        b.ret_void()
    else:
        checks.finish()


def _advance(b: ir.IRBuilder, offset, index, stride):
    if isinstance(stride, int):
        if stride == 0:
            return offset
        term = index if stride == 1 else b.mul(index, ir.Constant(I64, stride))
    else:
        term = b.mul(index, stride)
    return b.add(offset, term)


def _emit_point(b: ir.IRBuilder, spec: LoopSpec, rules, ptrs, offsets, checks: PointChecks | None) -> None:
    n_in = len(spec.input_dtypes)
    values = [load_value(b, b.gep(ptrs[k], [offsets[k]]), d) for k, d in enumerate(spec.input_dtypes)]
    for k, ins in enumerate(spec.instrs):
        fail_if = checks.scalar_hook(k, ins) if checks is not None else None
        values.append(_emit_instr(b, spec, rules, ins, values, fail_if))
    if checks is not None and checks.explain:
        return  # explaining a failure stores nothing
    for k, (vid, dtype, red) in enumerate(zip(spec.outputs, spec.out_dtypes, spec.reduce_ops, strict=True)):
        ptr = b.gep(ptrs[n_in + k], [offsets[n_in + k]])
        value = convert(b, values[vid], spec.dtype_of(vid), dtype)
        if red is not None:
            value = combine(b, red, dtype, load_value(b, ptr, dtype), value)
        store_value(b, value, ptr, dtype)


def _emit_instr(b: ir.IRBuilder, spec: LoopSpec, rules, ins, values: list, fail_if=None):
    if ins.op is None:
        return constant(ins.dtype, ins.param_dict["value"])
    arg_dtypes = [np.dtype(spec.dtype_of(a)) for a in ins.args]
    if ins.op is Op.POW and np.dtype(ins.dtype).kind == "f" and _constant_value(spec, ins.args[1]) == 2:
        x = convert(b, values[ins.args[0]], arg_dtypes[0], ins.dtype)
        return b.fmul(x, x)  # x**2 is exactly x*x; avoids a libm call that would not vectorise
    targets = compute_dtype(ins.op, arg_dtypes, ins.dtype)
    args = [convert(b, values[a], d, t) for a, d, t in zip(ins.args, arg_dtypes, targets, strict=True)]
    scalar = Scalar(b, rule_dtype(ins.op, arg_dtypes, ins.dtype), fail_if)
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


__all__ = ["LoopSpec", "combine", "const_instr", "emit_kernel", "explain_name", "instr"]
