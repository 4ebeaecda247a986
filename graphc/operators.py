"""Operators on graph values (x + y, x @ W, x[1:], x.T, x.sum(), ...), each defined once, on a mixin. Core.

`Operators` is tinygrad's MathTrait in our terms: every operator and NumPy-style method is written here in
terms of one hook, `_apply(op, *operands, **params)`, which `graphc.graph.Variable` implements (it turns
Python scalars into constants of the Variable's dtype and builds the node). The argument normalisation that
methods and the builder functions of graphc.tensor share (axes, basic indices) lives here too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .advanced_index import advanced_getitem, is_array_index
from .dims import Dim, exact_quotient
from .errors import DTypeError, GraphcError, ShapeError
from .ops import Op, describe
from .origin import here
from .types import as_dim, as_dtype, as_shape, dim_product, same_shape


def _binary(op: Op) -> tuple[Callable, Callable]:
    """x op y and its reflected form y op x (a Python scalar or NumPy array on the left)."""

    def forward(self, other):
        return self._apply(op, self, other)

    def reflected(self, other):
        return self._apply(op, other, self)

    return forward, reflected


def _unary(op: Op) -> Callable:
    def method(self):
        return self._apply(op, self)

    return method


class Operators:
    """Python's operators and NumPy-style methods for a graph value, all through the hook `_apply`."""

    __slots__ = ()
    __array_ufunc__ = None  # NumPy defers to our reflected operators: np_array * x builds a node

    def _apply(self, op: Op, *operands, **params):
        """Build one `op` node on `operands` (the hook: graphc.graph.Variable implements it)."""
        raise NotImplementedError

    __add__, __radd__ = _binary(Op.ADD)
    __sub__, __rsub__ = _binary(Op.SUB)
    __mul__, __rmul__ = _binary(Op.MUL)
    __truediv__, __rtruediv__ = _binary(Op.DIV)
    __pow__, __rpow__ = _binary(Op.POW)
    __matmul__, __rmatmul__ = _binary(Op.MATMUL)
    __lt__, __le__ = _binary(Op.LT)[0], _binary(Op.LE)[0]
    __gt__, __ge__ = _binary(Op.GT)[0], _binary(Op.GE)[0]
    __floordiv__, __rfloordiv__ = _binary(Op.FLOOR_DIV)
    __mod__, __rmod__ = _binary(Op.MOD)
    __and__, __rand__ = _binary(Op.AND)  # bitwise on integers, logical on bools (NumPy's &, |, ^, ~)
    __or__, __ror__ = _binary(Op.OR)
    __xor__, __rxor__ = _binary(Op.XOR)
    __lshift__, __rlshift__ = _binary(Op.LSHIFT)
    __rshift__, __rrshift__ = _binary(Op.RSHIFT)
    __neg__, __abs__, __invert__ = _unary(Op.NEG), _unary(Op.ABS), _unary(Op.NOT)
    exp, log, tanh, sqrt = _unary(Op.EXP), _unary(Op.LOG), _unary(Op.TANH), _unary(Op.SQRT)

    # -- reductions ------------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        return reduction(self, Op.SUM, axis, keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return reduction(self, Op.MEAN, axis, keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return reduction(self, Op.MAX, axis, keepdims)

    def min(self, axis=None, keepdims: bool = False):
        return reduction(self, Op.MIN, axis, keepdims)

    def prod(self, axis=None, keepdims: bool = False):
        return reduction(self, Op.PROD, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False):
        if axis is not None:
            (axis,) = normalize_axes(self, axis, "argmax")
        return self._apply(Op.ARGMAX, self, axis=axis, keepdims=bool(keepdims))

    # -- dtype and shape -------------------------------------------------------------------------------------
    def astype(self, dtype):
        """Convert to `dtype` (float→int truncates, as NumPy's astype)."""
        try:
            dtype = as_dtype(dtype)
        except DTypeError as exc:
            raise DTypeError(f"cast of {describe(self)}: {exc}{here()}") from None
        if self.type.dtype == dtype:
            return self
        return self._apply(Op.CAST, self, dtype=dtype)

    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)); one entry may be -1 (inferred, for symbolic sizes too)."""
        shape = shape[0] if len(shape) == 1 else shape
        shape = (shape,) if isinstance(shape, (int, str, Dim)) else tuple(shape)
        if sum(1 for d in shape if isinstance(d, int) and d == -1) > 1:
            raise ShapeError(
                f"reshape of {describe(self)}: only one dimension can be -1, got {shape}{here()}"
            )
        if any(isinstance(d, int) and d == -1 for d in shape):
            known = dim_product(as_shape(d for d in shape if not (isinstance(d, int) and d == -1)))
            missing = exact_quotient(dim_product(self.type.shape), known)
            if missing is not None:
                shape = tuple(missing if isinstance(d, int) and d == -1 else d for d in shape)
            else:
                raise ShapeError(
                    f"reshape: cannot reshape {describe(self)} to {shape}: sizes do not divide{here()}"
                )
        shape = as_shape(shape)
        if same_shape(shape, self.type.shape):
            return self
        return self._apply(Op.RESHAPE, self, shape=shape)

    def transpose(self, *axes):
        """Permute the axes (reversed by default): x.transpose(1, 0, 2)."""
        return permute(self, axes or None)

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return self.transpose()

    @property
    def size(self):
        """The number of elements: an int, or an expression of the sizes (graphc.dims)."""
        return dim_product(self.type.shape)

    def flatten(self):
        return self.reshape(-1)

    def squeeze(self, axis=None):
        """Drop axes of size 1 (all of them, or those in `axis`, which must have size 1)."""
        shape = self.type.shape
        if axis is None:
            axes = [i for i, d in enumerate(shape) if isinstance(d, int) and d == 1]
        else:
            axes = list(normalize_axes(self, axis, "squeeze"))
            for a in axes:
                if shape[a] != 1:
                    raise ShapeError(
                        f"squeeze: axis {a} of {describe(self)} has size {shape[a]}, not 1{here()}"
                    )
        return self.reshape(tuple(d for i, d in enumerate(shape) if i not in axes))

    def __getitem__(self, index):
        """Basic indexing (ints, slices of any step, None, Ellipsis), and among them one integer array (a
        list, a NumPy array or an integer graph value) or constant boolean mask: a gather, as gc.take."""
        if any(is_array_index(i) for i in (index if isinstance(index, tuple) else (index,))):
            return advanced_getitem(self, index if isinstance(index, tuple) else (index,))
        index = normalize_index(self, index)
        if len(index) == self.type.ndim and all(i == ("slice", None, None, None) for i in index):
            return self
        return self._apply(Op.GETITEM, self, index=index)


# --- what methods and graphc.tensor's functions share -------------------------------------------------------
def permute(x: Operators, axes) -> Operators:
    """x with its axes in the order `axes` (None: reversed)."""
    ndim = x.type.ndim
    perm = tuple(reversed(range(ndim))) if axes is None else tuple(int(a) % ndim for a in axes)
    if perm == tuple(range(ndim)):
        return x
    return x._apply(Op.TRANSPOSE, x, perm=perm)


def reduction(x: Operators, op: Op, axis, keepdims: bool):
    """`op` (SUM, MEAN, MAX, MIN, PROD, LOGSUMEXP) of x over `axis`: an int, a tuple, or None for all axes."""
    return x._apply(op, x, axis=normalize_axes(x, axis, op.value), keepdims=bool(keepdims))


def normalize_axes(x, axis, what: str) -> tuple[int, ...]:
    """`axis` (an int, a tuple, or None for all) as sorted, non-negative, distinct axes of x."""
    if axis is None:
        return tuple(range(x.type.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    bound = max(x.type.ndim, 1)  # a 0-d value takes axis 0 or -1, as in NumPy (np.sum(s, axis=-1) is s)
    out = []
    for a in axes:
        if not -bound <= a < bound:
            raise ShapeError(f"{what}: axis {a} is out of range for {describe(x)}{here()}")
        out.append(int(a) % bound)
    if len(set(out)) != len(out):
        raise ShapeError(f"{what}: repeated axis in {axis} for {describe(x)}{here()}")
    return tuple(sorted(out)) if x.type.ndim else ()


def _slice_bound(b, x):
    """A slice's start, stop or step as None, an int, or a size expression (a position counted from the
    start, known at call time: gc.grad slices gradients by named sizes)."""
    if b is None or (type(b) is int):
        return b
    if isinstance(b, (int, np.integer)) and not isinstance(b, (bool, np.bool_)):
        return int(b)
    if isinstance(b, Dim):
        return as_dim(b)
    raise GraphcError(f"unsupported slice bound {b!r} for {describe(x)}{here()}")


def normalize_index(x, index) -> tuple:
    """Basic indexing (ints, slices, None, Ellipsis) as a hashable tuple of ('int', i) / ('slice', a, b, c) /
    ('newaxis',) entries, one per input axis plus new axes."""
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (Operators, list, np.ndarray)) for i in index):
        raise GraphcError(
            f"a basic index (ints, slices, None, ...) was expected, not {index!r} for {describe(x)}; "
            f"index with arrays through x[...] or gc.take{here()}"
        )
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if n_real > x.type.ndim:
        raise ShapeError(f"too many indices ({n_real}) for {describe(x)}{here()}")
    out: list[tuple] = []
    for item in index:
        if item is Ellipsis:
            out.extend(("slice", None, None, None) for _ in range(x.type.ndim - n_real))
        elif item is None:
            out.append(("newaxis",))
        elif isinstance(item, slice):
            out.append(("slice", *(_slice_bound(b, x) for b in (item.start, item.stop, item.step))))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(("int", int(item)))
        else:
            raise GraphcError(f"unsupported index {item!r} for {describe(x)}{here()}")
    real = sum(1 for i in out if i[0] != "newaxis")
    out.extend(("slice", None, None, None) for _ in range(x.type.ndim - real))
    return tuple(out)
