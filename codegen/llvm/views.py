"""Strided views of buffers inside the generated entry function; knows types and shapes, not ops or graphs.

A `View` is what every lowering receives and returns: a typed data pointer, run-time sizes and strides (in
elements), and what is known statically about them (strides that are 0 or constant, C-contiguity, whether the
last two axes form a dense matrix BLAS can read). Transposes, broadcasts, reshapes of contiguous data and
basic slicing are new Views of the same memory: no copies.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from llvmlite import ir

from .scalar import I64


@dataclass(frozen=True)
class View:
    ptr: ir.Value  # pointer to the first element (memory type of dtype)
    dtype: np.dtype
    shape: tuple  # static dims: ints or size expressions (the graph Type's shape)
    dims: tuple  # i64 values
    strides: tuple  # i64 values, in elements
    sstrides: tuple  # per axis: the stride if known at compile time, else None
    contig: bool  # C-contiguous with standard strides
    mat: str | None = None  # last two axes: "C" (row-major, ld = strides[-2]), "F" (ld = strides[-1]) or None

    @property
    def ndim(self) -> int:
        return len(self.shape)


@functools.lru_cache(maxsize=4096)
def const(value: int) -> ir.Constant:
    """The i64 constant ``value`` (one shared object per value: a big graph asks for the same few often)."""
    return ir.Constant(I64, value)


def contiguous(b: ir.IRBuilder, ptr, dtype, shape, dims) -> View:
    """A C-contiguous view of ``ptr`` with the given static shape and run-time dims (strides computed)."""
    strides, sstrides = [], []
    stride, sstride = const(1), 1
    for dim, d in zip(reversed(dims), reversed(shape), strict=True):
        strides.append(stride)
        sstrides.append(sstride)
        sstride = sstride * d if isinstance(sstride, int) and isinstance(d, int) else None
        stride = mul(b, stride, dim)
    return View(
        ptr,
        np.dtype(dtype),
        tuple(shape),
        tuple(dims),
        tuple(reversed(strides)),
        tuple(reversed(sstrides)),
        True,
        "C" if len(shape) >= 2 else None,
    )


def mul(builder: ir.IRBuilder, a, b):
    """a * b in the entry block, each distinct product emitted once (big graphs repeat the same strides)."""
    if isinstance(a, ir.Constant) and isinstance(b, ir.Constant):
        return const(a.constant * b.constant)
    if isinstance(a, ir.Constant) and a.constant == 1:
        return b
    if isinstance(b, ir.Constant) and b.constant == 1:
        return a
    memo = builder.__dict__.setdefault("_graphc_products", {})
    key = tuple(v.constant if isinstance(v, ir.Constant) else id(v) for v in (a, b))
    if key not in memo:
        memo[key] = (builder.mul(a, b), a, b)  # a, b kept alive so their ids stay unique
    return memo[key][0]


def transpose(v: View, perm) -> View:
    perm = tuple(perm)
    mat = None
    n = v.ndim
    if n >= 2 and v.mat is not None and set(perm[-2:]) == {n - 2, n - 1}:
        mat = v.mat if perm[-2:] == (n - 2, n - 1) else ("F" if v.mat == "C" else "C")
    return View(
        v.ptr,
        v.dtype,
        tuple(v.shape[p] for p in perm),
        tuple(v.dims[p] for p in perm),
        tuple(v.strides[p] for p in perm),
        tuple(v.sstrides[p] for p in perm),
        v.contig and perm == tuple(range(n)),
        mat,
    )


def broadcast(v: View, shape, dims) -> View:
    """NumPy broadcasting of ``v`` to ``shape`` with run-time ``dims``: new or size-1 axes get stride 0."""
    lead = len(shape) - v.ndim
    strides, sstrides = [], []
    for axis, target in enumerate(shape):
        src = axis - lead
        if src < 0 or (v.shape[src] == 1 and target != 1) or target == 1:
            strides.append(const(0))
            sstrides.append(0)
        else:
            strides.append(v.strides[src])
            sstrides.append(v.sstrides[src])
    same = tuple(shape) == tuple(v.shape)
    keeps_matrix = v.ndim >= 2 and len(shape) >= 2 and tuple(shape[-2:]) == tuple(v.shape[-2:])
    return replace(
        v,
        shape=tuple(shape),
        dims=tuple(dims),
        strides=tuple(strides),
        sstrides=tuple(sstrides),
        contig=v.contig and same,
        mat=v.mat if keeps_matrix else None,
    )


def insert_axes(v: View, axes) -> View:
    """Size-1 axes (stride 0) inserted at positions ``axes`` of the result (like np.expand_dims)."""
    shape, dims, strides, sstrides = list(v.shape), list(v.dims), list(v.strides), list(v.sstrides)
    for axis in sorted(axes):
        shape.insert(axis, 1)
        dims.insert(axis, const(1))
        strides.insert(axis, const(0))
        sstrides.insert(axis, 0)
    mat = v.mat if all(a < len(shape) - 2 for a in axes) else None
    return replace(
        v, shape=tuple(shape), dims=tuple(dims), strides=tuple(strides), sstrides=tuple(sstrides), mat=mat
    )


def restride(v: View, shape, dims, strides, sstrides) -> View:
    """A view of the same data with explicit axes (used by matmul-as-reduction)."""
    return replace(
        v,
        shape=tuple(shape),
        dims=tuple(dims),
        strides=tuple(strides),
        sstrides=tuple(sstrides),
        contig=False,
        mat=None,
    )
