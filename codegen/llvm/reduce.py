"""Reductions for the llvm backend: ``run_kernel`` (one loop, outputs stored or accumulated), the SUM / MEAN /
MAX / MIN / PROD rules and ARGMAX. Knows views and ops, not graphs.
"""

from __future__ import annotations

import numpy as np

from graphc.ops import Op

from . import loops, views
from .kernels import instr
from .scalar import F64, I64, load_value, store_value
from .views import View, const


def run_kernel(ctx, instrs, ins, outs, shape, mean=False, empty_ok=False, checks=()) -> list[View]:
    """One loop over ``shape`` for all outputs; ``outs`` = (value id, destination, (op, axes, keepdims) |
    None); ``checks``: as for ``ctx.loop``.

    Reductions accumulate in place, in float64 for float32 sums (and for means, divided at the end). A max or
    min over an empty axis is an error unless ``empty_ok`` (the softmax family's shift: its identity, -inf,
    is what an empty axis should give there).
    """
    loop_outs, finals = [], []
    dims = [ctx.dim(d) for d in shape]
    for vid, dest, red in outs:
        if red is None:
            loop_outs.append((vid, dest, None))
            continue
        op, axes, keepdims = red
        acc_dtype = np.dtype("float64") if (op is Op.SUM and dest.dtype.kind == "f") or mean else dest.dtype
        acc = ctx.temp(acc_dtype, dest.shape) if (acc_dtype != dest.dtype or mean) else dest
        ctx.fill(acc, identity(op, acc_dtype))
        if op in (Op.MAX, Op.MIN) and not empty_ok:
            count = ctx.product([dims[a] for a in axes])
            ctx.check(
                lambda b, c=count: b.icmp_signed("!=", c, const(0)),
                ValueError,
                f"zero-size array to reduction operation {op.value} which has no identity",
            )
        spread = acc if keepdims else views.insert_axes(acc, axes)
        loop_outs.append((vid, views.broadcast(spread, shape, dims), op))
        if acc is not dest:
            finals.append((acc, dest, [dims[a] for a in axes]))
    ctx.loop(instrs, ins, loop_outs, shape, checks)
    for acc, dest, reduced in finals:
        if mean:
            count = ctx.b.sitofp(ctx.product(reduced), F64)
            cell = _scalar_cell(ctx, count)
            body = (instr(Op.DIV, (0, 1), "float64"),)
            ctx.loop(body, [acc, cell], [(2, dest, None)], dest.shape)
        else:
            ctx.copy(acc, dest)
    return [dest for _, dest, _ in outs]


def _scalar_cell(ctx, value) -> View:
    """A 0-d view holding a run-time scalar (e.g. the count a mean divides by)."""
    cell = ctx.entry_alloca(value.type)
    ctx.b.store(value, cell)
    return views.contiguous(ctx.entry, cell, "float64", (), ())


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


def axes_of(node, ndim):
    axis = node.params["axis"]
    return tuple(range(ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))


def _reduction(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    op = Op.SUM if node.op is Op.MEAN else node.op
    red = (op, axes_of(node, x.ndim), node.params["keepdims"])
    return run_kernel(ctx, (), ins, [(0, ctx.out(out), red)], x.shape, mean=node.op is Op.MEAN)


def _argmax(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    axis, b = node.params["axis"], ctx.b
    dest = ctx.out(out)
    reduced = list(range(x.ndim)) if axis is None else [axis]
    kept = [a for a in range(x.ndim) if a not in reduced]
    count = ctx.product([x.dims[a] for a in reduced])
    ctx.check(
        lambda cb: cb.icmp_signed("!=", count, const(0)),
        ValueError,
        "attempt to get argmax of an empty sequence",
    )
    if axis is None:
        out_strides = []
    else:
        out_strides = (
            [s for i, s in enumerate(dest.strides) if i != axis]
            if node.params["keepdims"]
            else list(dest.strides)
        )
    best_i, best = ctx.entry_alloca(I64), ctx.entry_alloca(x.ptr.type.pointee)
    # the flat position inside the reduced axes (what np.argmax returns): C-order strides of those axes
    linear_strides = [const(1)]
    for a in reversed(reduced[1:]):
        linear_strides.insert(0, ctx.entry.mul(linear_strides[0], x.dims[a]))
    with loops.loop_nest(b, [x.dims[a] for a in kept], name="o") as outer:
        b.store(const(-1), best_i)
        with loops.loop_nest(b, [x.dims[a] for a in reduced], name="r") as inner:
            index = {a: i for a, i in zip(kept, outer, strict=True)} | dict(zip(reduced, inner, strict=True))
            value = load_value(
                b, loops.strided_gep(b, x.ptr, [index[a] for a in range(x.ndim)], x.strides), x.dtype
            )
            linear = const(0)
            for i, stride in zip(inner, linear_strides, strict=True):
                linear = b.add(linear, b.mul(i, stride))
            best_value = load_value(b, best, x.dtype)
            first = b.icmp_signed("<", b.load(best_i), const(0))
            with b.if_then(b.or_(first, _argmax_better(b, x.dtype, value, best_value))):
                store_value(b, value, best, x.dtype)
                b.store(linear, best_i)
        b.store(b.load(best_i), loops.strided_gep(b, dest.ptr, outer, out_strides))
    return [dest]


def _argmax_better(b, dtype, value, best):
    """True where ``value`` replaces the running best: larger, or the first NaN (as NumPy)."""
    if dtype.kind == "f":
        larger = b.fcmp_ordered(">", value, best)
        first_nan = b.and_(b.fcmp_unordered("uno", value, value), b.fcmp_ordered("ord", best, best))
        return b.or_(larger, first_nan)
    if dtype.kind == "b":
        return b.icmp_unsigned(">", value, best)
    return b.icmp_signed(">", value, best)


RULES = {
    Op.SUM: _reduction,
    Op.MEAN: _reduction,
    Op.MAX: _reduction,
    Op.MIN: _reduction,
    Op.PROD: _reduction,
    Op.ARGMAX: _argmax,
}

__all__ = ["RULES", "axes_of", "identity", "run_kernel"]
