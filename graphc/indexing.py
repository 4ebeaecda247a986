"""Builders of the data-dependent ops: gathers (gc.take, gc.take_along_axis, gc.nn.embedding) and their
transposes (gc.scatter_add, gc.scatter_add_along_axis), cumulative scans (gc.cumsum, ...), sorting
(gc.sort, gc.argsort, gc.topk). Core layer. NumPy's names and semantics.

Indices wrap as in NumPy (-1 is the last entry). An index outside [-size, size) is an IndexOutOfRange error
at call time on every backend, naming the input, the axis, the bad index and the size (or a ShapeError when
the node is built, for constant indices).

    >>> import numpy as np, graphc as gc
    >>> table, ids = gc.matrix("table", (5, 3)), gc.vector("ids", dtype="int64")
    >>> rows = gc.take(table, ids, axis=0)            # (n, 3): table[ids]
    >>> (g,) = gc.grad(rows.sum(), [table])           # scatter_add of ones at ids
    >>> f = gc.function([table, ids], [rows, g])
    >>> f(np.eye(5, 3), np.array([1, -1, 1]))[1][:, 0]
    array([0., 2., 0., 0., 1.])
"""

from __future__ import annotations

import numpy as np

from .errors import DTypeError, ShapeError
from .graph import Variable, apply, as_variable
from .operators import normalize_axes
from .ops import Op, describe
from .origin import here
from .tensor import broadcast_to
from .types import broadcast_shapes


def _axis(x: Variable, axis: int, what: str) -> int:
    """`axis` as a non-negative axis of x (a 0-d x has axis 0, as for NumPy's reductions)."""
    if x.type.ndim == 0 and axis not in (0, -1):
        raise ShapeError(f"{what}: axis {axis} is out of range for {describe(x)}{here()}")
    return normalize_axes(x, axis, what)[0] if x.type.ndim else 0


def _flat_or(x: Variable, axis, what: str) -> tuple[Variable, int]:
    """(x, axis) with axis=None meaning the flattened x, as in NumPy."""
    if axis is None:
        return x.reshape(-1), 0
    return x, _axis(x, axis, what)


def _indices(indices, what: str) -> Variable:
    indices = as_variable(indices)
    if indices.type.dtype.kind not in "iu":
        raise DTypeError(f"{what}: indices must be integers, got {describe(indices)}{here()}")
    return indices


# --- gathers and scatter-adds -------------------------------------------------------------------------------
def take(x, indices, axis: int | None = None) -> Variable:
    """np.take: the entries of x at `indices` along `axis` (x flattened when None). The result has x's
    axis replaced by the indices' axes: take(table (V, d), ids (b, t), axis=0) is (b, t, d).

        >>> import numpy as np, graphc as gc
        >>> ids = gc.vector("ids", dtype="int64")
        >>> gc.function([ids], gc.take(np.array([10.0, 20.0, 30.0]), ids))(np.array([2, 0, -1]))
        array([30., 10., 30.])
    """
    x, axis = _flat_or(as_variable(x), axis, "take")
    if x.type.ndim == 0:
        raise ShapeError(f"take: cannot index the 0-d {describe(x)}; use axis=None{here()}")
    return apply(Op.GATHER, (x, _indices(indices, "take")), axis=axis)


def scatter_add(a, indices, updates, axis: int = 0) -> Variable:
    """np.add.at(a, indices, updates) along `axis`, as a new value: a copy of `a` where each update is added
    at its index (repeated indices add up). `updates` broadcasts to a.shape[:axis] + indices.shape +
    a.shape[axis+1:]. The transpose of gc.take (each is the other's gradient).

        >>> import numpy as np, graphc as gc
        >>> ids = gc.vector("ids", dtype="int64")
        >>> gc.function([ids], gc.scatter_add(np.zeros(3), ids, 1.0))(np.array([0, 2, 2, -1]))
        array([1., 0., 3.])
    """
    a = as_variable(a)
    axis = _axis(a, axis, "scatter_add")
    indices = _indices(indices, "scatter_add")
    shape = a.type.shape[:axis] + indices.type.shape + a.type.shape[axis + 1 :]
    return apply(Op.SCATTER_ADD, (a, indices, _updates(a, updates, shape, "scatter_add")), axis=axis)


def take_along_axis(x, indices, axis: int | None) -> Variable:
    """np.take_along_axis: out[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis`; `indices` has
    x's rank and broadcasts against x on the other axes (both flattened when axis is None). The
    gather of sort, top-k and cummax.

        >>> import numpy as np, graphc as gc
        >>> x, i = gc.matrix("x", ("n", 2)), gc.matrix("i", ("n", 1), dtype="int64")
        >>> f = gc.function([x, i], gc.take_along_axis(x, i, axis=1))
        >>> f(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1], [0]]))
        array([[2.],
               [3.]])
    """
    x, indices = as_variable(x), _indices(indices, "take_along_axis")
    if axis is None:
        x, indices, axis = x.reshape(-1), indices.reshape(-1), 0
    if x.type.ndim != indices.type.ndim or x.type.ndim == 0:
        raise ShapeError(
            f"take_along_axis: indices {describe(indices)} must have the rank of {describe(x)} (at least 1)"
            f"{here()}"
        )
    axis = _axis(x, axis, "take_along_axis")
    x, indices = _broadcast_except(axis, x, indices)
    return apply(Op.GATHER_ALONG, (x, indices), axis=axis)


def scatter_add_along_axis(a, indices, updates, axis: int) -> Variable:
    """The transpose of take_along_axis (torch's scatter_add): a copy of `a` with
    out[..., indices[..., j, ...], ...] += updates[..., j, ...] along `axis`. `indices` and `updates`
    broadcast against each other, and against `a` on the other axes.

        >>> import numpy as np, graphc as gc
        >>> i = gc.matrix("i", (1, "k"), dtype="int64")
        >>> gc.function([i], gc.scatter_add_along_axis(np.zeros((1, 3)), i, 1.0, axis=1))([[0, 2, 2]])
        array([[1., 0., 2.]])
    """
    a, indices = as_variable(a), _indices(indices, "scatter_add_along_axis")
    if indices.type.ndim != a.type.ndim or a.type.ndim == 0:
        raise ShapeError(
            f"scatter_add_along_axis: indices {describe(indices)} must have the rank of {describe(a)}{here()}"
        )
    axis = _axis(a, axis, "scatter_add_along_axis")
    updates = as_variable(updates, like=a)
    shape = broadcast_shapes(indices.type.shape, updates.type.shape, what=f"indices and updates of {a.name}")
    shape = tuple(
        d if i == axis else broadcast_shapes((a.type.shape[i],), (d,))[0] for i, d in enumerate(shape)
    )
    indices = broadcast_to(indices, shape)
    return apply(Op.SCATTER_ADD_ALONG, (a, indices, _updates(a, updates, shape, "scatter_add_along_axis")),
                 axis=axis)  # fmt: skip


def _updates(a: Variable, updates, shape: tuple, what: str) -> Variable:
    """updates in a's dtype (as np.add.at casts: same kind only) and broadcast to `shape`."""
    updates = as_variable(updates, like=a)
    if updates.type.dtype != a.type.dtype:
        if not np.can_cast(updates.type.dtype, a.type.dtype, casting="same_kind"):
            raise DTypeError(f"{what}: cannot add {describe(updates)} into {describe(a)}{here()}")
        updates = updates.astype(a.type.dtype)
    return broadcast_to(updates, shape)


def _broadcast_except(axis: int, x: Variable, indices: Variable) -> tuple[Variable, Variable]:
    """x and indices broadcast against each other on every axis but `axis`."""
    others = broadcast_shapes(
        *(v.type.shape[:axis] + (1,) + v.type.shape[axis + 1 :] for v in (x, indices)),
        what=f"take_along_axis: {describe(x)} and the indices {describe(indices)}",
    )
    return tuple(
        broadcast_to(v, others[:axis] + (v.type.shape[axis],) + others[axis + 1 :]) for v in (x, indices)
    )


# --- cumulative scans ---------------------------------------------------------------------------------------
def _scan(op: Op):
    def build(x, axis: int | None = None, reverse: bool = False) -> Variable:
        x, axis = _flat_or(as_variable(x), axis, op.value)
        return apply(op, (x,), axis=axis, reverse=bool(reverse))

    build.__name__ = op.value
    return build


cumsum = _scan(Op.CUMSUM)
cumsum.__doc__ = """np.cumsum along `axis` (flattened when None); reverse=True sums from the end.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.cumsum(x))(np.array([1.0, 2.0, 3.0]))
    array([1., 3., 6.])
"""
cumprod = _scan(Op.CUMPROD)
cumprod.__doc__ = """np.cumprod along `axis` (flattened when None); exact gradients at zeros too.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.cumprod(x))(np.array([1.0, 2.0, 3.0]))
        array([1., 2., 6.])
    """
cummax = _scan(Op.CUMMAX)
cummax.__doc__ = """np.maximum.accumulate along `axis` (flattened when None): the running maximum.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.cummax(x))(np.array([1.0, 3.0, 2.0]))
        array([1., 3., 3.])
    """
cummin = _scan(Op.CUMMIN)
cummin.__doc__ = """np.minimum.accumulate along `axis` (flattened when None): the running minimum.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.cummin(x))(np.array([3.0, 1.0, 2.0]))
        array([3., 1., 1.])
    """
logcumsumexp = _scan(Op.LOGCUMSUMEXP)
logcumsumexp.__doc__ = """log(cumsum(exp(x))) along `axis`, without overflow (np.logaddexp.accumulate).

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.logcumsumexp(x))(np.array([0.0, 0.0, 1000.0]))
        array([0.00000000e+00, 6.93147181e-01, 1.00000000e+03])
    """


# --- sorting ------------------------------------------------------------------------------------------------
def argsort(x, axis: int | None = -1, descending: bool = False) -> Variable:
    """The stable sorting order along `axis` (int64): equal values keep their order, NaN sorts last
    (first when descending).

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.argsort(x, descending=True))(np.array([1.0, 3.0, 1.0, 2.0]))
        array([1, 3, 0, 2])
    """
    x, axis = _flat_or(as_variable(x), axis, "argsort")
    return apply(Op.ARGSORT, (x,), axis=axis, descending=bool(descending))


def sort(x, axis: int | None = -1, descending: bool = False) -> Variable:
    """x sorted along `axis` (stable); its gradient goes back to where each value came from.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.sort(x, descending=True))(np.array([1.0, 3.0, 2.0]))
    array([3., 2., 1.])
    """
    x, axis = _flat_or(as_variable(x), axis, "sort")
    if x.type.ndim == 0:
        return x
    return apply(Op.GATHER_ALONG, (x, argsort(x, axis, descending)), axis=axis)


def topk(x, k: int, axis: int = -1, largest: bool = True) -> tuple[Variable, Variable]:
    """(values, indices) of the k largest (smallest if not `largest`) entries along `axis`, in order; ties
    keep their order. The gradient of the values goes to the entries they came from.

        >>> import numpy as np, graphc as gc
        >>> x = gc.matrix("x", (2, 3))
        >>> values, indices = gc.function([x], list(gc.topk(x, 2)))(np.array([[1.0, 5, 3], [4, 2, 6]]))
        >>> values, indices
        (array([[5., 3.],
               [6., 4.]]), array([[1, 2],
               [2, 0]]))
    """
    x = as_variable(x)
    if x.type.ndim == 0:
        raise ShapeError(f"topk: {describe(x)} is 0-d: there is nothing to choose from{here()}")
    axis = _axis(x, axis, "topk")
    n = x.type.shape[axis]
    if not isinstance(k, (int, np.integer)) or k < 0 or (isinstance(n, int) and k > n):
        raise ShapeError(f"topk: k must be an int in [0, {n}] for {describe(x)}, got {k!r}{here()}")
    order = argsort(x, axis, descending=largest)
    indices = order[(slice(None),) * axis + (slice(0, int(k)),)]
    return apply(Op.GATHER_ALONG, (x, indices), axis=axis), indices


__all__ = [
    "take", "take_along_axis", "scatter_add", "scatter_add_along_axis",
    "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "argsort", "sort", "topk",
]  # fmt: skip
