"""x[int_array] and x[bool_mask] (NumPy's advanced indexing) as a gather, where the result's shape is known
when the graph is built. Core layer; works through a graph value's own methods and its `_apply` hook only.

Supported: one integer array (a list, a NumPy array, or an integer graph value) among basic indices (ints,
slices, None, ...) and 0-d integer graph values (ints read from the data), with NumPy's placement of the
result's axes; a boolean mask that is a constant (its True entries are known, so the result's shape is).
Refused with a clear error: a boolean graph value (its result's shape depends on the data), and two or more
arrays.
"""

from __future__ import annotations

import numpy as np

from .errors import GraphcError, ShapeError
from .ops import Op, describe
from .origin import here
from .types import Type


def _is_graph_value(item) -> bool:
    return isinstance(getattr(item, "type", None), Type)


def is_array_index(item) -> bool:
    """An index entry NumPy treats as an array: a list, a NumPy array, a graph value."""
    return _is_graph_value(item) or isinstance(item, (list, np.ndarray))


def advanced_getitem(x, index: tuple):
    """x[index] where `index` holds array entries (see the module docstring)."""
    x, index = _mask_as_positions(x, list(index))
    scalars = [k for k, item in enumerate(index) if _is_graph_value(item) and item.type.ndim == 0]
    arrays = [k for k, item in enumerate(index) if is_array_index(item) and k not in scalars]
    if len(arrays) > 1:
        raise GraphcError(
            f"indexing {describe(x)} with {len(arrays)} arrays at once is not supported: index one axis at a "
            f"time (x[i][:, j]), or use gc.take_along_axis{here()}"
        )
    advanced = sorted(arrays + scalars + [k for k, item in enumerate(index) if _is_int(item)])
    apart = advanced != list(range(advanced[0], advanced[-1] + 1))
    for k in reversed(scalars):  # a 0-d graph value is an int read from the data: gather it, last axis first
        x = x._apply(Op.GATHER, x, index[k], axis=_first_axis(x, index, k, kept_only=False))
        del index[k]
    if not arrays:
        return x[tuple(index)]
    (k,) = [j for j, item in enumerate(index) if is_array_index(item)]
    indices = index[k]
    if not _is_graph_value(indices) and np.asarray(indices).dtype.kind not in "iu":
        kind = np.asarray(indices).dtype
        raise GraphcError(f"an index array holds integers or booleans, not {kind} ({describe(x)}){here()}")
    y = x[tuple(slice(None) if j == k else item for j, item in enumerate(index))]  # the basic part first
    axis = _first_axis(x, index, k, kept_only=True)
    out = x._apply(Op.GATHER, y, indices, axis=axis)
    if apart and axis > 0:  # NumPy: array and int indices apart from each other put the array's axes first
        n = out.type.ndim - y.type.ndim + 1
        perm = list(range(axis, axis + n)) + [a for a in range(out.type.ndim) if not axis <= a < axis + n]
        out = out.transpose(*perm)
    return out


def _is_int(item) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


def _is_mask(item) -> bool:
    return isinstance(item, (list, np.ndarray)) and np.asarray(item).dtype.kind == "b"


def _first_axis(x, index: list, k: int, kept_only: bool) -> int:
    """The axis where index entry k starts: in x (kept_only=False), or in x[basic part] (kept_only=True:
    ints drop their axis, new axes add one)."""
    real = [item for item in index if item is not None and item is not Ellipsis]
    spans = [np.ndim(item) if _is_mask(item) else 1 for item in real]
    axis = 0
    for item in index[:k]:
        if item is Ellipsis:
            axis += x.type.ndim - sum(spans)
        elif item is None:
            axis += 1 if kept_only else 0
        elif not (kept_only and _is_int(item)):
            axis += np.ndim(item) if _is_mask(item) else 1
    return axis


def _mask_as_positions(x, index: list) -> tuple:
    """A constant boolean mask over axes p..p+m-1 of x: those axes merged into one (x reshaped) and indexed
    by the flat positions of the mask's True entries (what x[mask] selects, in the same C order)."""
    for k, item in enumerate(index):
        if _is_graph_value(item) and item.type.dtype.kind == "b":
            raise GraphcError(
                f"x[mask] with the boolean graph value {describe(item)} has a shape that depends on the "
                f"data, so it cannot be compiled; keep the shape with gc.where({item.name or 'mask'}, x, 0) "
                f"(or multiply by the mask, or reduce with it){here()}"
            )
        if not _is_mask(item):
            continue
        mask = np.asarray(item)
        if mask.ndim == 0:
            raise GraphcError(f"a 0-d boolean index is not supported for {describe(x)}{here()}")
        start = _first_axis(x, index, k, kept_only=False)
        if tuple(x.type.shape[start : start + mask.ndim]) != mask.shape:
            raise ShapeError(
                f"the boolean mask of shape {mask.shape} does not fit axes {start}.. of {describe(x)}{here()}"
            )
        merged = x.type.shape[:start] + (mask.size,) + x.type.shape[start + mask.ndim :]
        index[k] = np.flatnonzero(mask)
        return x.reshape(merged), index
    return x, index
