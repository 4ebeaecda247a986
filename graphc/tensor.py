"""The user-facing graph builders (gc.exp, gc.sum, x + y, x[1:], ...). Owns argument normalisation and the
Python-scalar dtype rule; every builder ends in graph.apply, which runs the op's type rule.

Dtypes follow NumPy 2 (NEP 50): a Python scalar takes the tensor's dtype, so float32 graphs stay float32
(`W - 0.01 * g` is float32 when W and g are); int + float tensors give float; `cast` converts explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from .errors import DTypeError, GraphcError, ShapeError, where_built
from .graph import Constant, SharedVariable, Variable, apply
from .ops import Op, describe
from .origin import user_origin
from .types import Type, as_dtype, as_shape, dim_product, dims_equal, shape_str

PyScalar = (bool, int, float, np.bool_, np.integer, np.floating)


def _here() -> str:
    """The 'built at file:line' suffix for errors raised before a node exists (bad axes, indices)."""
    return where_built(user_origin())


# --- leaves -------------------------------------------------------------------------------------------------
def tensor(name: str, shape=(), dtype="float64") -> Variable:
    """A symbolic input. `shape` holds ints and names of sizes known at call time:
    gc.tensor("x", ("n", 784))."""
    return Variable(Type(dtype, as_shape(shape)), name)


def scalar(name: str, dtype="float64") -> Variable:
    return tensor(name, (), dtype)


def vector(name: str, size="n", dtype="float64") -> Variable:
    return tensor(name, (size,), dtype)


def matrix(name: str, shape=("m", "n"), dtype="float64") -> Variable:
    return tensor(name, shape, dtype)


def constant(value, dtype=None, name: str | None = None) -> Constant:
    """A constant baked into the graph; its dtype must be one graphc supports."""
    array = np.asarray(value, dtype=None if dtype is None else as_dtype(dtype))
    if array.dtype.name not in ("float32", "float64", "int32", "int64", "bool"):
        if array.dtype.kind == "i":
            array = array.astype("int64")
        elif array.dtype.kind == "f":
            array = array.astype("float64")
        else:
            raise DTypeError(f"constant: unsupported dtype {array.dtype}")
    return Constant(array, name)


def shared(value, name: str | None = None, dtype=None) -> SharedVariable:
    """A persistent value (a parameter or optimiser state) that compiled functions read and update."""
    array = np.asarray(value, dtype=None if dtype is None else as_dtype(dtype))
    as_dtype(array.dtype)
    return SharedVariable(array, name)


def as_variable(x, like: Variable | None = None) -> Variable:
    """A Variable for x: Python scalars take `like`'s dtype where NumPy 2 would (NEP 50 weak scalars)."""
    if isinstance(x, Variable):
        return x
    if isinstance(x, PyScalar) and not isinstance(x, (np.generic)) and like is not None:
        try:
            dtype = np.result_type(like.type.dtype, x)
            keep = dtype.name != "bool" or isinstance(x, bool)  # a number never becomes a bool constant
            return Constant(np.asarray(x, dtype=dtype if keep else None))
        except OverflowError as exc:
            raise DTypeError(f"the Python scalar {x!r} does not fit {describe(like)}{_here()}") from exc
    if isinstance(x, (list, tuple, np.ndarray, np.generic, *PyScalar)):
        return constant(x)
    raise GraphcError(f"cannot use {type(x).__name__} {x!r} as a graph value{_here()}")


def _pair(a, b) -> tuple[Variable, Variable]:
    if not isinstance(a, Variable) and not isinstance(b, Variable):
        raise GraphcError(f"at least one operand must be a graph Variable, got {a!r} and {b!r}")
    a = as_variable(a, like=b if isinstance(b, Variable) else None)
    b = as_variable(b, like=a)
    return a, b


# --- elementwise --------------------------------------------------------------------------------------------
def _binary(op: Op):
    def build(a, b) -> Variable:
        a, b = _pair(a, b)
        return apply(op, (a, b))

    build.__name__ = op.value
    build.__doc__ = f"Elementwise {op.value} with NumPy broadcasting."
    return build


def _unary(op: Op):
    def build(x) -> Variable:
        return apply(op, (as_variable(x),))

    build.__name__ = op.value
    build.__doc__ = f"Elementwise {op.value}."
    return build


add, sub, mul, true_divide, power = (_binary(o) for o in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW))
maximum, minimum = _binary(Op.MAXIMUM), _binary(Op.MINIMUM)
lt, le, gt, ge, eq, neq = (_binary(o) for o in (Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE))
logical_and, logical_or = _binary(Op.AND), _binary(Op.OR)
neg, abs_, sign = _unary(Op.NEG), _unary(Op.ABS), _unary(Op.SIGN)
exp, log, log1p, expm1, sqrt = (_unary(o) for o in (Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.SQRT))
sin, cos, tanh, sigmoid = (_unary(o) for o in (Op.SIN, Op.COS, Op.TANH, Op.SIGMOID))
softplus, relu, logical_not = _unary(Op.SOFTPLUS), _unary(Op.RELU), _unary(Op.NOT)
divide = true_divide


def square(x) -> Variable:
    x = as_variable(x)
    return mul(x, x)


def clip(x, low, high) -> Variable:
    """Elementwise clamp to [low, high] (min/max are differentiable inside, 0 gradient outside)."""
    return minimum(maximum(x, low), high)


def where(cond, a, b) -> Variable:
    """Elementwise choice: a where cond else b (NumPy broadcasting over all three)."""
    cond = as_variable(cond)
    if not isinstance(a, Variable) and not isinstance(b, Variable):  # where(x > 0, 1.0, 0.0): NumPy's dtypes
        a, b = as_variable(a), as_variable(b)
    a, b = _pair(a, b)
    return apply(Op.WHERE, (cond, a, b))


def cast(x, dtype) -> Variable:
    """Convert x to `dtype` (float→int truncates, as NumPy's astype)."""
    x = as_variable(x)
    try:
        dtype = as_dtype(dtype)
    except DTypeError as exc:
        raise DTypeError(f"cast of {describe(x)}: {exc}{_here()}") from None
    if x.type.dtype == dtype:
        return x
    return apply(Op.CAST, (x,), dtype=dtype)


# --- reductions ---------------------------------------------------------------------------------------------
def normalize_axes(x: Variable, axis, what: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.type.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -x.type.ndim <= a < max(x.type.ndim, 1) or (x.type.ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{what}: axis {a} is out of range for {describe(x)}{_here()}")
        out.append(int(a) % max(x.type.ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{what}: repeated axis in {axis} for {describe(x)}{_here()}")
    return tuple(sorted(out)) if x.type.ndim else ()


def _reduction(op: Op):
    def build(x, axis=None, keepdims: bool = False) -> Variable:
        x = as_variable(x)
        return apply(op, (x,), axis=normalize_axes(x, axis, op.value), keepdims=bool(keepdims))

    build.__name__ = op.value
    build.__doc__ = f"{op.value} over `axis` (an int, a tuple, or None for all axes), NumPy-style."
    return build


sum_, mean, max_, min_, prod = (_reduction(o) for o in (Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD))
logsumexp = _reduction(Op.LOGSUMEXP)


def argmax(x, axis: int | None = None, keepdims: bool = False) -> Variable:
    x = as_variable(x)
    if axis is not None:
        (axis,) = normalize_axes(x, axis, "argmax")
    return apply(Op.ARGMAX, (x,), axis=axis, keepdims=bool(keepdims))


def softmax(x, axis: int = -1) -> Variable:
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "softmax") or (0,)
    return apply(Op.SOFTMAX, (x,), axis=axis)


def log_softmax(x, axis: int = -1) -> Variable:
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "log_softmax") or (0,)
    return apply(Op.LOG_SOFTMAX, (x,), axis=axis)


def size(x, axis=None, dtype="float64") -> Variable:
    """How many elements of `x` lie along `axis` (all axes by default), as a scalar of `dtype`: the count a
    mean divides by, known only at call time when the shape has named sizes."""
    x = as_variable(x)
    axes = normalize_axes(x, axis, "size")
    return apply(Op.SIZE, (x,), axis=tuple(sorted(axes)), dtype=as_dtype(dtype))


def one_hot(labels, depth: int, dtype="float64") -> Variable:
    """Integer labels (any shape) to one-hot vectors along a new last axis of size `depth`."""
    return apply(Op.ONE_HOT, (as_variable(labels),), depth=int(depth), dtype=as_dtype(dtype))


# --- linear algebra -----------------------------------------------------------------------------------------
def matmul(a, b) -> Variable:
    """NumPy's matmul: matrix products, with vectors promoted and batch dimensions broadcast."""
    return apply(Op.MATMUL, (as_variable(a), as_variable(b)))


def dot(a, b) -> Variable:
    """np.dot for vectors and matrices (inner product, matrix-vector, matrix-matrix)."""
    a, b = as_variable(a), as_variable(b)
    if a.type.ndim > 2 or b.type.ndim > 2:
        raise ShapeError(
            f"dot takes vectors and matrices; use matmul for {describe(a)} and {describe(b)}{_here()}"
        )
    if a.type.ndim == 0 or b.type.ndim == 0:
        return mul(a, b)
    return matmul(a, b)


# --- shapes -------------------------------------------------------------------------------------------------
def transpose(x, axes: Sequence[int] | None = None) -> Variable:
    x = as_variable(x)
    perm = tuple(reversed(range(x.type.ndim))) if axes is None else tuple(int(a) % x.type.ndim for a in axes)
    if perm == tuple(range(x.type.ndim)):
        return x
    return apply(Op.TRANSPOSE, (x,), perm=perm)


def reshape(x, shape) -> Variable:
    """Reshape; one entry may be -1 (inferred, also for symbolic sizes)."""
    x = as_variable(x)
    shape = (shape,) if isinstance(shape, (int, str, sympy.Basic)) else tuple(shape)
    if sum(1 for d in shape if isinstance(d, int) and d == -1) > 1:
        raise ShapeError(f"reshape of {describe(x)}: only one dimension can be -1, got {shape}{_here()}")
    if any(isinstance(d, int) and d == -1 for d in shape):
        known = dim_product(as_shape(d for d in shape if not (isinstance(d, int) and d == -1)))
        missing = sympy.simplify(sympy.sympify(dim_product(x.type.shape)) / sympy.sympify(known))
        if missing.is_Integer or (missing.is_integer and not missing.is_Rational):
            shape = tuple(missing if isinstance(d, int) and d == -1 else d for d in shape)
        else:
            raise ShapeError(
                f"reshape: cannot reshape {describe(x)} to {shape}: sizes do not divide{_here()}"
            )
    shape = as_shape(shape)
    if len(shape) == x.type.ndim and all(dims_equal(a, b) for a, b in zip(shape, x.type.shape, strict=True)):
        return x
    return apply(Op.RESHAPE, (x,), shape=shape)


def broadcast_to(x, shape) -> Variable:
    x = as_variable(x)
    shape = as_shape(shape)
    if shape == x.type.shape:
        return x
    return apply(Op.BROADCAST_TO, (x,), shape=shape)


def expand_dims(x, axis: int) -> Variable:
    x = as_variable(x)
    axis = axis % (x.type.ndim + 1)
    return reshape(x, x.type.shape[:axis] + (1,) + x.type.shape[axis:])


def squeeze(x, axis=None) -> Variable:
    x = as_variable(x)
    if axis is None:
        axes = [i for i, d in enumerate(x.type.shape) if isinstance(d, int) and d == 1]
    else:
        axes = list(normalize_axes(x, axis, "squeeze"))
        for a in axes:
            if x.type.shape[a] != 1:
                raise ShapeError(
                    f"squeeze: axis {a} of {describe(x)} has size {x.type.shape[a]}, not 1{_here()}"
                )
    return reshape(x, tuple(d for i, d in enumerate(x.type.shape) if i not in axes))


def flatten(x) -> Variable:
    return reshape(x, (-1,))


def concatenate(xs: Sequence, axis: int = 0) -> Variable:
    xs = [as_variable(x) for x in xs]
    if not xs:
        raise ShapeError("concatenate needs at least one input")
    (axis,) = normalize_axes(xs[0], axis, "concatenate")
    if len(xs) == 1:
        return xs[0]
    return apply(Op.CONCATENATE, xs, axis=axis)


def stack(xs: Sequence, axis: int = 0) -> Variable:
    xs = [as_variable(x) for x in xs]
    if not xs:
        raise ShapeError("stack needs at least one input")
    axis = axis % (xs[0].type.ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


# --- indexing -----------------------------------------------------------------------------------------------
def normalize_index(x: Variable, index) -> tuple:
    """Basic indexing (ints, slices, None, Ellipsis) as a hashable tuple of ('int', i) / ('slice', a, b, c) /
    ('newaxis',) entries, one per input axis plus new axes."""
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, Variable) or isinstance(i, (list, np.ndarray)) for i in index):
        raise GraphcError(
            f"only basic indexing (ints, slices, None, ...) is supported, not {index!r} for {describe(x)}; "
            f"use gc.one_hot or gc.where for the rest{_here()}"
        )
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if n_real > x.type.ndim:
        raise ShapeError(f"too many indices ({n_real}) for {describe(x)}{_here()}")
    out: list[tuple] = []
    for item in index:
        if item is Ellipsis:
            out.extend(("slice", None, None, None) for _ in range(x.type.ndim - n_real))
        elif item is None:
            out.append(("newaxis",))
        elif isinstance(item, slice):
            out.append(("slice", item.start, item.stop, item.step))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(("int", int(item)))
        else:
            raise GraphcError(f"unsupported index {item!r} for {describe(x)}{_here()}")
    real = sum(1 for i in out if i[0] != "newaxis")
    out.extend(("slice", None, None, None) for _ in range(x.type.ndim - real))
    return tuple(out)


def getitem(x, index) -> Variable:
    x = as_variable(x)
    index = normalize_index(x, index)
    if all(i == ("slice", None, None, None) for i in index) and len(index) == x.type.ndim:
        return x
    return apply(Op.GETITEM, (x,), index=index)


# --- operators on Variable ----------------------------------------------------------------------------------
def _attach_operators() -> None:
    def rev(fn):
        return lambda self, other: fn(other, self)

    ops = {
        "__add__": add, "__radd__": rev(add), "__sub__": sub, "__rsub__": rev(sub),
        "__mul__": mul, "__rmul__": rev(mul), "__truediv__": true_divide, "__rtruediv__": rev(true_divide),
        "__pow__": power, "__rpow__": rev(power), "__matmul__": matmul, "__rmatmul__": rev(matmul),
        "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
        "__and__": logical_and, "__or__": logical_or, "__invert__": logical_not,
        "__neg__": neg, "__abs__": abs_, "__getitem__": getitem,
        "sum": sum_, "mean": mean, "max": max_, "min": min_, "prod": prod, "argmax": argmax,
        "reshape": lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape),
        "transpose": lambda self, *axes: transpose(self, axes or None),
        "astype": cast, "flatten": flatten, "squeeze": squeeze,
        "exp": exp, "log": log, "tanh": tanh, "sqrt": sqrt,
    }  # fmt: skip
    for name, fn in ops.items():
        setattr(Variable, name, fn)
    Variable.T = property(lambda self: transpose(self))
    Variable.size = property(lambda self: dim_product(self.type.shape))


_attach_operators()

__all__ = [
    "tensor", "scalar", "vector", "matrix", "constant", "shared", "as_variable",
    "add", "sub", "mul", "true_divide", "divide", "power", "maximum", "minimum", "lt", "le", "gt", "ge", "eq",
    "neq", "logical_and", "logical_or", "logical_not", "neg", "abs_", "sign", "exp", "log", "log1p", "expm1",
    "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "square", "clip", "where", "cast",
    "sum_", "mean", "max_", "min_", "prod", "argmax", "logsumexp", "softmax", "log_softmax", "one_hot",
    "matmul", "dot", "transpose", "reshape", "broadcast_to", "expand_dims", "squeeze", "flatten",
    "concatenate", "stack", "getitem", "shape_str",
]  # fmt: skip
