"""Types of graph values: dtype + shape with int or symbolic dimensions. Owns broadcasting and dtype rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from .errors import DTypeError, ShapeError

DTYPES = ("float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float32", "float64")
_SUPPORTED = frozenset(np.dtype(d) for d in DTYPES)
_BY_NAME = {d: np.dtype(d) for d in DTYPES}

Dim = int | sympy.Expr
"""A dimension: an int, or a sympy expression of named sizes (``n``, ``n - 2``) known at call time."""


def as_dtype(dtype) -> np.dtype:
    """Normalise a dtype spelling ('float32', np.float32, np.dtype) to one of the supported NumPy dtypes."""
    if isinstance(dtype, np.dtype) and dtype in _SUPPORTED:  # fast path: dtype.name is slow in NumPy
        return dtype
    if isinstance(dtype, str) and dtype in _BY_NAME:
        return _BY_NAME[dtype]
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"unknown dtype {dtype!r}; graphc supports {', '.join(DTYPES)}") from exc
    if dt.name not in DTYPES:
        raise DTypeError(f"unsupported dtype {dt.name}; graphc supports {', '.join(DTYPES)}")
    return dt


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol for a named dimension; sizes are positive integers."""
    return sympy.Symbol(name, integer=True, positive=True)


def as_dim(d) -> Dim:
    """Normalise one dimension: ints stay ints, names become symbols, integer sympy values become ints."""
    if (type(d) is int and d >= 0) or type(d) is sympy.Symbol:  # fast path: already normal (every new Type)
        return d
    if isinstance(d, (bool, np.bool_)):
        raise ShapeError(f"a dimension must be an int or a name, not {d!r}")
    if isinstance(d, (int, np.integer)):
        if d < 0:
            raise ShapeError(f"a dimension cannot be negative: {d}")
        return int(d)
    if isinstance(d, str):
        if not d.isidentifier():
            raise ShapeError(f"a symbolic dimension must be an identifier, not {d!r}")
        return symbol(d)
    if isinstance(d, sympy.Basic):
        d = sympy.sympify(d)
        if d.is_Integer:
            return int(d)
        return d
    raise ShapeError(f"a dimension must be an int or a name, not {d!r}")


def as_shape(shape: Iterable) -> tuple[Dim, ...]:
    if isinstance(shape, (int, str, np.integer)):
        shape = (shape,)
    return tuple(as_dim(d) for d in shape)


def dim_str(d: Dim) -> str:
    return str(d)


def shape_str(shape: Sequence[Dim]) -> str:
    inner = ", ".join(dim_str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def is_static(shape: Sequence[Dim]) -> bool:
    return all(isinstance(d, int) for d in shape)


def dims_equal(a: Dim, b: Dim) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if a == b:  # structurally equal (the common case): no need to expand
        return True
    return sympy.expand(sympy.sympify(a) - sympy.sympify(b)) == 0


def same_shape(a: Sequence[Dim], b: Sequence[Dim]) -> bool:
    """Two shapes are equal, dimension by dimension (named sizes up to algebra: n + 1 equals 1 + n)."""
    return a == b or (len(a) == len(b) and all(map(dims_equal, a, b)))


def dim_product(dims: Iterable[Dim]) -> Dim:
    total: Dim = 1
    for d in dims:
        total = total * d
    return as_dim(total) if not isinstance(total, int) else total


def broadcast_shapes(*shapes: Sequence[Dim], what: str = "") -> tuple[Dim, ...]:
    """NumPy broadcasting over int and symbolic dimensions.

    A symbolic dimension is never taken to be 1: it broadcasts against 1 or against itself only, so a shape
    mismatch that NumPy would report at run time is reported here, at build time.
    """
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[Dim] = []
    for axis in range(ndim):
        dim: Dim = 1
        for shape in padded:
            d = shape[axis]
            if isinstance(d, int) and d == 1:
                continue
            if isinstance(dim, int) and dim == 1:
                dim = d
            elif not dims_equal(dim, d):
                raise ShapeError(
                    f"cannot broadcast {what}: dimension {axis - ndim} is {dim_str(dim)} vs {dim_str(d)}"
                )
        out.append(dim)
    return tuple(out)


@dataclass(frozen=True)
class Type:
    """The static type of a graph value: a NumPy dtype and a shape of ints and sympy dimensions."""

    dtype: np.dtype
    shape: tuple[Dim, ...]

    def __post_init__(self):
        object.__setattr__(self, "dtype", as_dtype(self.dtype))
        object.__setattr__(self, "shape", as_shape(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def symbols(self) -> set[sympy.Symbol]:
        found: set[sympy.Symbol] = set()
        for d in self.shape:
            if not isinstance(d, int):
                found |= d.free_symbols
        return found

    def __str__(self) -> str:
        return f"{self.dtype.name}{shape_str(self.shape)}"


def concrete_dim(d: Dim, sizes: dict) -> int:
    """A dimension's value once the call binds the named sizes."""
    if isinstance(d, int):
        return d
    known = sizes.get(d)  # a bare named size: a dict lookup, ~100x cheaper than a sympy substitution
    if known is not None:
        return known
    value = sympy.sympify(d).subs(sizes)
    if not value.is_Integer:
        raise ShapeError(f"the size {d} is not known from the inputs' shapes (got {value})")
    return int(value)


def concrete_params(params: dict, sizes: dict) -> dict:
    """Params with every symbolic dimension (a size, or in a shape tuple) replaced by its call-time value."""
    out = {}
    for key, value in params.items():
        if isinstance(value, tuple) and any(isinstance(d, sympy.Basic) for d in value):
            value = tuple(concrete_dim(d, sizes) for d in value)
        elif isinstance(value, sympy.Basic):
            value = concrete_dim(value, sizes)
        out[key] = value
    return out
