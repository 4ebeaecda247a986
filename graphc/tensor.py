"""The user-facing graph builders as functions (gc.exp, gc.sum, gc.reshape, ...). Core layer.
(Over 300 lines: some sixty builders, each with a runnable example in its docstring.)

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
from .types import Type, anonymous, as_dtype, as_shape, shape_str


# --- leaves -------------------------------------------------------------------------------------------------
def tensor(name: str, shape=(), dtype="float64") -> Variable:
    """A symbolic input. `shape` holds ints, names of sizes known at call time, and None for a size left
    unnamed (anonymous: ``x.0``, this input's own). One name is one size wherever it appears.

    >>> gc.tensor("x", ("n", 784), "float32")
    <Variable x: float32(n, 784)>
    >>> gc.tensor("x", (None, 3))
    <Variable x: float64(x.0, 3)>
    """
    if isinstance(shape, (int, str, np.integer)) or shape is None:
        shape = (shape,)
    dims = tuple(anonymous(name, axis) if d is None else d for axis, d in enumerate(shape))
    return Variable(Type(dtype, as_shape(dims)), name)


def scalar(name: str, dtype="float64") -> Variable:
    """A symbolic scalar input (shape ()).

    >>> gc.scalar("lr", "float32")
    <Variable lr: float32()>
    """
    return tensor(name, (), dtype)


def vector(name: str, size=None, dtype="float64") -> Variable:
    """A symbolic vector input; its size is anonymous unless given (an int or a name).

    >>> gc.vector("v"), gc.vector("b", 10)
    (<Variable v: float64(v.0,)>, <Variable b: float64(10,)>)
    """
    return tensor(name, (size,), dtype)


def matrix(name: str, shape=(None, None), dtype="float64") -> Variable:
    """A symbolic matrix input; its sizes are anonymous unless given, so any two matrices can be multiplied
    (the inner sizes are checked when the function is called).

    >>> x, W = gc.matrix("x"), gc.matrix("W")
    >>> print((x @ W).type)
    float64(x.0, W.1)
    """
    return tensor(name, shape, dtype)


def shared(value, name: str | None = None, dtype=None) -> SharedVariable:
    """A persistent value (a parameter or optimiser state) that compiled functions read and update.

    >>> b = gc.shared(np.zeros(3), name="b")
    >>> f = gc.function([], [], updates={b: b + 1})
    >>> _ = f(), f()
    >>> b.get_value()
    array([2., 2., 2.])
    """
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


def _example(call: str, values: str, result: str) -> str:
    """A builder's docstring example: `call` on a vector x holding `values` gives `result`."""
    return f"\n\n    >>> x = gc.vector('x')\n    >>> gc.evaluate({call}, {{x: {values}}})\n    {result}\n"


def _binary(op: Op, what: str, *example: str):
    def build(a, b) -> Variable:
        return apply(op, _pair(a, b))

    build.__name__ = op.value
    build.__doc__ = f"Elementwise {what}, with NumPy broadcasting." + _example(*example)
    return build


def _unary(op: Op, what: str, *example: str):
    def build(x) -> Variable:
        return apply(op, (as_variable(x),))

    build.__name__ = op.value
    build.__doc__ = f"Elementwise {what}." + _example(*example)
    return build


# One row per builder: the op, what it computes, and its docstring's example (call, x's values, result).
add = _binary(Op.ADD, "a + b", "gc.add(x, 1.0)", "[1.0, 2.0]", "array([2., 3.])")
sub = _binary(Op.SUB, "a - b", "gc.sub(x, 1.0)", "[1.0, 2.0]", "array([0., 1.])")
mul = _binary(Op.MUL, "a * b", "gc.mul(x, 3.0)", "[1.0, 2.0]", "array([3., 6.])")
true_divide = _binary(Op.DIV, "a / b", "gc.true_divide(x, 4.0)", "[1.0, 2.0]", "array([0.25, 0.5 ])")
power = _binary(Op.POW, "a ** b", "gc.power(x, 2.0)", "[1.0, 3.0]", "array([1., 9.])")
maximum = _binary(Op.MAXIMUM, "max(a, b)", "gc.maximum(x, 0.0)", "[-1.0, 2.0]", "array([0., 2.])")
minimum = _binary(Op.MINIMUM, "min(a, b)", "gc.minimum(x, 0.0)", "[-1.0, 2.0]", "array([-1.,  0.])")
lt = _binary(Op.LT, "a < b", "gc.lt(x, 1.5)", "[1.0, 2.0]", "array([ True, False])")
le = _binary(Op.LE, "a <= b", "gc.le(x, 1.0)", "[1.0, 2.0]", "array([ True, False])")
gt = _binary(Op.GT, "a > b", "gc.gt(x, 1.5)", "[1.0, 2.0]", "array([False,  True])")
ge = _binary(Op.GE, "a >= b", "gc.ge(x, 2.0)", "[1.0, 2.0]", "array([False,  True])")
eq = _binary(Op.EQ, "a == b", "gc.eq(x, 2.0)", "[1.0, 2.0]", "array([False,  True])")
neq = _binary(Op.NE, "a != b", "gc.neq(x, 2.0)", "[1.0, 2.0]", "array([ True, False])")
neg = _unary(Op.NEG, "-x", "gc.neg(x)", "[1.0, -2.0]", "array([-1.,  2.])")
abs_ = _unary(Op.ABS, "|x|", "gc.abs(x)", "[1.0, -2.0]", "array([1., 2.])")
sign = _unary(Op.SIGN, "sign: -1, 0 or 1", "gc.sign(x)", "[0.0, -2.0]", "array([ 0., -1.])")
exp = _unary(Op.EXP, "eˣ", "gc.exp(x)", "[0.0, 1.0]", "array([1.        , 2.71828183])")
log = _unary(Op.LOG, "natural logarithm", "gc.log(x)", "[1.0, 100.0]", "array([0.        , 4.60517019])")
log1p = _unary(
    Op.LOG1P, "log(1 + x), exact for tiny x", "gc.log1p(x)", "[0.0, 1e-10]", "array([0.e+00, 1.e-10])"
)
expm1 = _unary(Op.EXPM1, "eˣ - 1, exact for tiny x", "gc.expm1(x)", "[0.0, 1e-10]", "array([0.e+00, 1.e-10])")
sqrt = _unary(Op.SQRT, "square root", "gc.sqrt(x)", "[4.0, 9.0]", "array([2., 3.])")
sin = _unary(Op.SIN, "sine", "gc.sin(x)", "[0.0, np.pi / 2]", "array([0., 1.])")
cos = _unary(Op.COS, "cosine", "gc.cos(x)", "[0.0, np.pi]", "array([ 1., -1.])")
tanh = _unary(Op.TANH, "hyperbolic tangent", "gc.tanh(x)", "[0.0, 1.0]", "array([0.        , 0.76159416])")
sigmoid = _unary(
    Op.SIGMOID,
    "logistic sigmoid 1 / (1 + e⁻ˣ)",
    "gc.sigmoid(x)",
    "[0.0, 2.0]",
    "array([0.5       , 0.88079708])",
)
softplus = _unary(
    Op.SOFTPLUS,
    "softplus log(1 + eˣ), without overflow",
    "gc.softplus(x)",
    "[0.0, 50.0]",
    "array([ 0.69314718, 50.        ])",
)
relu = _unary(Op.RELU, "rectifier max(0, x)", "gc.relu(x)", "[-1.0, 2.0]", "array([0., 2.])")
divide = true_divide


def truth(x: Variable) -> Variable:
    """x as bool: nonzero is true (NumPy's truth of a number); a bool value as it is.

    >>> from graphc.tensor import truth
    >>> x = gc.vector("x")
    >>> gc.evaluate(truth(x), {x: [0.0, 2.0]})
    array([False,  True])
    """
    return x if x.type.dtype.kind == "b" else neq(x, 0)


def logical_and(a, b) -> Variable:
    """Elementwise logical and of the truth of a and b (nonzero is true), as np.logical_and.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.logical_and(x, x > 1), {x: [0.0, 1.0, 2.0]})
    array([False, False,  True])
    """
    a, b = _pair(a, b)
    return apply(Op.AND, (truth(a), truth(b)))


def logical_or(a, b) -> Variable:
    """Elementwise logical or of the truth of a and b (nonzero is true), as np.logical_or.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.logical_or(x < 0, x > 2), {x: [1.0, 3.0]})
    array([False,  True])
    """
    a, b = _pair(a, b)
    return apply(Op.OR, (truth(a), truth(b)))


def logical_not(x) -> Variable:
    """Elementwise logical not (x == 0 for numbers), as np.logical_not.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.logical_not(x), {x: [0.0, 3.0]})
    array([ True, False])
    """
    return apply(Op.NOT, (truth(as_variable(x)),))


def square(x) -> Variable:
    """x * x.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.square(x), {x: [1.0, -3.0]})
    array([1., 9.])
    """
    x = as_variable(x)
    return mul(x, x)


def clip(x, low, high) -> Variable:
    """Elementwise clamp to [low, high], NumPy's np.clip (high wins where low > high).

    The gradient passes through inside the closed interval, bounds included, and is 0 outside (PyTorch's
    clamp, JAX and TensorFlow): built from comparisons and `where`, not maximum/minimum, whose ties would
    share it with the bound.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.clip(x, -1, 1), {x: [-5.0, 0.5, 5.0]})
    array([-1. ,  0.5,  1. ])
    >>> gc.evaluate(gc.grad(gc.clip(x, -1, 1).sum(), [x])[0], {x: [-5.0, 1.0, 5.0]})
    array([0., 1., 0.])
    """
    x = as_variable(x)
    raised = where(lt(x, low), low, x)
    return where(gt(raised, high), high, raised)


def where(cond, a, b) -> Variable:
    """Elementwise choice: a where cond else b (NumPy broadcasting over all three).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.where(x > 0, x, 0.0), {x: [-1.0, 2.0]})
    array([0., 2.])
    """
    cond = as_variable(cond)
    if not isinstance(a, Variable) and not isinstance(b, Variable):  # where(x > 0, 1.0, 0.0): NumPy's dtypes
        a, b = as_variable(a), as_variable(b)
    a, b = _pair(a, b)
    return apply(Op.WHERE, (cond, a, b))


def cast(x, dtype) -> Variable:
    """Convert x to `dtype` (float→int truncates, as NumPy's astype).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.cast(x, "int64"), {x: [1.7, -1.7]})
    array([ 1, -1])
    """
    return as_variable(x).astype(dtype)


# --- reductions ---------------------------------------------------------------------------------------------
def _reduction(op: Op, what: str, call: str, result: str):
    def build(x, axis=None, keepdims: bool = False) -> Variable:
        return reduction(as_variable(x), op, axis, keepdims)

    build.__name__ = op.value
    build.__doc__ = (
        f"The {what} over `axis` (an int, a tuple, or None for all axes), NumPy-style.\n\n"
        f"    >>> m = gc.matrix('m')\n"
        f"    >>> gc.evaluate({call}, {{m: [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}})\n"
        f"    {result}\n"
    )
    return build


sum_ = _reduction(Op.SUM, "sum", "gc.sum(m, axis=0)", "array([3., 5., 7.])")
mean = _reduction(Op.MEAN, "mean", "gc.mean(m, axis=1)", "array([1., 4.])")
max_ = _reduction(Op.MAX, "maximum", "gc.max(m)", "array(5.)")
min_ = _reduction(Op.MIN, "minimum", "gc.min(m, axis=1)", "array([0., 3.])")
prod = _reduction(Op.PROD, "product", "gc.prod(m, axis=0)", "array([ 0.,  4., 10.])")
logsumexp = _reduction(
    Op.LOGSUMEXP,
    "log Σ eˣ (computed without overflow)",
    "gc.logsumexp(m * 0, axis=1)",
    "array([1.09861229, 1.09861229])",
)


def argmax(x, axis: int | None = None, keepdims: bool = False) -> Variable:
    """The index of the largest element along `axis` (of the flattened array when None), as int64.

    >>> m = gc.matrix("m")
    >>> gc.evaluate(gc.argmax(m, axis=1), {m: [[1.0, 3.0, 2.0], [5.0, 4.0, 0.0]]})
    array([1, 0])
    """
    return as_variable(x).argmax(axis, keepdims)


def softmax(x, axis: int = -1) -> Variable:
    """exp(x) / Σ exp(x) along `axis`, computed stably (the largest entry is subtracted first).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.softmax(x), {x: [0.0, np.log(3.0)]})
    array([0.25, 0.75])
    """
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "softmax") or (0,)
    return apply(Op.SOFTMAX, (x,), axis=axis)


def log_softmax(x, axis: int = -1) -> Variable:
    """log(softmax(x)) along `axis`, without the underflow of taking the log of a tiny probability.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.log_softmax(x), {x: [0.0, 0.0]})
    array([-0.69314718, -0.69314718])
    """
    x = as_variable(x)
    (axis,) = normalize_axes(x, axis, "log_softmax") or (0,)
    return apply(Op.LOG_SOFTMAX, (x,), axis=axis)


def size(x, axis=None, dtype="float64") -> Variable:
    """How many elements of `x` lie along `axis` (all axes by default), as a scalar of `dtype`: the count a
    mean divides by, known only at call time when the shape has named sizes.

    >>> m = gc.matrix("m")
    >>> gc.evaluate(gc.size(m, axis=0), {m: np.zeros((2, 3))})
    array(2.)
    """
    x = as_variable(x)
    axes = normalize_axes(x, axis, "size")
    return apply(Op.SIZE, (x,), axis=tuple(sorted(axes)), dtype=as_dtype(dtype))


def one_hot(labels, depth: int, dtype="float64") -> Variable:
    """Integer labels (any shape) to one-hot vectors along a new last axis of size `depth`.

    >>> y = gc.vector("y", dtype="int64")
    >>> gc.evaluate(gc.one_hot(y, 3), {y: [2, 0]})
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    if not isinstance(depth, int | np.integer) or depth < 0:
        raise ShapeError(
            f"one_hot: depth must be a number known when the graph is built, got {depth}{here()}"
        )
    return apply(Op.ONE_HOT, (as_variable(labels),), depth=int(depth), dtype=as_dtype(dtype))


# --- linear algebra -----------------------------------------------------------------------------------------
def matmul(a, b) -> Variable:
    """NumPy's matmul: matrix products, with vectors promoted and batch dimensions broadcast. Sizes that must
    match but are not known to (x.1 and W.0 below) are checked when the function is called.

    >>> x, W = gc.matrix("x"), gc.matrix("W")
    >>> gc.evaluate(gc.matmul(x, W), {x: [[1.0, 2.0]], W: [[3.0], [4.0]]})
    array([[11.]])
    """
    return apply(Op.MATMUL, (as_variable(a), as_variable(b)))


def dot(a, b) -> Variable:
    """np.dot for vectors and matrices (inner product, matrix-vector, matrix-matrix).

    >>> v = gc.vector("v")
    >>> gc.evaluate(gc.dot(v, v), {v: [3.0, 4.0]})
    array(25.)
    """
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
    """Permute the axes (reversed by default), as np.transpose.

    >>> gc.transpose(gc.tensor("x", (2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return permute(as_variable(x), None if axes is None else tuple(axes))


def reshape(x, shape) -> Variable:
    """Reshape; one entry may be -1 (inferred, also for symbolic sizes).

    >>> gc.reshape(gc.tensor("x", ("n", 6)), (-1, 3)).shape
    (2*n, 3)
    """
    return as_variable(x).reshape(shape)


def broadcast_to(x, shape) -> Variable:
    """x broadcast to `shape` (NumPy's rules; a size of x other than 1 must match the target's).

    >>> gc.broadcast_to(gc.vector("b", 3), (4, 3)).shape
    (4, 3)
    """
    x = as_variable(x)
    shape = as_shape(shape)
    if shape == x.type.shape:
        return x
    return apply(Op.BROADCAST_TO, (x,), shape=shape)


def expand_dims(x, axis: int) -> Variable:
    """A new axis of size 1 at position `axis`.

    >>> gc.expand_dims(gc.vector("v", 3), 0).shape
    (1, 3)
    """
    x = as_variable(x)
    axis = axis % (x.type.ndim + 1)
    return reshape(x, x.type.shape[:axis] + (1,) + x.type.shape[axis:])


def squeeze(x, axis=None) -> Variable:
    """Drop axes of size 1 (all of them, or those in `axis`, which must have size 1).

    >>> gc.squeeze(gc.tensor("x", (1, 3, 1))).shape
    (3,)
    """
    return as_variable(x).squeeze(axis)


def flatten(x) -> Variable:
    """x as one axis (row-major order).

    >>> gc.flatten(gc.tensor("x", (2, 3))).shape
    (6,)
    """
    return as_variable(x).flatten()


def concatenate(xs: Sequence, axis: int = 0) -> Variable:
    """Join along an existing axis; the other sizes must match (checked at call time where only then known).

    >>> a, b = gc.vector("a"), gc.vector("b")
    >>> gc.evaluate(gc.concatenate([a, b]), {a: [1.0], b: [2.0, 3.0]})
    array([1., 2., 3.])
    """
    xs = [as_variable(x) for x in xs]
    if not xs:
        raise ShapeError("concatenate needs at least one input")
    (axis,) = normalize_axes(xs[0], axis, "concatenate")
    if len(xs) == 1:
        return xs[0]
    return apply(Op.CONCATENATE, xs, axis=axis)


def stack(xs: Sequence, axis: int = 0) -> Variable:
    """Join along a new axis; every input must have the same shape.

    >>> a, b = gc.vector("a"), gc.vector("b")
    >>> gc.evaluate(gc.stack([a, b]), {a: [1.0, 2.0], b: [3.0, 4.0]})
    array([[1., 2.],
           [3., 4.]])
    """
    xs = [as_variable(x) for x in xs]
    if not xs:
        raise ShapeError("stack needs at least one input")
    axis = axis % (xs[0].type.ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


# --- indexing -----------------------------------------------------------------------------------------------
def getitem(x, index) -> Variable:
    """x[index] with basic indexing (ints, slices, None, ...): the same as writing x[index].

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.getitem(x, slice(1, None)), {x: [1.0, 2.0, 3.0]})
    array([2., 3.])
    """
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
