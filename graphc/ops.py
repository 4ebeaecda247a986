"""The closed set of primitive ops and their NumPy reference semantics (IMPL). Core layer.
(Over 300 lines: the closed Op set and the NumPy reference of each op, one row each.)

Other tables keyed by `Op` live with their users: SHAPE_RULES in graphc.shape_rules, VJP_RULES in
graphc.passes.vjp_rules, the rewrite rules in graphc.passes, each backend's lowering table in graphc.codegen.
Adding an op is one row in each table; the completeness test names the tables that still lack it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import numpy as np

from .bodies import cond_impl, scan_impl
from .ops_indexing import IMPL_BY_NAME as _INDEXING_IMPL
from .ops_math import IMPL_BY_NAME as _MATH_IMPL
from .ops_math import MATH_DEFINED, math_definitions
from .types import shape_str


class Op(enum.Enum):
    # elementwise, unary
    """The closed set of primitive operations; every Node applies one. Each table (shape rules, NumPy
    semantics, gradients, rewrites, each backend's lowering) has one row per Op.

    >>> gc.exp(gc.vector("x")).owner.op
    <Op.EXP: 'exp'>
    >>> gc.Op("matmul")
    <Op.MATMUL: 'matmul'>
    """

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
    # rounding, integer and special-function math, elementwise (reference semantics in graphc.ops_math)
    FLOOR = "floor"
    CEIL = "ceil"
    ROUND = "round"  # half to even, as np.round; integers unchanged
    TRUNC = "trunc"
    COPYSIGN = "copysign"
    FLOOR_DIV = "floor_divide"  # NumPy's //: the floor of the quotient
    MOD = "mod"  # NumPy's %: x - floor(x / y)·y, with the divisor's sign
    XOR = "xor"  # bitwise, as AND, OR and NOT (logical on bools)
    LSHIFT = "left_shift"
    RSHIFT = "right_shift"  # arithmetic (sign-extending)
    ERF = "erf"
    ERFC = "erfc"
    ASIN = "asin"
    ACOS = "acos"
    ATAN = "atan"
    ATAN2 = "atan2"  # (y, x): the angle of the point (x, y)
    ASINH = "asinh"
    ACOSH = "acosh"
    ATANH = "atanh"
    # creation: no inputs; params: start, stop (a number or a size), step, dtype
    ARANGE = "arange"
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
    GETITEM = "getitem"  # params: index (normalised, see graphc.operators.normalize_index)
    CONCATENATE = "concatenate"  # params: axis
    # numerically careful compound ops (targets of the stabilising rewrites)
    SOFTMAX = "softmax"  # params: axis
    LOG_SOFTMAX = "log_softmax"  # params: axis
    LOGSUMEXP = "logsumexp"  # params: axis (tuple), keepdims
    ONE_HOT = "one_hot"  # params: depth, dtype
    SIZE = "size"  # params: axis (tuple), dtype; the number of elements of the input over axis, as a scalar
    # counter-based random numbers (dropout, noise); params: shape, seed, dtype; input: an int64 counter
    RANDOM_UNIFORM = "random_uniform"
    # data-dependent indexing and scans (reference semantics in graphc.ops_indexing); params: axis (an int)
    GATHER = "gather"  # (x, indices): np.take along axis
    SCATTER_ADD = "scatter_add"  # (a, indices, updates): a + np.add.at along axis; GATHER's transpose
    GATHER_ALONG = "gather_along"  # (x, indices of x's rank): np.take_along_axis
    SCATTER_ADD_ALONG = "scatter_add_along"  # (a, indices, updates): GATHER_ALONG's transpose
    CUMSUM = "cumsum"  # params: axis, reverse (scan from the end)
    CUMPROD = "cumprod"  # params: axis, reverse
    CUMMAX = "cummax"  # params: axis, reverse
    CUMMIN = "cummin"  # params: axis, reverse
    LOGCUMSUMEXP = "logcumsumexp"  # params: axis, reverse
    ARGSORT = "argsort"  # params: axis, descending; stable
    # a fused elementwise kernel; params: kernel (a graphc.kernel.Kernel)
    FUSED = "fused"
    # ops with a body (graphc.bodies): a loop over steps, and a lazy two-way branch
    SCAN = "scan"  # params: body, n_carry, n_seq, length, reverse, save
    COND = "cond"  # params: true_body, false_body


ROUNDING = frozenset({Op.FLOOR, Op.CEIL, Op.ROUND, Op.TRUNC})
SPECIAL = frozenset({Op.ERF, Op.ERFC, Op.ASIN, Op.ACOS, Op.ATAN, Op.ASINH, Op.ACOSH, Op.ATANH})
UNARY = frozenset({
    Op.NEG, Op.ABS, Op.SIGN, Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.SQRT, Op.SIN, Op.COS, Op.TANH,
    Op.SIGMOID, Op.SOFTPLUS, Op.RELU, Op.NOT, Op.CAST, *ROUNDING, *SPECIAL,
})  # fmt: skip
BINARY = frozenset({
    Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM,
    Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE, Op.AND, Op.OR,
    Op.COPYSIGN, Op.FLOOR_DIV, Op.MOD, Op.XOR, Op.LSHIFT, Op.RSHIFT, Op.ATAN2,
})  # fmt: skip
COMPARISONS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE})
BITWISE = frozenset({Op.AND, Op.OR, Op.XOR, Op.NOT, Op.LSHIFT, Op.RSHIFT})  # bools and integers only
ELEMENTWISE = UNARY | BINARY | {Op.WHERE, Op.SCALAR_FN}
# Functions that cost several arithmetic operations per element: loops with them are compute-bound.
TRANSCENDENTAL = frozenset({
    Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.TANH, Op.SIGMOID, Op.SOFTPLUS, Op.SIN, Op.COS, Op.POW,
    *SPECIAL, Op.ATAN2,
})  # fmt: skip
REDUCTIONS = frozenset({Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD})
NO_IDENTITY = frozenset({Op.MAX, Op.MIN, Op.ARGMAX})  # undefined over an empty axis (graphc.sizes)
SCANS = frozenset({Op.CUMSUM, Op.CUMPROD, Op.CUMMAX, Op.CUMMIN, Op.LOGCUMSUMEXP})
BODY_PARAMS: dict[Op, tuple[str, ...]] = {Op.SCAN: ("body",), Op.COND: ("true_body", "false_body")}
"""The ops with a body (graphc.bodies), and which of their params hold a sub-graph (a FunctionGraph)."""


# --- scalar definitions: each elementwise math function once, as a sympy expression of its arguments --------
# Derivatives of ops without a hand-written VJP rule, and of user functions, are derived from these.
def _scalar_definitions() -> dict:
    import sympy  # here, not at import: only differentiation by sympy needs it

    x, y = sympy.symbols("x y", real=True)
    return {
        Op.NEG: ((x,), -x),
        Op.ABS: ((x,), sympy.Abs(x)),
        Op.EXP: ((x,), sympy.exp(x)),
        Op.LOG: ((x,), sympy.log(x)),
        Op.LOG1P: ((x,), sympy.log(1 + x)),
        Op.EXPM1: ((x,), sympy.exp(x) - 1),
        Op.SQRT: ((x,), sympy.sqrt(x)),
        Op.SIN: ((x,), sympy.sin(x)),
        Op.COS: ((x,), sympy.cos(x)),
        Op.TANH: ((x,), sympy.tanh(x)),
        Op.SIGMOID: ((x,), 1 / (1 + sympy.exp(-x))),
        Op.SOFTPLUS: ((x,), sympy.log(1 + sympy.exp(x))),
        Op.RELU: ((x,), sympy.Max(0, x)),
        Op.ADD: ((x, y), x + y),
        Op.SUB: ((x, y), x - y),
        Op.MUL: ((x, y), x * y),
        Op.DIV: ((x, y), x / y),
        Op.POW: ((x, y), x**y),
        Op.MAXIMUM: ((x, y), sympy.Max(x, y)),
        Op.MINIMUM: ((x, y), sympy.Min(x, y)),
        **{Op(name): definition for name, definition in math_definitions().items()},
    }


class _ScalarDefinitions(Mapping):
    """{op: (its sympy symbols, its sympy expression)}; the expressions are built at the first lookup."""

    OPS = (
        Op.NEG, Op.ABS, Op.EXP, Op.LOG, Op.LOG1P, Op.EXPM1, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.SIGMOID,
        Op.SOFTPLUS, Op.RELU, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MAXIMUM, Op.MINIMUM,
        *(Op(name) for name in MATH_DEFINED),
    )  # fmt: skip

    def __init__(self):
        self._built: dict | None = None

    def __getitem__(self, op: Op):
        if self._built is None:
            self._built = _scalar_definitions()
        return self._built[op]

    def __iter__(self):
        return iter(self.OPS)

    def __len__(self) -> int:
        return len(self.OPS)


SCALAR_DEFS = _ScalarDefinitions()


# --- NumPy reference semantics ------------------------------------------------------------------------------
def expit(x, out=None):
    """The logistic sigmoid: scipy's ufunc, imported at the first call (most programs never need scipy)."""
    from scipy.special import expit as scipy_expit

    return scipy_expit(x) if out is None else scipy_expit(x, out=out)


def _reduce(fn: Callable) -> Callable:
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims)


def _softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis is fine
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _mean(x, axis, keepdims):
    """np.mean without its warning for an empty axis: 0/0 is NaN, as every backend gives."""
    total = np.sum(x, axis=axis, keepdims=keepdims, dtype=np.float64 if x.dtype.kind in "biu" else None)
    count = int(np.prod([x.shape[a] for a in (range(x.ndim) if axis is None else np.atleast_1d(axis))]))
    with np.errstate(invalid="ignore"):
        return np.true_divide(total, count)


def _logsumexp(x, axis, keepdims):
    """log Σ exp x, shifted by the maximum; -inf over an empty axis (the log of an empty sum)."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
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


def power(x, y, out=None):
    """x ** y as NumPy 2.4 computes it for one exponent, for every exponent: where y is exactly 0.5 it is
    sqrt(x) (NaN at -inf, -0.0 at -0.0, where C's pow gives inf and 0.0). NumPy 2.4 takes that path only for
    a scalar exponent, NumPy 2.0 never (C's pow); graphc takes it everywhere and with every NumPy, so an
    exponent array, a fused kernel and a constant agree on every backend."""
    roots = None
    if np.result_type(x, y).kind == "f":
        half = np.asarray(y) == 0.5
        if half.any():
            with np.errstate(invalid="ignore"):
                roots = np.sqrt(x)  # before the power: `out` may be x's own buffer
    result = np.power(x, y, out=out)
    if roots is None:
        return result
    if not isinstance(result, np.ndarray):  # a NumPy scalar: x and y were 0-d
        return result.dtype.type(roots)
    np.copyto(result, roots, where=half)
    return result


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
    Op.SIGMOID: expit,
    Op.SOFTPLUS: lambda x: np.logaddexp(x, np.zeros((), x.dtype) if x.dtype.kind == "f" else 0.0),
    Op.RELU: lambda x: np.maximum(x, np.zeros((), x.dtype)),
    Op.NOT: np.invert,  # bitwise: logical_not on bools
    Op.CAST: lambda x, dtype: np.asarray(x).astype(dtype),
    Op.ADD: np.add,
    Op.SUB: np.subtract,
    Op.MUL: np.multiply,
    Op.DIV: np.true_divide,
    Op.POW: power,
    Op.MAXIMUM: np.maximum,
    Op.MINIMUM: np.minimum,
    Op.LT: np.less,
    Op.LE: np.less_equal,
    Op.GT: np.greater,
    Op.GE: np.greater_equal,
    Op.EQ: np.equal,
    Op.NE: np.not_equal,
    Op.AND: np.bitwise_and,  # bitwise: logical on bools
    Op.OR: np.bitwise_or,
    Op.WHERE: np.where,
    Op.SCALAR_FN: lambda *args, fn: fn.impl(*args),
    Op.SUM: _reduce(np.sum),
    Op.MEAN: _mean,
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
    **{Op(name): impl for name, impl in _MATH_IMPL.items()},
    **{Op(name): impl for name, impl in _INDEXING_IMPL.items()},
}
IMPL[Op.SCAN] = scan_impl(IMPL)
IMPL[Op.COND] = cond_impl(IMPL)
"""Reference semantics: IMPL[op](*input_arrays, **params) -> array (a tuple for multi-output ops).

Shapes in params may hold symbolic dimensions; the interpreter substitutes call-time sizes before calling.
"""


# --- how errors name a value --------------------------------------------------------------------------------
def describe(var) -> str:
    """'x (float32 (n, 784))': how errors name an input of a node."""
    name = var.name or "an unnamed value"
    return f"{name} ({var.type.dtype.name} {shape_str(var.type.shape)})"
