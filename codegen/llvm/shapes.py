"""Shape ops for the llvm backend: TRANSPOSE, BROADCAST_TO, RESHAPE and basic GETITEM return views of their
input (no copy); CONCATENATE copies into views of its output; SIZE. Knows views and ops, not graphs.
"""

from __future__ import annotations

from graphc.dims import Dim
from graphc.errors import ShapeError
from graphc.ops import Op

from . import views
from .scalar import convert, store_value
from .views import View, const


def _transpose(ctx, node, ins):
    return [views.transpose(ins[0], node.params["perm"])]


def _broadcast_to(ctx, node, ins):
    shape = node.outputs[0].type.shape
    return [views.broadcast(ins[0], shape, [ctx.dim(d) for d in shape])]


def _reshape(ctx, node, ins):
    """A view of contiguous data; anything else is copied, in C order, into the output first."""
    (x,), out = ins, node.outputs[0]
    if not x.contig:
        dest = ctx.out(out)
        ctx.copy(x, views.contiguous(ctx.entry, dest.ptr, x.dtype, x.shape, x.dims))
        x = dest
    shape = out.type.shape
    return [views.contiguous(ctx.entry, x.ptr, x.dtype, shape, [ctx.dim(d) for d in shape])]


def _getitem(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    eb = ctx.entry
    offset, axis, k = const(0), 0, 0
    dims, strides, sstrides = [], [], []
    # contiguous: ints, then at most one step-1 slice, then only full slices (new axes anywhere)
    contig, seen_slice = x.contig, False
    for item in node.params["index"]:
        if item[0] == "newaxis":
            dims.append(const(1))
            strides.append(const(0))
            sstrides.append(0)
            k += 1
            continue
        n, stride, sstride = x.dims[axis], x.strides[axis], x.sstrides[axis]
        if item[0] == "int":
            i = const(item[1])
            if item[1] < 0:
                i = eb.add(n, i)
            ctx.check(
                lambda b, i=i, n=n: b.and_(b.icmp_signed(">=", i, const(0)), b.icmp_signed("<", i, n)),
                IndexError,
                f"index {item[1]} is out of bounds for axis {axis} of the input to getitem",
            )
            offset = eb.add(offset, eb.mul(i, stride))
            contig = contig and not seen_slice
        else:
            start, step, length = _slice(ctx, x.shape[axis], n, *item[1:])
            want = ctx.dim(out.type.shape[k])
            ctx.check(
                lambda b, a=length, w=want: b.icmp_signed("==", a, w),
                ShapeError,
                f"slice {item[1]}:{item[2]}:{item[3]} of axis {axis} does not have the length its type says "
                f"({out.type.shape[k]}): the input is too short",
            )
            offset = eb.add(offset, eb.mul(start, stride))
            dims.append(want)
            strides.append(eb.mul(stride, const(step)) if step != 1 else stride)
            sstrides.append(sstride * step if sstride is not None else None)
            full = item[1:] == (None, None, None)
            contig = contig and (full or (not seen_slice and step == 1))
            seen_slice = True
            k += 1
        axis += 1
    ptr = ctx.b.gep(x.ptr, [offset])
    view = View(ptr, x.dtype, out.type.shape, tuple(dims), tuple(strides), tuple(sstrides), contig, None)
    if contig:
        view = views.contiguous(ctx.entry, ptr, x.dtype, out.type.shape, dims)
    return [view]


def _slice(ctx, static_dim, n, start, stop, step):
    """(start, step, length) of a slice as run-time values (Python's slice.indices semantics)."""
    step = 1 if step is None else step
    symbolic = isinstance(start, Dim) or isinstance(stop, Dim)
    if isinstance(static_dim, int) and not symbolic:
        r = range(static_dim)[slice(start, stop, step)]
        return const(r.start if len(r) else 0), r.step, const(len(r))
    eb = ctx.entry
    if step < 0:
        return _slice_down(eb, n, start, stop, step)

    def bound(v, default):
        if v is None:
            return default
        if isinstance(v, Dim):  # a size expression: a position from the start (type rules: step > 0)
            value = ctx.dim(v)
            return eb.select(eb.icmp_signed(">", value, n), n, value)
        if v < 0:
            value = eb.add(n, const(v))
            return eb.select(eb.icmp_signed("<", value, const(0)), const(0), value)
        return eb.select(eb.icmp_signed(">", const(v), n), n, const(v))

    lo, hi = bound(start, const(0)), bound(stop, n)
    span = eb.sub(hi, lo)
    length = eb.sdiv(eb.add(span, const(step - 1)), const(step))
    length = eb.select(eb.icmp_signed("<", length, const(0)), const(0), length)
    return lo, step, length


def _slice_down(eb, n, start, stop, step):
    """A negative-step slice of a run-time size: bounds clamped to [-1, n - 1] as Python does."""
    last = eb.sub(n, const(1))

    def bound(v, default):
        if v is None:
            return default
        value = eb.add(n, const(v)) if v < 0 else const(v)
        value = eb.select(eb.icmp_signed("<", value, const(-1)), const(-1), value)
        return eb.select(eb.icmp_signed(">", value, last), last, value)

    hi, lo = bound(start, last), bound(stop, const(-1))
    length = eb.sdiv(eb.add(eb.sub(hi, lo), const(-step - 1)), const(-step))
    length = eb.select(eb.icmp_signed("<", length, const(0)), const(0), length)
    return hi, step, length


def _concatenate(ctx, node, ins):
    out = node.outputs[0]
    axis = node.params["axis"]
    dest = ctx.out(out)
    start = const(0)
    for v in ins:
        ptr = ctx.b.gep(dest.ptr, [ctx.entry.mul(start, dest.strides[axis])])
        part = View(
            ptr,
            dest.dtype,
            v.shape,
            tuple(v.dims),
            dest.strides,
            dest.sstrides,
            axis == 0 or all(s == 1 for s in v.shape[:axis]),
            None,
        )
        ctx.copy(v, part)
        start = ctx.entry.add(start, v.dims[axis])
    return [dest]


def _size(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    dest = ctx.out(out)
    count = ctx.product([x.dims[a] for a in node.params["axis"]])
    store_value(ctx.b, convert(ctx.b, count, "int64", out.type.dtype), dest.ptr, out.type.dtype)
    return [dest]


RULES = {
    Op.TRANSPOSE: _transpose,
    Op.BROADCAST_TO: _broadcast_to,
    Op.RESHAPE: _reshape,
    Op.GETITEM: _getitem,
    Op.CONCATENATE: _concatenate,
    Op.SIZE: _size,
}
VIEWS = {Op.TRANSPOSE: "always", Op.BROADCAST_TO: "always", Op.GETITEM: "always", Op.RESHAPE: "maybe"}
"""Rules whose output is, or may be, a view of input 0: the memory plan keeps that input's storage alive for
as long as the view lives, and gives "always" views no storage of their own."""

__all__ = ["RULES", "VIEWS"]
