"""Creation and rearrangement builders with NumPy's names and semantics: arange, linspace, eye, tril/triu,
flip, roll, repeat, tile, split. Core layer. All but arange are composites of basic slicing, concatenate,
broadcast_to, reshape and where, so gradients, fusion and every backend come for free.

    >>> import numpy as np, graphc as gc
    >>> x = gc.matrix("x", (2, 3))
    >>> f = gc.function([x], [gc.flip(x, 1), gc.roll(x, 1, axis=1), gc.tile(x, (1, 2))])
    >>> [a.tolist() for a in f(np.arange(6.0).reshape(2, 3))][1]
    [[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]

Sizes may be named (symbolic) where NumPy's rule does not need their value: gc.arange(n), tril of an (n, n)
matrix, roll by less than the size.
"""

from __future__ import annotations

import numpy as np

from .dims import Dim
from .errors import InputError, ShapeError
from .graph import Constant, Variable, apply, as_variable
from .operators import normalize_axes
from .ops import Op, describe
from .origin import here
from .tensor import broadcast_to, cast, concatenate, expand_dims, ge, reshape, where
from .types import as_dtype, as_shape


def _number(v, what: str):
    """A Python int or float (NumPy scalars accepted); a named size stays a size."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InputError(f"{what} must be a number, got {v!r}{here()}")
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


def arange(start, stop=None, step=1, dtype=None) -> Variable:
    """np.arange: values from `start` (default 0) up to, not including, `stop`, `step` apart. `stop` may be
    a named size (x.shape[0], or its name): then start and step are ints.

        >>> import numpy as np, graphc as gc
        >>> gc.function([], gc.arange(1, 10, 3))().tolist()
        [1, 4, 7]
        >>> x = gc.vector("x")                                   # any length n
        >>> gc.function([x], x * gc.arange(x.shape[0]))(np.ones(3)).tolist()
        [0.0, 1.0, 2.0]
    """
    if stop is None:
        start, stop = 0, start
    start, step = _number(start, "arange: start"), _number(step, "arange: step")
    if isinstance(stop, (str, Dim)):
        (stop,) = as_shape((stop,))
    if not isinstance(stop, Dim):
        stop = _number(stop, "arange: stop")
    if dtype is None:
        dtype = "float64" if any(isinstance(v, float) for v in (start, stop, step)) else "int64"
    return apply(Op.ARANGE, (), start=start, stop=stop, step=step, dtype=as_dtype(dtype))


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None) -> Variable:
    """np.linspace: `num` evenly spaced values from start to stop (included unless endpoint=False). With
    numbers it is NumPy's array exactly; start and stop may also be graph values (then the samples are along
    a new first axis, and the gradient reaches them).

        >>> import graphc as gc
        >>> gc.function([], gc.linspace(0.0, 1.0, 5))().tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    num = int(num)
    if num < 0:
        raise InputError(f"linspace: num must be non-negative, got {num}{here()}")
    if not isinstance(start, Variable) and not isinstance(stop, Variable):
        return Constant(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype))
    start = as_variable(start, like=stop if isinstance(stop, Variable) else None)
    stop = as_variable(stop, like=start)
    float_type = np.result_type(start.type.dtype, stop.type.dtype, np.float16)  # at least float32
    start, stop = cast(start, float_type), cast(stop, float_type)
    div = num - 1 if endpoint else num
    shape = (num,) + (1,) * max(start.type.ndim, stop.type.ndim)
    fractions = Constant((np.arange(num) / max(div, 1)).astype(float_type).reshape(shape))
    values = start + fractions * (stop - start)
    if endpoint and num > 1:  # the last sample is stop itself, as NumPy's
        last = expand_dims(broadcast_to(stop, values.type.shape[1:]), 0)
        values = concatenate([values[:-1], last], axis=0)
    return values if dtype is None else cast(values, dtype)


def _positions(n, k: int = 0) -> Variable:
    """0..n-1 (plus k) as int64: `n` may be a named size."""
    p = arange(n)
    return p if k == 0 else p + k


def eye(n, m=None, k: int = 0, dtype="float64") -> Variable:
    """np.eye: an n×m matrix with ones on diagonal k (0: the main one; > 0 above it). n and m may be named.

    >>> import graphc as gc
    >>> gc.function([], gc.eye(2, 3, k=1, dtype="int64"))().tolist()
    [[0, 1, 0], [0, 0, 1]]
    """
    m = n if m is None else m
    rows, cols = reshape(_positions(n, int(k)), (-1, 1)), reshape(_positions(m), (1, -1))
    return cast(apply(Op.EQ, (rows, cols)), dtype)


def _triangle(x, k: int, lower: bool, what: str) -> Variable:
    x = as_variable(x)
    if x.type.ndim < 2:
        raise ShapeError(f"{what} takes a matrix (or a stack of them), got {describe(x)}{here()}")
    rows = reshape(_positions(x.type.shape[-2], int(k)), (-1, 1))
    cols = reshape(_positions(x.type.shape[-1]), (1, -1))
    keep = ge(rows, cols) if lower else ge(cols, rows)  # row + k >= col, or col >= row + k
    return where(keep, x, 0)


def tril(x, k: int = 0) -> Variable:
    """np.tril: x with the entries above diagonal k zeroed (on the last two axes).

    >>> import numpy as np, graphc as gc
    >>> x = gc.matrix("x", (2, 2))
    >>> gc.function([x], gc.tril(x))(np.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(x, k, True, "tril")


def triu(x, k: int = 0) -> Variable:
    """np.triu: x with the entries below diagonal k zeroed (on the last two axes).

    >>> import numpy as np, graphc as gc
    >>> x = gc.matrix("x", (2, 2))
    >>> gc.function([x], gc.triu(x, 1))(np.ones((2, 2))).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    return _triangle(x, k, False, "triu")


def flip(x, axis=None) -> Variable:
    """np.flip: the order of the entries reversed along `axis` (an int, a tuple, or None for every axis).

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.flip(x))(np.array([1.0, 2.0, 3.0])).tolist()
    [3.0, 2.0, 1.0]
    """
    x = as_variable(x)
    axes = normalize_axes(x, axis, "flip")
    return x[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.type.ndim))]


def _along(axis: int, item) -> tuple:
    return (slice(None),) * axis + (item,)


def roll(x, shift, axis=None) -> Variable:
    """np.roll: entries shifted by `shift` along `axis` (None: over the flattened array), those pushed past
    the end coming back at the start. A named size must be larger than |shift|.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.roll(x, -1))(np.array([1.0, 2.0, 3.0])).tolist()
        [2.0, 3.0, 1.0]
    """
    x = as_variable(x)
    if axis is None:
        return reshape(roll(reshape(x, (-1,)), shift, 0), x.type.shape)
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) != len(shifts):
        shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    for s, a in zip(shifts, axes, strict=True):
        (a,) = normalize_axes(x, int(a), "roll")
        n, s = x.type.shape[a], int(s)
        s = s % n if isinstance(n, int) and n else s
        if s:
            x = concatenate([x[_along(a, slice(-s, None))], x[_along(a, slice(None, -s))]], axis=a)
    return x


def repeat(x, repeats, axis=None) -> Variable:
    """np.repeat: each entry `repeats` times in a row along `axis` (None: of the flattened array); repeats
    is an int or one int per entry.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x", 3)
        >>> gc.function([x], gc.repeat(x, [1, 0, 2]))(np.array([1.0, 2.0, 3.0])).tolist()
        [1.0, 3.0, 3.0]
    """
    x = as_variable(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    (axis,) = normalize_axes(x, axis, "repeat")
    shape = x.type.shape
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        if r < 0:
            raise InputError(f"repeat: repeats must be non-negative, got {r}{here()}")
        spread = broadcast_to(expand_dims(x, axis + 1), shape[: axis + 1] + (r,) + shape[axis + 1 :])
        return reshape(spread, shape[:axis] + (shape[axis] * r,) + shape[axis + 1 :])
    counts = [int(r) for r in repeats]
    if not isinstance(shape[axis], int) or len(counts) != shape[axis] or min(counts, default=0) < 0:
        raise InputError(
            f"repeat: {len(counts)} non-negative repeats for axis {axis} of {describe(x)}, one per entry"
            f"{here()}"
        )
    pieces = [repeat(x[_along(axis, slice(i, i + 1))], r, axis) for i, r in enumerate(counts) if r]
    if not pieces:
        return x[_along(axis, slice(0, 0))]
    return concatenate(pieces, axis=axis)


def tile(x, reps) -> Variable:
    """np.tile: x repeated `reps` times along each axis (missing leading axes count as 1).

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.tile(x, (2, 2)))(np.array([1.0, 2.0])).tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    x = as_variable(x)
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise InputError(f"tile: reps must be non-negative, got {reps}{here()}")
    ndim = max(len(reps), x.type.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.type.ndim) + tuple(x.type.shape)
    interleaved = reshape(x, tuple(d for n in shape for d in (1, n)))  # (1, d0, 1, d1, ...)
    spread = broadcast_to(interleaved, tuple(d for r, n in zip(reps, shape, strict=True) for d in (r, n)))
    return reshape(spread, tuple(r * n for r, n in zip(reps, shape, strict=True)))


def split(x, indices_or_sections, axis: int = 0) -> list[Variable]:
    """np.split: x cut along `axis` into equal sections (an int that divides the size) or at the given
    indices. Returns a list.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> [p.type.shape for p in gc.split(gc.tensor("y", (6, 2)), [1, 4])]
        [(1, 2), (3, 2), (2, 2)]
    """
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "split")
    n = x.type.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k < 1 or not isinstance(n, int) or n % k:
            raise ShapeError(
                f"split: {k} equal sections of axis {axis} of {describe(x)}: the size must be a known "
                f"multiple (gc.array_split allows uneven sections){here()}"
            )
        return array_split(x, k, axis)
    bounds = [None, *(int(i) for i in indices_or_sections), None]
    return [x[_along(axis, slice(a, b))] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def array_split(x, sections: int, axis: int = 0) -> list[Variable]:
    """np.array_split: `sections` pieces along `axis`, the first ones one longer where the size does not
    divide (a known size).

        >>> import graphc as gc
        >>> [p.type.shape for p in gc.array_split(gc.vector("x", 5), 2)]
        [(3,), (2,)]
    """
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "array_split")
    n, k = x.type.shape[axis], int(sections)
    if not isinstance(n, int) or k < 1:
        raise ShapeError(
            f"array_split: {k} sections of axis {axis} of {describe(x)} need a known size{here()}"
        )
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [x[_along(axis, slice(a, b))] for a, b in zip(starts[:-1], starts[1:], strict=True)]


__all__ = [
    "arange", "linspace", "eye", "tril", "triu", "flip", "roll", "repeat", "tile", "split", "array_split",
]  # fmt: skip
