"""The NumPy reference semantics of the data-dependent ops: gathers and their transposes (scatter-adds),
cumulative scans, argsort. Core layer; rows of graphc.ops.IMPL, keyed here by the op's value so that this
module needs nothing from graphc.ops.

Indices wrap as in NumPy (-1 is the last entry); one outside [-size, size) raises IndexOutOfRange. The
backends check every index before the node runs, with the names of the node's inputs (graphc.codegen.checks);
this check is the reference's own, for constant folding and eager evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import IndexOutOfRange


def check_indices(indices: np.ndarray, size: int, op: str, axis: int) -> None:
    """Raise for the first index (C order) outside [-size, size)."""
    indices = np.asarray(indices)
    if indices.size and (indices.min() < -size or indices.max() >= size):
        flat = indices.ravel()
        position = int(np.flatnonzero((flat < -size) | (flat >= size))[0])
        value = int(flat[position])
        raise IndexOutOfRange(
            f"{op}: index {value} at position {position} is out of range for axis {axis} with size {size}",
            value=value,
            bound=size,
            position=position,
        )


def gather(x, indices, axis):
    """np.take(x, indices, axis): x's axis replaced by the indices' axes."""
    check_indices(indices, x.shape[axis], "gather", axis)
    return np.take(x, indices, axis=axis)


def scatter_add(a, indices, updates, axis):
    """A copy of `a` with np.add.at along `axis`: out[..., indices[j], ...] += updates[..., j, ...]."""
    check_indices(indices, a.shape[axis], "scatter_add", axis)
    out = np.array(a, copy=True)
    k = np.ndim(indices)
    moved = np.moveaxis(updates, list(range(axis, axis + k)), list(range(k)))  # the indices' axes first
    np.add.at(np.moveaxis(out, axis, 0), indices, moved)
    return out


def gather_along(x, indices, axis):
    """np.take_along_axis(x, indices, axis); `indices` has x's shape except along `axis`."""
    check_indices(indices, x.shape[axis], "gather_along", axis)
    return np.take_along_axis(x, indices, axis=axis)


def _grid(indices: np.ndarray, axis: int) -> tuple:
    """The full index of every entry of `indices` into an array: `indices` along `axis`, the entry's own
    position along every other axis."""
    ndim = indices.ndim
    return tuple(
        indices if d == axis else np.arange(n).reshape((n,) + (1,) * (ndim - d - 1))
        for d, n in enumerate(indices.shape)
    )


def scatter_add_along(a, indices, updates, axis):
    """gather_along's transpose: a copy of `a` with out[..., indices[..., j, ...], ...] += updates[...]."""
    check_indices(indices, a.shape[axis], "scatter_add_along", axis)
    out = np.array(a, copy=True)
    np.add.at(out, _grid(np.asarray(indices), axis), updates)
    return out


def _scan(accumulate: Callable) -> Callable:
    """A cumulative op along `axis` (backwards when `reverse`); a 0-d input is its own scan."""

    def scan(x, axis, reverse):
        x = np.asarray(x)
        flat = x.reshape(x.shape or (1,))
        if reverse:
            flat = np.flip(flat, axis)
        out = accumulate(flat, axis)
        return (np.flip(out, axis) if reverse else out).reshape(x.shape)

    return scan


def argsort(x, axis, descending):
    """Stable argsort: equal values keep their order; NaN sorts last ascending, first descending."""
    if np.ndim(x) == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]  # sort the reversed array, read the order backwards: descending, ties still in order
    order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(order, axis)


IMPL_BY_NAME: dict[str, Callable] = {
    "gather": gather,
    "scatter_add": scatter_add,
    "gather_along": gather_along,
    "scatter_add_along": scatter_add_along,
    "cumsum": _scan(lambda x, axis: np.cumsum(x, axis=axis)),
    "cumprod": _scan(lambda x, axis: np.cumprod(x, axis=axis)),
    "cummax": _scan(lambda x, axis: np.maximum.accumulate(x, axis=axis)),
    "cummin": _scan(lambda x, axis: np.minimum.accumulate(x, axis=axis)),
    "logcumsumexp": _scan(lambda x, axis: np.logaddexp.accumulate(x, axis=axis)),
    "argsort": argsort,
}
"""IMPL rows of the ops in this family, by Op value (graphc.ops merges them)."""

__all__ = ["IMPL_BY_NAME", "check_indices"]
