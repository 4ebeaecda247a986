"""The user-facing graph builders as functions (gc.exp, gc.sum, gc.reshape, ...). Core layer.

Every builder ends in graph.apply, which runs the op's type rule. Where a Variable method exists (x.sum(),
x.reshape(...), x[1:]: graphc.operators), the function is that method on as_variable(x): each defined once.

Dtypes follow NumPy 2 (NEP 50): a Python scalar takes the tensor's dtype, so float32 graphs stay float32
(`W - 0.01 * g` is float32 when W and g are); int + float tensors give float; `cast` converts explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import GraphcError, ShapeError
from .graph import SharedVariable, Variable, apply, as_variable, constant
from .operators import normalize_axes, permute, reduction
from .ops import Op, describe
from .origin import here
from .types import Type, as_dtype, as_shape, shape_str


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


def shared(value, name: str | None = None, dtype=None) -> SharedVariable:
    """A persistent value (a parameter or optimiser state) that compiled functions read and update."""
    array = np.asarray(value, dtype=None if dtype is None else as_dtype(dtype))
    as_dtype(array.dtype)
    return SharedVariable(array, name)


# --- elementwise --------------------------------------------------------------------------------------------
def _pair(a, b) -> tuple[Variable, Variable]:
    """Both operands as Variables; a Python scalar takes the other operand's dtype (NEP 50)."""
    if not isinstance(a, Variable) and not isinstance(b, Variable):
        raise GraphcError(f"at least one operand must be a graph Variable, got {a!r} and {b!r}")
    a = as_variable(a, like=b if isinstance(b, Variable) else None)
    b = as_variable(b, like=a)
    return a, b


def _binary(op: Op):
    def build(a, b) -> Variable:
        return apply(op, _pair(a, b))

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
neg, abs_, sign = _unary(Op.NEG), _unary(Op.ABS), _unary(Op.SIGN)
exp, log, log1p, expm1, sqrt = (_unary(o) for o in (Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.SQRT))
sin, cos, tanh, sigmoid = (_unary(o) for o in (Op.SIN, Op.COS, Op.TANH, Op.SIGMOID))
softplus, relu = _unary(Op.SOFTPLUS), _unary(Op.RELU)
divide = true_divide


def truth(x: Variable) -> Variable:
    """x as bool: nonzero is true (NumPy's truth of a number); a bool value as it is."""
    return x if x.type.dtype.kind == "b" else neq(x, 0)


def logical_and(a, b) -> Variable:
    """Elementwise logical and of the truth of a and b (nonzero is true), as np.logical_and.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.logical_and(x, x > 1))(np.array([0.0, 1.0, 2.0])).tolist()
    [False, False, True]
    """
    a, b = _pair(a, b)
    return apply(Op.AND, (truth(a), truth(b)))


def logical_or(a, b) -> Variable:
    """Elementwise logical or of the truth of a and b (nonzero is true), as np.logical_or."""
    a, b = _pair(a, b)
    return apply(Op.OR, (truth(a), truth(b)))


def logical_not(x) -> Variable:
    """Elementwise logical not (x == 0 for numbers), as np.logical_not."""
    return apply(Op.NOT, (truth(as_variable(x)),))


def square(x) -> Variable:
    x = as_variable(x)
    return mul(x, x)


def clip(x, low, high) -> Variable:
    """Elementwise clamp to [low, high], NumPy's np.clip (high wins where low > high).

    The gradient passes through inside the closed interval, bounds included, and is 0 outside (PyTorch's
    clamp, JAX and TensorFlow): built from comparisons and `where`, not maximum/minimum, whose ties would
    share it with the bound.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> float(gc.function([x], gc.grad(gc.clip(x, -1.0, 1.0).sum(), [x])[0])(np.array([1.0]))[0])
        1.0
    """
    x = as_variable(x)
    raised = where(lt(x, low), low, x)
    return where(gt(raised, high), high, raised)


def where(cond, a, b) -> Variable:
    """Elementwise choice: a where cond else b (NumPy broadcasting over all three)."""
    cond = as_variable(cond)
    if not isinstance(a, Variable) and not isinstance(b, Variable):  # where(x > 0, 1.0, 0.0): NumPy's dtypes
        a, b = as_variable(a), as_variable(b)
    a, b = _pair(a, b)
    return apply(Op.WHERE, (cond, a, b))


def cast(x, dtype) -> Variable:
    """Convert x to `dtype` (float→int truncates, as NumPy's astype)."""
    return as_variable(x).astype(dtype)


# --- reductions ---------------------------------------------------------------------------------------------
def _reduction(op: Op):
    def build(x, axis=None, keepdims: bool = False) -> Variable:
        return reduction(as_variable(x), op, axis, keepdims)

    build.__name__ = op.value
    build.__doc__ = f"{op.value} over `axis` (an int, a tuple, or None for all axes), NumPy-style."
    return build


sum_, mean, max_, min_, prod = (_reduction(o) for o in (Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD))
logsumexp = _reduction(Op.LOGSUMEXP)


def argmax(x, axis: int | None = None, keepdims: bool = False) -> Variable:
    return as_variable(x).argmax(axis, keepdims)


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
            f"dot takes vectors and matrices; use matmul for {describe(a)} and {describe(b)}{here()}"
        )
    if a.type.ndim == 0 or b.type.ndim == 0:
        return mul(a, b)
    return matmul(a, b)


# --- shapes -------------------------------------------------------------------------------------------------
def transpose(x, axes: Sequence[int] | None = None) -> Variable:
    return permute(as_variable(x), None if axes is None else tuple(axes))


def reshape(x, shape) -> Variable:
    """Reshape; one entry may be -1 (inferred, also for symbolic sizes)."""
    return as_variable(x).reshape(shape)


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
    return as_variable(x).squeeze(axis)


def flatten(x) -> Variable:
    return as_variable(x).flatten()


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
def getitem(x, index) -> Variable:
    return as_variable(x)[index]


__all__ = [
    "tensor", "scalar", "vector", "matrix", "constant", "shared", "as_variable",
    "add", "sub", "mul", "true_divide", "divide", "power", "maximum", "minimum", "lt", "le", "gt", "ge", "eq",
    "neq", "logical_and", "logical_or", "logical_not", "neg", "abs_", "sign", "exp", "log", "log1p", "expm1",
    "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "square", "clip", "where", "cast",
    "sum_", "mean", "max_", "min_", "prod", "argmax", "logsumexp", "softmax", "log_softmax", "one_hot",
    "matmul", "dot", "transpose", "reshape", "broadcast_to", "expand_dims", "squeeze", "flatten",
    "concatenate", "stack", "getitem", "shape_str",
]  # fmt: skip
