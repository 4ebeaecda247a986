"""The closed set of primitive ops. Owns their type/shape rules and NumPy reference semantics (IMPL).

Other tables keyed by `Op` live with their users: VJP_RULES in graphc.passes.autodiff, the rewrite rules in
graphc.passes, each backend's lowering table in graphc.codegen. Adding an op is one row in each table; the
completeness test names the tables that still lack it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.special
import sympy

from .errors import DTypeError, ShapeError
from .types import DTYPES, Type, broadcast_shapes, dims_equal, shape_str


class Op(enum.Enum):
    # elementwise, unary
    NEG = "neg"
    ABS = "abs"
    SIGN = "sign"
    EXP = "exp"
    LOG = "log"
    LOG1P = "log1p"
    EXPM1 = "expm1"
    SQRT = "sqrt"
    SIN = "sin"
    COS = "cos"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    SOFTPLUS = "softplus"
    RELU = "relu"
    NOT = "not"
    CAST = "cast"  # params: dtype
    # elementwise, binary
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"
    NE = "ne"
    AND = "and"
    OR = "or"
    # elementwise, ternary
    WHERE = "where"
    # elementwise, user-declared from a sympy expression; params: fn (a ScalarFunction)
    SCALAR_FN = "scalar_fn"
    # reductions; params: axis (sorted tuple of ints), keepdims
    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PROD = "prod"
    ARGMAX = "argmax"  # params: axis (int or None), keepdims
    # linear algebra
    MATMUL = "matmul"
    # shape and indexing
    TRANSPOSE = "transpose"  # params: perm
    RESHAPE = "reshape"  # params: shape
    BROADCAST_TO = "broadcast_to"  # params: shape
    GETITEM = "getitem"  # params: index (normalised, see graphc.tensor.normalize_index)
    CONCATENATE = "concatenate"  # params: axis
    # numerically careful compound ops (targets of the stabilising rewrites)
    SOFTMAX = "softmax"  # params: axis
    LOG_SOFTMAX = "log_softmax"  # params: axis
    LOGSUMEXP = "logsumexp"  # params: axis (tuple), keepdims
    ONE_HOT = "one_hot"  # params: depth, dtype
    SIZE = "size"  # params: axis (tuple), dtype; the number of elements of the input over axis, as a scalar
    # counter-based random numbers (dropout, noise); params: shape, seed, dtype; input: an int64 counter
    RANDOM_UNIFORM = "random_uniform"
    # a fused elementwise kernel; params: kernel (a graphc.kernel.Kernel)
    FUSED = "fused"


UNARY = frozenset({
    Op.NEG, Op.ABS, Op.SIGN, Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.SQRT, Op.SIN, Op.COS, Op.TANH,
    Op.SIGMOID, Op.SOFTPLUS, Op.RELU, Op.NOT, Op.CAST,
})  # fmt: skip
BINARY = frozenset({
    Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM,
    Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE, Op.AND, Op.OR,
})  # fmt: skip
COMPARISONS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE})
LOGICAL = frozenset({Op.AND, Op.OR, Op.NOT})
ELEMENTWISE = UNARY | BINARY | {Op.WHERE, Op.SCALAR_FN}
# Functions that cost several arithmetic operations per element: loops with them are compute-bound.
TRANSCENDENTAL = frozenset({
    Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.TANH, Op.SIGMOID, Op.SOFTPLUS, Op.SIN, Op.COS, Op.POW,
})  # fmt: skip
REDUCTIONS = frozenset({Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD})

# --- scalar definitions: each elementwise math function once, as a sympy expression of its arguments --------
# Derivatives of ops without a hand-written VJP rule, and of user functions, are derived from these.
_x, _y = sympy.symbols("x y", real=True)
SCALAR_DEFS: dict[Op, tuple[tuple[sympy.Symbol, ...], sympy.Expr]] = {
    Op.NEG: ((_x,), -_x),
    Op.ABS: ((_x,), sympy.Abs(_x)),
    Op.EXP: ((_x,), sympy.exp(_x)),
    Op.LOG: ((_x,), sympy.log(_x)),
    Op.LOG1P: ((_x,), sympy.log(1 + _x)),
    Op.EXPM1: ((_x,), sympy.exp(_x) - 1),
    Op.SQRT: ((_x,), sympy.sqrt(_x)),
    Op.SIN: ((_x,), sympy.sin(_x)),
    Op.COS: ((_x,), sympy.cos(_x)),
    Op.TANH: ((_x,), sympy.tanh(_x)),
    Op.SIGMOID: ((_x,), 1 / (1 + sympy.exp(-_x))),
    Op.SOFTPLUS: ((_x,), sympy.log(1 + sympy.exp(_x))),
    Op.RELU: ((_x,), sympy.Max(0, _x)),
    Op.ADD: ((_x, _y), _x + _y),
    Op.SUB: ((_x, _y), _x - _y),
    Op.MUL: ((_x, _y), _x * _y),
    Op.DIV: ((_x, _y), _x / _y),
    Op.POW: ((_x, _y), _x**_y),
    Op.MAXIMUM: ((_x, _y), sympy.Max(_x, _y)),
    Op.MINIMUM: ((_x, _y), sympy.Min(_x, _y)),
}


# --- NumPy reference semantics ------------------------------------------------------------------------------
def _reduce(fn: Callable) -> Callable:
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims)


def _softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _one_hot(labels, depth, dtype):
    return (labels[..., None] == np.arange(depth)).astype(dtype)


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def random_uniform(counter, shape, seed, dtype):
    """U[0, 1) numbers depending only on (seed, counter, flat C-order index): the same bits on every backend.

    The exact integer hash (all arithmetic on uint64, wrapping; mix = splitmix64's finaliser
    z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31):
        key = mix(uint64(seed) ^ mix(uint64(counter)))
        z_i = mix(key + (i + 1) * 0x9E3779B97F4A7C15)          for flat index i = 0 .. size-1
        float64: u_i = (z_i >> 11) * 2**-53;  float32: u_i = float32((z_i >> 40) * 2**-24)
    Both are exact in their dtype and lie in [0, 1). A caller advances `counter` (e.g. through a shared
    variable's update) to get fresh numbers each step.
    """
    with np.errstate(over="ignore"):
        c = np.asarray(counter).astype(np.int64).astype(np.uint64).reshape(1)
        key = _mix64(np.asarray([seed], dtype=np.int64).astype(np.uint64) ^ _mix64(c))
        size = int(np.prod(shape, dtype=np.int64))
        i = np.arange(1, size + 1, dtype=np.uint64)
        z = _mix64(key + i * np.uint64(0x9E3779B97F4A7C15))
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        u = ((z >> np.uint64(40)).astype(np.float64) * 2.0**-24).astype(np.float32)
    else:
        u = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return u.reshape(tuple(shape))


def _getitem(x, index):
    return x[index_to_python(index)]


def _one_or_tuple(results: tuple):
    """IMPL returns a bare array for a single-output node, a tuple only for several outputs."""
    return results[0] if len(results) == 1 else results


def index_to_python(index: tuple) -> tuple:
    """The normalised index of a GETITEM node back as a NumPy index tuple."""
    out = []
    for item in index:
        kind = item[0]
        if kind == "int":
            out.append(item[1])
        elif kind == "slice":
            out.append(slice(item[1], item[2], item[3]))
        else:
            out.append(None)
    return tuple(out)


IMPL: dict[Op, Callable[..., np.ndarray]] = {
    Op.NEG: np.negative,
    Op.ABS: np.abs,
    Op.SIGN: np.sign,
    Op.EXP: np.exp,
    Op.LOG: np.log,
    Op.LOG1P: np.log1p,
    Op.EXPM1: np.expm1,
    Op.SQRT: np.sqrt,
    Op.SIN: np.sin,
    Op.COS: np.cos,
    Op.TANH: np.tanh,
    Op.SIGMOID: scipy.special.expit,
    Op.SOFTPLUS: lambda x: np.logaddexp(x, np.zeros((), x.dtype) if x.dtype.kind == "f" else 0.0),
    Op.RELU: lambda x: np.maximum(x, np.zeros((), x.dtype)),
    Op.NOT: np.logical_not,
    Op.CAST: lambda x, dtype: np.asarray(x).astype(dtype),
    Op.ADD: np.add,
    Op.SUB: np.subtract,
    Op.MUL: np.multiply,
    Op.DIV: np.true_divide,
    Op.POW: np.power,
    Op.MAXIMUM: np.maximum,
    Op.MINIMUM: np.minimum,
    Op.LT: np.less,
    Op.LE: np.less_equal,
    Op.GT: np.greater,
    Op.GE: np.greater_equal,
    Op.EQ: np.equal,
    Op.NE: np.not_equal,
    Op.AND: np.logical_and,
    Op.OR: np.logical_or,
    Op.WHERE: np.where,
    Op.SCALAR_FN: lambda *args, fn: fn.impl(*args),
    Op.SUM: _reduce(np.sum),
    Op.MEAN: _reduce(np.mean),
    Op.MAX: _reduce(np.max),
    Op.MIN: _reduce(np.min),
    Op.PROD: _reduce(np.prod),
    Op.ARGMAX: lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims),
    Op.MATMUL: np.matmul,
    Op.TRANSPOSE: lambda x, perm: np.transpose(x, perm),
    Op.RESHAPE: lambda x, shape: np.reshape(x, shape),
    Op.BROADCAST_TO: lambda x, shape: np.broadcast_to(x, shape),
    Op.GETITEM: _getitem,
    Op.CONCATENATE: lambda *xs, axis: np.concatenate(xs, axis=axis),
    Op.SOFTMAX: _softmax,
    Op.LOG_SOFTMAX: _log_softmax,
    Op.LOGSUMEXP: _logsumexp,
    Op.ONE_HOT: _one_hot,
    Op.SIZE: lambda x, axis, dtype: np.asarray(np.prod([x.shape[a] for a in axis], dtype=np.int64), dtype),
    Op.RANDOM_UNIFORM: random_uniform,
    Op.FUSED: lambda *xs, kernel: _one_or_tuple(kernel.evaluate(xs)),
}
"""Reference semantics: IMPL[op](*input_arrays, **params) -> array (a tuple for multi-output ops).

Shapes in params may hold symbolic dimensions; the interpreter substitutes call-time sizes before calling.
"""


# --- type and shape rules -----------------------------------------------------------------------------------
def describe(var) -> str:
    """'x (float32 (n, 784))': how errors name an input of a node."""
    name = var.name or "an unnamed value"
    return f"{name} ({var.type.dtype.name} {shape_str(var.type.shape)})"


@lru_cache(maxsize=4096)
def _numpy_result_dtype(op: Op, dtypes: tuple[str, ...], param_items: tuple) -> np.dtype:
    """The dtype NumPy gives for this op on these dtypes: dtype rules are NumPy's, by construction."""
    params = dict(param_items)
    dummies = [np.ones((1,), dtype=d) for d in dtypes]
    with np.errstate(all="ignore"):
        out = IMPL[op](*dummies, **params)
    return np.asarray(out).dtype


_SUPPORTED_DTYPES = frozenset(np.dtype(d) for d in DTYPES)  # compared by object: dtype.name is slow


def _elementwise_types(op, inputs, params):
    try:  # messages are built only on failure: this runs for every node a pass rebuilds
        shape = broadcast_shapes(*(v.type.shape for v in inputs))
    except ShapeError:
        verb = "combine" if op is not Op.WHERE else "select with"
        what = f"{op.value}: {verb} " + " and ".join(describe(v) for v in inputs)
        shape = broadcast_shapes(*(v.type.shape for v in inputs), what=what)
    if op in LOGICAL and any(v.type.dtype.kind != "b" for v in inputs):
        raise DTypeError(f"{op.value} takes bool inputs, got " + ", ".join(describe(v) for v in inputs))
    if op is Op.WHERE and inputs[0].type.dtype.kind != "b":
        raise DTypeError(
            f"where: the condition {describe(inputs[0])} must be bool (compare first, e.g. x > 0)"
        )
    if op is Op.SCALAR_FN:
        dtype = params["fn"].result_dtype(tuple(v.type.dtype.name for v in inputs))
    else:
        param_items = tuple(sorted(params.items()))
        try:
            # dtypes hash fast
            dtype = _numpy_result_dtype(op, tuple(v.type.dtype for v in inputs), param_items)
        except TypeError as exc:  # NumPy refuses some bool math (-b, a - b): say so in graphc's terms
            operands = " and ".join(describe(v) for v in inputs)
            raise DTypeError(f"{op.value} cannot take {operands}: {exc}") from None
        if dtype not in _SUPPORTED_DTYPES:  # NumPy gives float16 for math on bools; graphc has no float16
            operands = " and ".join(describe(v) for v in inputs)
            raise DTypeError(f"{op.value} cannot take {operands}; cast first, e.g. gc.cast(x, 'float32')")
    return (Type(dtype, shape),)


def _reduction_types(op, inputs, params):
    (x,) = inputs
    axis, keepdims = params["axis"], params["keepdims"]
    axes = range(x.type.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    for a in axes:
        if not 0 <= a < x.type.ndim:
            raise ShapeError(f"{op.value}: axis {a} is out of range for {describe(x)}")
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.type.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.type.shape) if i not in axes)
    if op is Op.ARGMAX:
        return (Type("int64", shape),)
    if op is Op.LOGSUMEXP:
        return (Type(_float_dtype(op, x), shape),)
    param_items = (("axis", tuple(range(min(1, x.type.ndim)))), ("keepdims", False))
    dtype = _numpy_result_dtype(op, (x.type.dtype,), param_items)
    return (Type(dtype, shape),)


def _float_dtype(op, x):
    if x.type.dtype.kind != "f":
        raise DTypeError(f"{op.value} needs a float input, got {describe(x)}; use gc.cast(x, 'float32')")
    return x.type.dtype


def _matmul_types(op, inputs, params):
    a, b = inputs
    if a.type.ndim == 0 or b.type.ndim == 0:
        raise ShapeError(f"matmul: cannot multiply a scalar: {describe(a)} @ {describe(b)}; use *")
    if a.type.dtype.kind == "b" or b.type.dtype.kind == "b":
        raise DTypeError(f"matmul: bool operands are not supported: {describe(a)} @ {describe(b)}")
    ashape = (1,) + a.type.shape if a.type.ndim == 1 else a.type.shape
    bshape = b.type.shape + (1,) if b.type.ndim == 1 else b.type.shape
    if not dims_equal(ashape[-1], bshape[-2]):
        raise ShapeError(
            f"matmul: cannot multiply {describe(a)} by {describe(b)}: "
            f"inner dimensions {ashape[-1]} vs {bshape[-2]}"
        )
    try:  # the message only on failure: passes rebuild many matmuls
        batch = broadcast_shapes(ashape[:-2], bshape[:-2])
    except ShapeError:
        what = f"matmul batch dimensions of {describe(a)} and {describe(b)}"
        batch = broadcast_shapes(ashape[:-2], bshape[:-2], what=what)
    shape = batch + ((ashape[-2],) if a.type.ndim > 1 else ()) + ((bshape[-1],) if b.type.ndim > 1 else ())
    return (Type(np.result_type(a.type.dtype, b.type.dtype), shape),)


def _transpose_types(op, inputs, params):
    (x,) = inputs
    perm = params["perm"]
    if sorted(perm) != list(range(x.type.ndim)):
        raise ShapeError(f"transpose: {perm} is not a permutation of the axes of {describe(x)}")
    return (Type(x.type.dtype, tuple(x.type.shape[p] for p in perm)),)


def _reshape_types(op, inputs, params):
    (x,) = inputs
    from .types import dim_product

    shape = params["shape"]
    if not dims_equal(dim_product(x.type.shape), dim_product(shape)):
        raise ShapeError(f"reshape: cannot reshape {describe(x)} to {shape_str(shape)}: sizes differ")
    return (Type(x.type.dtype, shape),)


def _broadcast_to_types(op, inputs, params):
    (x,) = inputs
    shape = params["shape"]
    got = broadcast_shapes(x.type.shape, shape, what=f"broadcast_to {shape_str(shape)}: {describe(x)}")
    if len(got) != len(shape) or not all(dims_equal(g, s) for g, s in zip(got, shape, strict=True)):
        raise ShapeError(f"broadcast_to: cannot broadcast {describe(x)} to {shape_str(shape)}")
    return (Type(x.type.dtype, shape),)


def _getitem_types(op, inputs, params):
    from .tensor import index_result_shape

    (x,) = inputs
    return (Type(x.type.dtype, index_result_shape(x, params["index"])),)


def _concatenate_types(op, inputs, params):
    axis = params["axis"]
    first = inputs[0]
    total = 0
    for v in inputs:
        if v.type.ndim != first.type.ndim:
            raise ShapeError(f"concatenate: {describe(v)} and {describe(first)} have different ranks")
        for i, (d, e) in enumerate(zip(v.type.shape, first.type.shape, strict=True)):
            if i != axis and not dims_equal(d, e):
                raise ShapeError(
                    f"concatenate along axis {axis}: {describe(v)} and {describe(first)} differ in "
                    f"dimension {i}"
                )
        total = total + v.type.shape[axis]
    dtype = np.result_type(*(v.type.dtype for v in inputs))
    shape = tuple(total if i == axis else d for i, d in enumerate(first.type.shape))
    return (Type(dtype, shape),)


def _softmax_types(op, inputs, params):
    (x,) = inputs
    if not 0 <= params["axis"] < max(x.type.ndim, 1):
        raise ShapeError(f"{op.value}: axis {params['axis']} is out of range for {describe(x)}")
    return (Type(_float_dtype(op, x), x.type.shape),)


def _one_hot_types(op, inputs, params):
    (labels,) = inputs
    if labels.type.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be integers, got {describe(labels)}")
    return (Type(params["dtype"], labels.type.shape + (params["depth"],)),)


def _size_types(op, inputs, params):
    (x,) = inputs
    if any(not -x.type.ndim <= a < x.type.ndim for a in params["axis"]):
        raise ShapeError(f"size: axis {params['axis']} is out of range for {describe(x)}")
    return (Type(params["dtype"], ()),)


def _random_uniform_types(op, inputs, params):
    (counter,) = inputs
    if counter.type.dtype.kind not in "iu" or counter.type.ndim != 0:
        raise DTypeError(f"random_uniform: the counter must be an integer scalar, got {describe(counter)}")
    if np.dtype(params["dtype"]).kind != "f":
        raise DTypeError(f"random_uniform: dtype must be float32 or float64, not {params['dtype']}")
    return (Type(params["dtype"], params["shape"]),)


def _fused_types(op, inputs, params):
    return params["kernel"].output_types(inputs)


SHAPE_RULES: dict[Op, Callable] = {
    **{op: _elementwise_types for op in ELEMENTWISE if op is not Op.CAST},
    Op.CAST: lambda op, inputs, params: (Type(params["dtype"], inputs[0].type.shape),),
    **{op: _reduction_types for op in REDUCTIONS | {Op.ARGMAX, Op.LOGSUMEXP}},
    Op.MATMUL: _matmul_types,
    Op.TRANSPOSE: _transpose_types,
    Op.RESHAPE: _reshape_types,
    Op.BROADCAST_TO: _broadcast_to_types,
    Op.GETITEM: _getitem_types,
    Op.CONCATENATE: _concatenate_types,
    Op.SOFTMAX: _softmax_types,
    Op.LOG_SOFTMAX: _softmax_types,
    Op.ONE_HOT: _one_hot_types,
    Op.SIZE: _size_types,
    Op.RANDOM_UNIFORM: _random_uniform_types,
    Op.FUSED: _fused_types,
}
"""SHAPE_RULES[op](op, input_variables, params) -> output Types; raises ShapeError/DTypeError naming
inputs."""

ARITY: dict[Op, int | None] = {
    **{op: 1 for op in UNARY},
    **{op: 2 for op in BINARY},
    Op.WHERE: 3,
    **{op: 1 for op in REDUCTIONS | {Op.ARGMAX, Op.LOGSUMEXP}},
    Op.MATMUL: 2,
    Op.TRANSPOSE: 1,
    Op.RESHAPE: 1,
    Op.BROADCAST_TO: 1,
    Op.GETITEM: 1,
    Op.SOFTMAX: 1,
    Op.LOG_SOFTMAX: 1,
    Op.ONE_HOT: 1,
    Op.SIZE: 1,
    Op.RANDOM_UNIFORM: 1,
    Op.CONCATENATE: None,
    Op.SCALAR_FN: None,
    Op.FUSED: None,
}
"""How many inputs each op takes (None: variadic)."""


def infer_types(op: Op, inputs, params: dict) -> tuple[Type, ...]:
    arity = ARITY[op]
    if arity is not None and len(inputs) != arity:
        raise TypeError(f"{op.value} takes {arity} inputs, got {len(inputs)}")
    return SHAPE_RULES[op](op, inputs, params)
