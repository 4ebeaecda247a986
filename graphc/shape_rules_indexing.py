"""The type rules of the data-dependent ops (gathers, scatter-adds, scans, argsort): rows of
graphc.shape_rules.SHAPE_RULES and ARITY. Core layer.

Indices are integers; a constant index outside its axis is refused here, when the node is built (a variable
index is checked at every call, by each backend).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .errors import DTypeError, IndexOutOfBounds, IndexOutOfRange, ShapeError
from .ops import SCANS, Op, describe
from .ops_indexing import IMPL_BY_NAME, check_indices
from .types import Type, dims_equal, shape_str


def _axis_of(op: Op, x, axis: int) -> int:
    if not 0 <= axis < max(x.type.ndim, 1) or (x.type.ndim == 0 and op not in SCANS | {Op.ARGSORT}):
        raise ShapeError(f"{op.value}: axis {axis} is out of range for {describe(x)}")
    return axis


def _integer_indices(op: Op, indices) -> None:
    if indices.type.dtype.kind not in "iu":
        raise DTypeError(f"{op.value}: indices must be integers, got {describe(indices)}")


def _constant_indices_fit(op: Op, indices, x, axis: int) -> None:
    """A constant index outside a static axis is certain to fail: say so now."""
    value, size = getattr(indices, "value", None), x.type.shape[axis]
    if value is None or not isinstance(size, int):
        return
    try:
        check_indices(value, size, op.value, axis)
    except IndexOutOfRange as exc:
        raise IndexOutOfBounds(
            f"{op.value}: index {exc.value} of {describe(indices)} is out of range for axis {axis} of "
            f"{describe(x)} (size {size}): indices must be in [{-size}, {size})"
        ) from None


def _same_except(op: Op, a, b, axis: int) -> None:
    """a and b have the same rank and sizes, except along `axis`."""
    fits = a.type.ndim == b.type.ndim and all(
        dims_equal(d, e) for i, (d, e) in enumerate(zip(a.type.shape, b.type.shape, strict=True)) if i != axis
    )
    if not fits:
        raise ShapeError(
            f"{op.value}: {describe(b)} must have the shape of {describe(a)} except along axis {axis}"
        )


def _updates_fit(op: Op, a, updates, shape) -> None:
    if updates.type.dtype != a.type.dtype:
        raise DTypeError(f"{op.value}: updates {describe(updates)} must have the dtype of {describe(a)}")
    if len(shape) != updates.type.ndim or not all(
        dims_equal(d, e) for d, e in zip(shape, updates.type.shape, strict=True)
    ):
        raise ShapeError(f"{op.value}: updates {describe(updates)} must have the shape {shape_str(shape)}")


def _gather_types(op, inputs, params):
    x, indices = inputs
    axis = _axis_of(op, x, params["axis"])
    _integer_indices(op, indices)
    _constant_indices_fit(op, indices, x, axis)
    return (Type(x.type.dtype, x.type.shape[:axis] + indices.type.shape + x.type.shape[axis + 1 :]),)


def _scatter_add_types(op, inputs, params):
    a, indices, updates = inputs
    axis = _axis_of(op, a, params["axis"])
    _integer_indices(op, indices)
    _constant_indices_fit(op, indices, a, axis)
    _updates_fit(op, a, updates, a.type.shape[:axis] + indices.type.shape + a.type.shape[axis + 1 :])
    return (a.type,)


def _gather_along_types(op, inputs, params):
    x, indices = inputs
    axis = _axis_of(op, x, params["axis"])
    _integer_indices(op, indices)
    _same_except(op, x, indices, axis)
    _constant_indices_fit(op, indices, x, axis)
    return (Type(x.type.dtype, indices.type.shape),)


def _scatter_add_along_types(op, inputs, params):
    a, indices, updates = inputs
    axis = _axis_of(op, a, params["axis"])
    _integer_indices(op, indices)
    _same_except(op, a, indices, axis)
    _constant_indices_fit(op, indices, a, axis)
    _updates_fit(op, a, updates, indices.type.shape)
    return (a.type,)


@lru_cache(maxsize=64)
def _scan_dtype(op: Op, dtype: np.dtype) -> np.dtype:
    """NumPy's result dtype (cumsum of bools or int32 gives int64)."""
    return IMPL_BY_NAME[op.value](np.ones((1,), dtype), 0, False).dtype


def _scan_types(op, inputs, params):
    (x,) = inputs
    _axis_of(op, x, params["axis"])
    if op is Op.LOGCUMSUMEXP and not x.type.is_float:
        raise DTypeError(f"logcumsumexp needs a float input, got {describe(x)}; use gc.cast(x, 'float32')")
    return (Type(_scan_dtype(op, x.type.dtype), x.type.shape),)


def _argsort_types(op, inputs, params):
    (x,) = inputs
    _axis_of(op, x, params["axis"])
    return (Type("int64", x.type.shape),)


INDEXING_SHAPE_RULES: dict[Op, Callable] = {
    Op.GATHER: _gather_types,
    Op.SCATTER_ADD: _scatter_add_types,
    Op.GATHER_ALONG: _gather_along_types,
    Op.SCATTER_ADD_ALONG: _scatter_add_along_types,
    **{op: _scan_types for op in SCANS},
    Op.ARGSORT: _argsort_types,
}

INDEXING_ARITY: dict[Op, int] = {
    Op.GATHER: 2,
    Op.SCATTER_ADD: 3,
    Op.GATHER_ALONG: 2,
    Op.SCATTER_ADD_ALONG: 3,
    **{op: 1 for op in SCANS},
    Op.ARGSORT: 1,
}

__all__ = ["INDEXING_ARITY", "INDEXING_SHAPE_RULES"]
