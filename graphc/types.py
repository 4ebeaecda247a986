"""Types of graph values: dtype + shape with int or symbolic dimensions. Owns broadcasting, unification and
dtype rules. Symbolic sizes are graphc.dims' (no sympy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import dims
from .dims import AnonymousSize, NamedSize, Size, evaluate, sizes_in
from .errors import DTypeError, ShapeError

DTYPES = ("float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float32", "float64")
_SUPPORTED = frozenset(np.dtype(d) for d in DTYPES)
_BY_NAME = {d: np.dtype(d) for d in DTYPES}

Dim = int | dims.Dim
"""A dimension: an int, or an expression of sizes known at call time (graphc.dims): named by the user (``n``,
``n - 2``) or anonymous (``x.0``, axis 0 of input x)."""


def as_dtype(dtype) -> np.dtype:
    """Normalise a dtype spelling ('float32', np.float32, np.dtype) to one of the supported NumPy dtypes, in
    the machine's byte order ('>f8' is float64: values cross the boundary converted, so no backend ever reads
    swapped bytes)."""
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
    return _BY_NAME[dt.name]


def symbol(name: str) -> NamedSize:
    """The size named `name`: one name is one size wherever it appears."""
    return NamedSize(name)


def anonymous(owner: str | None, axis: int) -> AnonymousSize:
    """A fresh anonymous size for axis `axis` of the value named `owner` (``?`` when it has no name)."""
    return AnonymousSize(f"{owner or '?'}.{axis}")


def as_dim(d) -> Dim:
    """Normalise one dimension: ints stay ints, names become sizes, size expressions stay as they are."""
    if (type(d) is int and d >= 0) or type(d) is NamedSize or type(d) is AnonymousSize:  # fast: normal
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
    if isinstance(d, dims.Dim):
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
    """The sizes are equal whatever the call binds (n + 1 equals 1 + n; x.0 and y.0 are not equal). Sizes are
    kept in one canonical form, so this is ==."""
    return a == b


def same_shape(a: Sequence[Dim], b: Sequence[Dim]) -> bool:
    """Two shapes are equal, dimension by dimension."""
    return tuple(a) == tuple(b)


def _specificity(d: Dim) -> int:
    """2: a number; 1: sizes the user named (n, n - 2); 0: involves an anonymous size (x.0)."""
    if isinstance(d, int):
        return 2
    return 0 if any(isinstance(s, AnonymousSize) for s in sizes_in(d)) else 1


def unify(a: Dim, b: Dim, record: list | None = None) -> Dim | None:
    """The size that stands for two sizes an op needs equal (matmul's inner sizes, broadcast partners), or
    None if they can never be equal.

    Equal sizes are themselves. Otherwise the more specific one stands for both (a number beats a name the
    user gave, which beats an anonymous size) and the pair goes into `record`: gc.function checks it at each
    call. Two different numbers, two different user-named sizes (n vs m: one name is one size), and sizes a
    fixed amount apart (x.0 vs x.0 + 1) never unify.
    """
    if a == b:
        return a
    if isinstance(a - b, int):  # two numbers, or a fixed amount apart
        return None
    rank_a, rank_b = _specificity(a), _specificity(b)
    if rank_a == rank_b and rank_a > 0:
        return None
    if record is not None:
        record.append((a, b))
    return a if rank_a >= rank_b else b


def shapes_unify(a: Sequence[Dim], b: Sequence[Dim], record: list | None = None) -> bool:
    """The shapes have one rank and sizes that unify (each pair that is not equal by construction goes into
    `record`): one value can stand for the other once the call has checked the sizes."""
    return len(a) == len(b) and all(unify(x, y, record) is not None for x, y in zip(a, b, strict=True))


def mismatch(a: Dim, b: Dim) -> str:
    """'n vs m' for an error message, with how to fix two different user names."""
    text = f"{dim_str(a)} vs {dim_str(b)}"
    if _specificity(a) == _specificity(b) == 1:
        text += (
            " (two names are two sizes: give both the same name, or leave one unnamed (None) to have "
            "them checked when the function is called)"
        )
    return text


def dim_product(shape: Iterable[Dim]) -> Dim:
    """The number of elements of a shape: an int, or an expression of its sizes."""
    return dims.product(shape)


def broadcast_shapes(*shapes: Sequence[Dim], what: str = "", record: list | None = None) -> tuple[Dim, ...]:
    """NumPy broadcasting over int and symbolic dimensions.

    A symbolic dimension is never taken to be 1: it broadcasts against 1 or against a size it unifies with
    (`unify`: the pair goes into `record`, to be checked at call time), so a mismatch NumPy would find at run
    time is a ShapeError here or a clear error when the function is called.
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
                continue
            unified = unify(dim, d, record)
            if unified is None:
                raise ShapeError(f"cannot broadcast {what}: dimension {axis - ndim} is {mismatch(dim, d)}")
            dim = unified
        out.append(dim)
    return tuple(out)


@dataclass(frozen=True)
class Type:
    """The static type of a graph value: a NumPy dtype and a shape of ints and symbolic sizes.

    >>> t = gc.Type("float32", ("n", 3))
    >>> print(t)
    float32(n, 3)
    >>> t.ndim, t.is_float
    (2, True)
    """

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
    def symbols(self) -> set[Size]:
        """The sizes (named and anonymous) its shape depends on."""
        found: set[Size] = set()
        for d in self.shape:
            if not isinstance(d, int):
                found |= sizes_in(d)
        return found

    def __str__(self) -> str:
        return f"{self.dtype.name}{shape_str(self.shape)}"


def concrete_dim(d: Dim, sizes: dict) -> int:
    """A dimension's value once the call binds the named sizes."""
    if isinstance(d, int):
        return d
    known = sizes.get(d)  # a bare size: one dict lookup
    if known is not None:
        return known
    try:
        return evaluate(d, sizes)
    except KeyError as missing:
        raise ShapeError(f"the size {d} is not known from the inputs' shapes (none for {missing})") from None


def concrete_params(params: dict, sizes: dict) -> dict:
    """Params with every size expression (a size param such as a scan's length, in shape tuples, and in the
    index items of a getitem, one tuple deeper) replaced by its call-time value."""
    out = {}
    for key, value in params.items():
        if isinstance(value, dims.Dim):
            value = concrete_dim(value, sizes)
        elif isinstance(value, tuple) and _symbolic(value):
            value = tuple(_concrete(item, sizes) for item in value)
        elif isinstance(value, dims.Dim):  # a size alone (arange's stop)
            value = concrete_dim(value, sizes)
        out[key] = value
    return out


def symbolic_params(params: dict) -> bool:
    """Whether a param holds a size expression (known only at call time)."""
    return any(isinstance(v, dims.Dim) or (isinstance(v, tuple) and _symbolic(v)) for v in params.values())


def _symbolic(value: tuple) -> bool:
    return any(
        isinstance(d, dims.Dim) or (isinstance(d, tuple) and any(isinstance(e, dims.Dim) for e in d))
        for d in value
    )


def _concrete(d, sizes: dict):
    if isinstance(d, tuple):  # an index item
        return tuple(_concrete(e, sizes) for e in d)
    return concrete_dim(d, sizes) if isinstance(d, dims.Dim) else d
