"""Cumulative scans (CUMSUM, CUMPROD, CUMMAX, CUMMIN, LOGCUMSUMEXP) and ARGSORT for the llvm backend. Knows
views and ops.

Both see their operand as (outer, n, inner) blocks around the axis (index.blocks). A scan runs along n with
the inner axis innermost (contiguous rows, vectorised), or, when inner is 1, with a running value in a
register. ARGSORT sorts (value, position) pairs with the C library's qsort: the positions make every key
distinct, so the order is stable whatever qsort does; NaN sorts last (first when descending), as in NumPy.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.ops import Op

from . import loops
from .index import blocks, helper
from .scalar import I8, I32, I64, Scalar, convert, load_value, maximum, memory_type, minimum, store_value
from .views import const

I8P = I8.as_pointer()


def _logaddexp(s: Scalar, x, y):
    """NumPy's npy_logaddexp: equal values (infinities too) give x + log 2, else max + log1p(exp(-|x-y|))."""
    b = s.b
    diff = b.fsub(x, y)
    positive = s.math("log1p", s.math("exp", b.fneg(diff)))
    negative = s.math("log1p", s.math("exp", diff))
    out = b.select(b.fcmp_ordered(">", diff, s.c(0)), b.fadd(x, positive), b.fadd(y, negative))
    out = b.select(b.fcmp_unordered("uno", diff, diff), diff, out)  # NaN (or inf - inf) stays NaN
    return b.select(b.fcmp_ordered("==", x, y), b.fadd(x, s.c(np.log(2.0))), out)


COMBINE = {
    Op.CUMSUM: lambda s, acc, x: s.b.fadd(acc, x) if s.float else s.b.add(acc, x),
    Op.CUMPROD: lambda s, acc, x: s.b.fmul(acc, x) if s.float else s.b.mul(acc, x),
    Op.CUMMAX: lambda s, acc, x: maximum(s, acc, x),  # np.maximum(acc, x): NaN stays, ties give x
    Op.CUMMIN: lambda s, acc, x: minimum(s, acc, x),
    Op.LOGCUMSUMEXP: _logaddexp,
}


def _scan_body(op: Op, src, dst, reverse: bool):
    def body(b, x, out, outer, n, inner):
        s = Scalar(b, dst)

        def at(ptr, dtype, o, k, i):
            return b.gep(ptr, [b.add(b.mul(b.add(b.mul(o, n), k), inner), i)])

        def read(o, k, i):
            return convert(b, load_value(b, at(x, src, o, k, i), src), src, dst)

        def step(t):  # the t-th entry scanned
            return b.sub(b.sub(n, const(1)), t) if reverse else t

        acc = b.alloca(s.ty)
        with loops.for_range(b, outer, name="o") as o:
            with b.if_else(b.icmp_signed("==", inner, const(1))) as (by_value, by_row):
                with by_value:  # one running value
                    with loops.for_range(b, n, name="t") as t:
                        k = step(t)
                        x_k = read(o, k, const(0))
                        first = b.icmp_signed("==", t, const(0))
                        value = b.select(first, x_k, COMBINE[op](s, b.load(acc), x_k))
                        b.store(value, acc)
                        store_value(b, value, at(out, dst, o, k, const(0)), dst)
                with by_row:  # whole rows: the inner axis is contiguous
                    with loops.for_range(b, n, name="t") as t:
                        k = step(t)
                        previous = b.add(k, const(1)) if reverse else b.sub(k, const(1))
                        first = b.icmp_signed("==", t, const(0))
                        with loops.for_range(b, inner) as i:
                            x_k = read(o, k, i)
                            before = load_value(b, at(out, dst, o, b.select(first, k, previous), i), dst)
                            value = b.select(first, x_k, COMBINE[op](s, before, x_k))
                            store_value(b, value, at(out, dst, o, k, i), dst)

    return body


def _scan(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    if not x.contig:
        copy = ctx.temp(x.dtype, x.shape)
        ctx.copy(x, copy)
        x = copy
    dest = ctx.out(out)
    src, dst, reverse = x.dtype, out.type.dtype, node.params["reverse"]
    name = f"graphc.{node.op.value}.{src.name}.{dst.name}{'.reverse' if reverse else ''}"
    args = [memory_type(src).as_pointer(), memory_type(dst).as_pointer(), I64, I64, I64]
    fn = helper(ctx.module, name, args, _scan_body(node.op, src, dst, reverse))
    ctx.b.call(fn, [x.ptr, dest.ptr, *blocks(ctx, x.shape, node.params["axis"])])
    return [dest]


# --- argsort ------------------------------------------------------------------------------------------------
def _pair(dtype) -> ir.LiteralStructType:
    return ir.LiteralStructType([memory_type(dtype), I64])  # 16 bytes for every dtype


def _compare_body(dtype, descending: bool):
    def body(b, pa, pb):
        """qsort's comparator of two (value, position) pairs: -1, 0 or 1."""
        pair = _pair(dtype).as_pointer()
        a, c = b.bitcast(pa, pair), b.bitcast(pb, pair)
        zero = ir.Constant(I32, 0)
        va, vc = (b.load(b.gep(p, [zero, zero])) for p in (a, c))
        ia, ic = (b.load(b.gep(p, [zero, ir.Constant(I32, 1)])) for p in (a, c))
        if dtype.kind == "f":
            nan_a, nan_c = b.fcmp_unordered("uno", va, va), b.fcmp_unordered("uno", vc, vc)
            less = b.or_(b.fcmp_ordered("<", va, vc), b.and_(nan_c, b.not_(nan_a)))  # NaN is the largest
            more = b.or_(b.fcmp_ordered(">", va, vc), b.and_(nan_a, b.not_(nan_c)))
        else:
            cmp = b.icmp_unsigned if dtype.kind == "b" else b.icmp_signed
            less, more = cmp("<", va, vc), cmp(">", va, vc)
        first, last = (more, less) if descending else (less, more)
        tie = b.select(b.icmp_signed("<", ia, ic), ir.Constant(I32, -1), ir.Constant(I32, 1))
        b.ret(b.select(first, ir.Constant(I32, -1), b.select(last, ir.Constant(I32, 1), tie)))

    return body


def _argsort_body(dtype, compare: ir.Function, qsort: ir.Function):
    def body(b, x, out, outer, n, inner, scratch):
        pairs = b.bitcast(scratch, _pair(dtype).as_pointer())
        zero, one = ir.Constant(I32, 0), ir.Constant(I32, 1)
        with loops.for_range(b, outer, name="o") as o:
            with loops.for_range(b, inner) as i:

                def flat(k):
                    return b.add(b.mul(b.add(b.mul(o, n), k), inner), i)

                with loops.for_range(b, n, name="k") as k:
                    b.store(b.load(b.gep(x, [flat(k)])), b.gep(pairs, [k, zero]))
                    b.store(k, b.gep(pairs, [k, one]))
                b.call(qsort, [scratch, n, const(16), compare])
                with loops.for_range(b, n, name="k") as k:
                    b.store(b.load(b.gep(pairs, [k, one])), b.gep(out, [flat(k)]))

    return body


def _argsort(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    dest = ctx.out(out)
    if x.ndim == 0:
        ctx.fill(dest, 0)
        return [dest]
    if not x.contig:
        copy = ctx.temp(x.dtype, x.shape)
        ctx.copy(x, copy)
        x = copy
    axis, descending, dtype = node.params["axis"], node.params["descending"], x.dtype
    order = "descending" if descending else "ascending"
    compare = helper(ctx.module, f"graphc.argsort.compare.{dtype.name}.{order}", [I8P, I8P],
                     _compare_body(dtype, descending), ret=I32)  # fmt: skip
    qsort = ctx.module.globals.get("qsort") or ir.Function(
        ctx.module, ir.FunctionType(ir.VoidType(), [I8P, I64, I64, compare.type]), "qsort"
    )
    args = [memory_type(dtype).as_pointer(), I64.as_pointer(), I64, I64, I64, I8P]
    body = _argsort_body(dtype, compare, qsort)
    fn = helper(ctx.module, f"graphc.argsort.{dtype.name}.{order}", args, body)
    scratch = ctx.temp(np.dtype("int64"), (x.shape[axis], 2))  # one (value, position) pair per entry
    ctx.b.call(fn, [x.ptr, dest.ptr, *blocks(ctx, x.shape, axis), ctx.b.bitcast(scratch.ptr, I8P)])
    return [dest]


RULES = {**{op: _scan for op in COMBINE}, Op.ARGSORT: _argsort}

__all__ = ["RULES"]
