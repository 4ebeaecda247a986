"""gc.pad: np.pad for any rank, as concatenations of slices and broadcast values. Core layer.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> f = gc.function([x], [gc.pad(x, 2, mode=m) for m in ("constant", "edge", "reflect", "wrap")])
    >>> [a.tolist() for a in f(np.array([1.0, 2.0, 3.0]))][2]
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]

Axes are padded one after the other (axis 0 first), so corners come out as NumPy's. With a known size, the
source of every padded position is NumPy's own (np.pad of the positions 0..n-1), cut into runs of
consecutive positions: any width works in every mode. A named size takes constant and edge padding of any
width, and reflect/symmetric/wrap padding narrower than the size.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, ShapeError
from .graph import Variable, as_variable
from .ops import describe
from .origin import here
from .tensor import broadcast_to, concatenate

MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(x, pad_width, mode: str = "constant", constant_values=0) -> Variable:
    """np.pad: x with `pad_width` entries added before and after each axis.

    pad_width: an int, (before, after), or one (before, after) per axis, as NumPy. mode: "constant" (with
    constant_values: a number, or (before, after) per axis as pad_width), "edge" (the border value),
    "reflect" (mirrored without the border), "symmetric" (mirrored with it) or "wrap" (periodic).

        >>> import numpy as np, graphc as gc
        >>> x = gc.matrix("x", (2, 2))
        >>> gc.function([x], gc.pad(x, ((0, 1), (1, 0)), constant_values=9.0))(np.ones((2, 2))).tolist()
        [[9.0, 1.0, 1.0], [9.0, 1.0, 1.0], [9.0, 9.0, 9.0]]
    """
    x = as_variable(x)
    if mode not in MODES:
        raise InputError(f"pad: mode must be one of {', '.join(MODES)}, not {mode!r}{here()}")
    widths = _per_axis(pad_width, x, "pad_width")
    if np.any(widths < 0):
        raise InputError(f"pad: pad widths must be non-negative, got {pad_width!r}{here()}")
    values = _per_axis(constant_values, x, "constant_values", numbers=True) if mode == "constant" else None
    for axis, (before, after) in enumerate(widths.tolist()):
        if before == after == 0:
            continue
        if mode == "constant":
            x = _pad_constant(x, axis, before, after, values[axis])
        else:
            x = _pad_from_data(x, axis, before, after, mode)
    return x


def _per_axis(spec, x: Variable, what: str, numbers: bool = False) -> np.ndarray:
    """NumPy's broadcasting of pad_width / constant_values to one (before, after) pair per axis."""
    try:
        pairs = np.broadcast_to(np.asarray(spec, dtype=float if numbers else None), (x.type.ndim, 2))
    except ValueError:
        raise InputError(
            f"pad: {what} {spec!r} does not fit the {x.type.ndim} axes of {describe(x)}{here()}"
        ) from None
    if not numbers and pairs.dtype.kind not in "iu":
        raise InputError(f"pad: {what} must be ints, got {spec!r}{here()}")
    return pairs


def _along(axis: int, item) -> tuple:
    return (slice(None),) * axis + (item,)


def _block(x: Variable, axis: int, width: int, value) -> Variable:
    shape = x.type.shape[:axis] + (width,) + x.type.shape[axis + 1 :]
    return broadcast_to(as_variable(x.type.dtype.type(value), like=x), shape)


def _pad_constant(x, axis, before, after, values) -> Variable:
    parts = [_block(x, axis, before, values[0])] if before else []
    parts.append(x)
    if after:
        parts.append(_block(x, axis, after, values[1]))
    return concatenate(parts, axis=axis)


def _pad_from_data(x: Variable, axis: int, before: int, after: int, mode: str) -> Variable:
    n = x.type.shape[axis]
    if isinstance(n, int) and n == 0:
        raise ShapeError(f"pad: cannot {mode}-pad the empty axis {axis} of {describe(x)}{here()}")
    if not isinstance(n, int):
        pieces = _symbolic_pieces(x, axis, before, after, mode)
    else:  # where NumPy takes each padded position from, as runs of consecutive positions
        source = np.pad(np.arange(n), (before, after), mode=mode)
        pieces = [_run(x, axis, run) for run in _runs(source)]
    return concatenate(pieces, axis=axis)


def _runs(source: np.ndarray) -> list[list[int]]:
    """`source` cut into runs of one step each: 0 (an edge repeated), 1 or -1 (a slice)."""
    runs = [[int(source[0])]]
    for value in source[1:].tolist():
        run = runs[-1]
        step = value - run[-1]
        if abs(step) <= 1 and (len(run) == 1 or step == run[1] - run[0]):
            run.append(value)
        else:
            runs.append([value])
    return runs


def _run(x: Variable, axis: int, run: list[int]) -> Variable:
    first, last = run[0], run[-1]
    if len(run) > 1 and run[1] == run[0]:  # one position repeated: the edge
        piece = x[_along(axis, slice(first, first + 1))]
        return broadcast_to(piece, piece.type.shape[:axis] + (len(run),) + piece.type.shape[axis + 1 :])
    if last >= first:
        return x[_along(axis, slice(first, last + 1))]
    return x[_along(axis, slice(first, last - 1 if last else None, -1))]


def _symbolic_pieces(x: Variable, axis: int, before: int, after: int, mode: str) -> list[Variable]:
    """Pieces for a named size: slices counted from either end (the size is assumed wider than the pad)."""
    if mode == "edge":
        pieces = [_edge(x, axis, 0, before), x, _edge(x, axis, -1, after)]
        return [p for p in pieces if p is not None]
    skip = 1 if mode == "reflect" else 0  # reflect leaves out the border entry, symmetric repeats it
    pieces = []
    if before:
        if mode == "wrap":
            pieces.append(x[_along(axis, slice(-before, None))])
        else:
            pieces.append(x[_along(axis, slice(before - 1 + skip, None if skip == 0 else 0, -1))])
    pieces.append(x)
    if after:
        if mode == "wrap":
            pieces.append(x[_along(axis, slice(0, after))])
        else:
            start = -1 - skip
            pieces.append(x[_along(axis, slice(start, start - after, -1))])
    return pieces


def _edge(x: Variable, axis: int, at: int, width: int) -> Variable | None:
    if not width:
        return None
    piece = x[_along(axis, slice(at, None if at == -1 else at + 1))]
    return broadcast_to(piece, piece.type.shape[:axis] + (width,) + piece.type.shape[axis + 1 :])


__all__ = ["pad", "MODES"]
