"""The VJPs of the indexing ops (GETITEM, CONCATENATE, the gathers and scatter-adds): each input's gradient
is its part of g, scattered back into zeros of the input's shape. Rows of VJP_RULES (passes/vjp_rules.py);
imports only the graphc core.
"""

from __future__ import annotations

import numpy as np

from graphc.dims import Dim
from graphc.graph import Constant, Variable, apply
from graphc.ops import Op
from graphc.tensor import broadcast_to, concatenate, getitem, reshape
from graphc.types import is_static


def zeros(shape, dtype) -> Variable:
    return broadcast_to(Constant(np.zeros((), dtype)), shape)


def _slice_positions(dim, item, count):
    """(first position, step, count) of the entries an index item selects along an axis of size `dim`;
    `count` is the selection's size in the result's type (sizes and bounds may be size expressions)."""
    if item[0] == "int":
        return (item[1] + dim if item[1] < 0 else item[1]), 1, 1
    start, stop, step = item[1:]
    step = 1 if step is None else step
    if isinstance(dim, int) and isinstance(count, int) and not isinstance(start, Dim):
        r = range(dim)[slice(start, stop, step)]
        return (r.start, r.step, len(r)) if len(r) else (0, 1, 0)
    if start is None:
        return (0 if step > 0 else dim - 1), step, count
    return (dim + start if isinstance(start, int) and start < 0 else start), step, count


def getitem_vjp(g, out, x, index):
    """Scatter g back into zeros of x's shape: undo new axes and ints, then pad each sliced axis."""
    g_dims, shape = iter(g.type.shape), []  # g's shape with new axes dropped and int-indexed axes back as 1
    for item in index:
        if item[0] == "newaxis":
            next(g_dims)
        elif item[0] == "int":
            shape.append(1)
        else:
            shape.append(next(g_dims))
    g = reshape(g, tuple(shape))
    real = [item for item in index if item[0] != "newaxis"]
    for axis, (item, dim) in enumerate(zip(real, x.type.shape, strict=True)):
        if item == ("slice", None, None, None):
            continue
        first, step, n = _slice_positions(dim, item, g.type.shape[axis])
        if n == 0:
            return (zeros(x.type.shape, g.type.dtype),)
        if step < 0:  # the selection runs backwards: reverse it, then it starts at its lowest position
            g = getitem(g, (slice(None),) * axis + (slice(None, None, -1),))
            first, step = first + (n - 1) * step, -step
        if step > 1:  # interleave step-1 zeros after each selected entry, then drop the trailing ones
            shape = g.type.shape
            g = reshape(g, shape[: axis + 1] + (1,) + shape[axis + 1 :])
            gap = zeros(shape[: axis + 1] + (step - 1,) + shape[axis + 1 :], g.type.dtype)
            g = reshape(concatenate([g, gap], axis=axis + 1), shape[:axis] + (n * step,) + shape[axis + 1 :])
            g = getitem(g, (slice(None),) * axis + (slice(0, (n - 1) * step + 1),))
        g = pad(g, axis, first, dim - first - ((n - 1) * step + 1))
    return (g,)


def pad(g: Variable, axis: int, before, after) -> Variable:
    """Zeros before and after g along `axis` (sizes may be symbolic)."""
    parts = []
    for width, part in ((before, None), (0, g), (after, None)):
        if part is not None:
            parts.append(part)
        elif width != 0:
            shape = g.type.shape[:axis] + (width,) + g.type.shape[axis + 1 :]
            parts.append(zeros(shape, g.type.dtype))
    return concatenate(parts, axis=axis)


def concatenate_vjp(g, out, *xs, axis):
    """Each input gets its slice of g; a slice bound is counted from whichever end has only static sizes."""
    sizes = [x.type.shape[axis] for x in xs]
    grads = []
    for i in range(len(xs)):
        start = _offset(sizes[:i], sizes[i:])
        stop = _offset(sizes[: i + 1], sizes[i + 1 :])
        grads.append(getitem(g, (slice(None),) * axis + (slice(start, stop),)))
    return tuple(grads)


def _offset(before, after):
    """A slice bound between the pieces `before` and `after`: an int where one side is static, else the
    size expression of the pieces before (a position known at call time)."""
    if is_static(before):
        return sum(before)
    if is_static(after):
        return -sum(after) if sum(after) else None
    return sum(before)


# --- gathers and scatter-adds: each the other's transpose ---------------------------------------------------
def gather_vjp(g, out, x, indices, axis):
    """take's gradient: g added back at the rows it was read from (repeated indices add up)."""
    return apply(Op.SCATTER_ADD, (zeros(x.type.shape, g.type.dtype), indices, g), axis=axis), None


def gather_along_vjp(g, out, x, indices, axis):
    return apply(Op.SCATTER_ADD_ALONG, (zeros(x.type.shape, g.type.dtype), indices, g), axis=axis), None


GATHER_RULES = {
    Op.GATHER: gather_vjp,
    Op.SCATTER_ADD: lambda g, out, a, indices, updates, axis: (
        g,
        None,
        apply(Op.GATHER, (g, indices), axis=axis),  # each update reads back the gradient where it went
    ),
    Op.GATHER_ALONG: gather_along_vjp,
    Op.SCATTER_ADD_ALONG: lambda g, out, a, indices, updates, axis: (
        g,
        None,
        apply(Op.GATHER_ALONG, (g, indices), axis=axis),
    ),
}
"""VJP_RULES rows of the gathers and scatter-adds."""
