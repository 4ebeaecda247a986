"""Loop kernels: one LLVM function per (body, rank, dtypes, static strides), plus the two-thread splitter.

A kernel is ``void k(i8** ptrs, i64* info, i64 lo, i64 hi)``: it runs its scalar body (a graphc.kernel-style
list of `Instr`) at every point of a rank-r iteration space whose outermost index goes from ``lo`` to ``hi``.
``info`` holds the r sizes, then the strides that are not known statically. Strides that are 0 (broadcast) or
1 (contiguous) are constants in the IR, so the inner loop vectorises. Knows op dtypes and scalar rules, not
graphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from graphc.ops import TRANSCENDENTAL, Op

from . import loops
from .scalar import (
    I8,
    I32,
    I64,
    SCALAR_RULES,
    Scalar,
    compute_dtype,
    constant,
    convert,
    load_value,
    maximum,
    memory_type,
    minimum,
    rule_dtype,
    store_value,
)

I8P = I8.as_pointer()
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), I64.as_pointer(), I64, I64])
MAX_THREADS = 16
PARALLEL_WORK = 1 << 21  # elements x cost above which a loop is split across threads (starting one costs
# ~20 us, and BLAS worker threads may still be spinning on the other core after a matmul)


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


def get_kernel(module: ir.Module, spec: LoopSpec, memo: dict) -> ir.Function:
    """The kernel function for ``spec`` in ``module``, emitted once (a 100-layer MLP reuses a few kernels)."""
    if spec not in memo:
        memo[spec] = _emit_kernel(module, spec, f"graphc.kernel.{len(memo)}")
    return memo[spec]


def _emit_kernel(module: ir.Module, spec: LoopSpec, name: str) -> ir.Function:
    dtypes = list(spec.input_dtypes) + list(spec.out_dtypes)
    ptr_types = [memory_type(d).as_pointer() for d in dtypes]
    body = ir.Function(
        module, ir.FunctionType(ir.VoidType(), ptr_types + [I64.as_pointer(), I64, I64]), name + ".body"
    )
    body.linkage = "internal"
    body.attributes.add("alwaysinline")
    for arg in body.args[: len(dtypes)]:
        arg.add_attribute("noalias")  # outputs are fresh buffers, never views of an input
    _emit_body(body, spec)

    fn = ir.Function(module, KERNEL_TYPE, name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # shared by many call sites: inlining each would multiply compile time
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ptrs, info, lo, hi = fn.args
    args = [b.bitcast(b.load(b.gep(ptrs, [ir.Constant(I64, k)])), t) for k, t in enumerate(ptr_types)]
    b.call(body, args + [info, lo, hi])
    b.ret_void()
    return fn


def _emit_body(fn: ir.Function, spec: LoopSpec) -> None:
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
    _emit_point(b, spec, ptrs, offsets)
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


def _emit_point(b: ir.IRBuilder, spec: LoopSpec, ptrs, offsets) -> None:
    n_in = len(spec.input_dtypes)
    values = [load_value(b, b.gep(ptrs[k], [offsets[k]]), d) for k, d in enumerate(spec.input_dtypes)]
    for ins in spec.instrs:
        values.append(_emit_instr(b, spec, ins, values))
    for k, (vid, dtype, red) in enumerate(zip(spec.outputs, spec.out_dtypes, spec.reduce_ops, strict=True)):
        ptr = b.gep(ptrs[n_in + k], [offsets[n_in + k]])
        value = convert(b, values[vid], spec.dtype_of(vid), dtype)
        if red is not None:
            value = combine(b, red, dtype, load_value(b, ptr, dtype), value)
        store_value(b, value, ptr, dtype)


def _emit_instr(b: ir.IRBuilder, spec: LoopSpec, ins, values: list):
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
    return SCALAR_RULES[ins.op](scalar, *args, **extra)


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


def identity(op: Op, dtype) -> float | int | bool:
    """The starting value of a reduction in ``dtype``."""
    dt = np.dtype(dtype)
    if op is Op.SUM:
        return 0
    if op is Op.PROD:
        return 1
    big = np.inf if dt.kind == "f" else (True if dt.kind == "b" else np.iinfo(dt).max)
    if op is Op.MIN:
        return big
    return -np.inf if dt.kind == "f" else (False if dt.kind == "b" else np.iinfo(dt).min)


# --- running a kernel on several threads
# ----------------------------------------------------------------------
def get_runner(module: ir.Module) -> ir.Function:
    """``void graphc.run(kernel, ptrs, info, n, work, nthreads)``: the kernel on [0, n), split across threads
    when ``work`` (elements x cost) is large enough to pay for starting them."""
    if "graphc.run" in module.globals:
        return module.globals["graphc.run"]
    par = get_parallel(module)
    i64p = I64.as_pointer()
    fn = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [KERNEL_TYPE.as_pointer(), I8P.as_pointer(), i64p, I64, I64, I64]),
        "graphc.run",
    )
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    kern, ptrs, info, n, work, nt = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    big = b.and_(
        b.icmp_signed(">=", work, ir.Constant(I64, PARALLEL_WORK)),
        b.icmp_signed(">", nt, ir.Constant(I64, 1)),
    )
    with b.if_else(big) as (then, otherwise):
        with then:
            b.call(par, [kern, ptrs, info, n, nt])
        with otherwise:
            b.call(kern, [ptrs, info, ir.Constant(I64, 0), n])
    b.ret_void()
    return fn


_CTX = ir.LiteralStructType([KERNEL_TYPE.as_pointer(), I8P.as_pointer(), I64.as_pointer(), I64, I64])


def get_parallel(module: ir.Module) -> ir.Function:
    """``void graphc.par(kernel, ptrs, info, n, nthreads)``: split [0, n) into chunks, one pthread each.

    The calling thread runs the first chunk. If a thread cannot be created its chunk runs inline, so a
    failure to start threads only costs speed.
    """
    if "graphc.par" in module.globals:
        return module.globals["graphc.par"]
    tramp = _trampoline(module)
    i64p = I64.as_pointer()
    create = ir.Function(module, ir.FunctionType(I32, [i64p, I8P, tramp.type, I8P]), "pthread_create")
    join = ir.Function(module, ir.FunctionType(I32, [I64, I8P.as_pointer()]), "pthread_join")
    fn = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [KERNEL_TYPE.as_pointer(), I8P.as_pointer(), i64p, I64, I64]),
        "graphc.par",
    )
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    kern, ptrs, info, n, nt = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    nt = b.select(b.icmp_signed(">", nt, ir.Constant(I64, MAX_THREADS)), ir.Constant(I64, MAX_THREADS), nt)
    nt = b.select(b.icmp_signed(">", nt, n), n, nt)
    nt = b.select(b.icmp_signed("<", nt, ir.Constant(I64, 1)), ir.Constant(I64, 1), nt)
    chunk = b.sdiv(b.add(n, b.sub(nt, ir.Constant(I64, 1))), nt)
    ctxs = b.alloca(_CTX, size=ir.Constant(I64, MAX_THREADS))
    tids = b.alloca(I64, size=ir.Constant(I64, MAX_THREADS))
    made = b.alloca(I8, size=ir.Constant(I64, MAX_THREADS))
    with loops.for_range(b, nt, start=1, name="t") as t:
        start = b.mul(t, chunk)
        stop = b.add(start, chunk)
        stop = b.select(b.icmp_signed(">", stop, n), n, stop)
        ctx = b.gep(ctxs, [t])
        for k, value in enumerate((kern, ptrs, info, start, stop)):
            b.store(value, b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
        rc = b.call(create, [b.gep(tids, [t]), ir.Constant(I8P, None), tramp, b.bitcast(ctx, I8P)])
        ok = b.icmp_signed("==", rc, ir.Constant(I32, 0))
        b.store(b.zext(ok, I8), b.gep(made, [t]))
        with b.if_then(b.not_(ok)):
            b.call(kern, [ptrs, info, start, stop])
    first = b.select(b.icmp_signed("<", chunk, n), chunk, n)
    b.call(kern, [ptrs, info, ir.Constant(I64, 0), first])
    with loops.for_range(b, nt, start=1, name="j") as t:
        with b.if_then(b.icmp_unsigned("!=", b.load(b.gep(made, [t])), ir.Constant(I8, 0))):
            b.call(join, [b.load(b.gep(tids, [t])), ir.Constant(I8P.as_pointer(), None)])
    b.ret_void()
    return fn


def _trampoline(module: ir.Module) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(I8P, [I8P]), "graphc.tramp")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = b.bitcast(fn.args[0], _CTX.as_pointer())
    fields = [b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)])) for k in range(5)]
    b.call(fields[0], fields[1:])
    b.ret(ir.Constant(I8P, None))
    return fn


__all__ = ["KERNEL_TYPE", "LoopSpec", "combine", "get_kernel", "get_parallel", "get_runner", "identity"]
