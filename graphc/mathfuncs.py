"""Builders of the rounding, integer, bitwise and special-function ops (gc.floor, gc.floor_divide, gc.erf,
...), NumPy's names and semantics. Core layer: each ends in graph.apply (through graphc.tensor's helpers).

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> f = gc.function([x], [gc.floor(x), x // 2.0, x % 2.0, gc.round(x)])
    >>> [a.tolist() for a in f(np.array([-2.5, 3.5]))]
    [[-3.0, 3.0], [-2.0, 1.0], [1.5, 1.5], [-2.0, 4.0]]

Integer division by zero (`//` and `%` of integers by 0) is an error on every backend (NumPy gives 0 and a
warning). Floats follow NumPy: x // 0.0 is ±inf or NaN, x % 0.0 is NaN.
"""

from __future__ import annotations

from .errors import DTypeError
from .graph import Variable, apply, as_variable
from .ops import Op, describe
from .origin import here
from .tensor import _binary, _unary, mul, neq, true_divide, truth


def _named(build, name: str):
    """A builder of graphc.tensor's _unary/_binary under NumPy's name (arcsin, not the op's asin)."""
    build.__name__ = build.__qualname__ = name
    return build


# One row per builder: the op, what it computes, and its docstring's example (call, x's values, result).
floor = _named(
    _unary(Op.FLOOR, "floor (np.floor)", "gc.floor(x)", "[-1.5, 2.5]", "array([-2.,  2.])"), "floor"
)
ceil = _named(_unary(Op.CEIL, "ceiling (np.ceil)", "gc.ceil(x)", "[-1.5, 2.5]", "array([-1.,  3.])"), "ceil")
trunc = _named(
    _unary(Op.TRUNC, "truncation toward 0 (np.trunc)", "gc.trunc(x)", "[-1.5, 2.5]", "array([-1.,  2.])"),
    "trunc",
)
erf = _named(
    _unary(
        Op.ERF,
        "error function (scipy.special.erf)",
        "gc.erf(x)",
        "[0.0, 1.0]",
        "array([0.        , 0.84270079])",
    ),
    "erf",
)
erfc = _named(
    _unary(
        Op.ERFC,
        "complementary error function 1 - erf(x), exact in the tail",
        "gc.erfc(x)",
        "[0.0, 10.0]",
        "array([1.00000000e+00, 2.08848758e-45])",
    ),
    "erfc",
)
arcsin = _named(
    _unary(
        Op.ASIN, "inverse sine (np.arcsin)", "gc.arcsin(x)", "[0.0, 1.0]", "array([0.        , 1.57079633])"
    ),
    "arcsin",
)
arccos = _named(
    _unary(
        Op.ACOS, "inverse cosine (np.arccos)", "gc.arccos(x)", "[1.0, 0.0]", "array([0.        , 1.57079633])"
    ),
    "arccos",
)
arctan = _named(
    _unary(
        Op.ATAN,
        "inverse tangent (np.arctan)",
        "gc.arctan(x)",
        "[0.0, 1.0]",
        "array([0.        , 0.78539816])",
    ),
    "arctan",
)
arcsinh = _named(
    _unary(
        Op.ASINH,
        "inverse hyperbolic sine (np.arcsinh)",
        "gc.arcsinh(x)",
        "[0.0, 1.0]",
        "array([0.        , 0.88137359])",
    ),
    "arcsinh",
)
arccosh = _named(
    _unary(
        Op.ACOSH,
        "inverse hyperbolic cosine (np.arccosh)",
        "gc.arccosh(x)",
        "[1.0, 2.0]",
        "array([0.       , 1.3169579])",
    ),
    "arccosh",
)
arctanh = _named(
    _unary(
        Op.ATANH,
        "inverse hyperbolic tangent (np.arctanh)",
        "gc.arctanh(x)",
        "[0.0, 0.5]",
        "array([0.        , 0.54930614])",
    ),
    "arctanh",
)
invert = _named(
    _unary(
        Op.NOT,
        "bitwise not ~x (np.invert; logical on bools)",
        "gc.invert(gc.cast(x, 'int64'))",
        "[0.0, 5.0]",
        "array([-1, -6])",
    ),
    "invert",
)
copysign = _named(
    _binary(
        Op.COPYSIGN,
        "|a| with the sign of b (np.copysign)",
        "gc.copysign(x, -1.0)",
        "[1.0, -2.0]",
        "array([-1., -2.])",
    ),
    "copysign",
)
arctan2 = _named(
    _binary(
        Op.ATAN2,
        "angle of the point (b, a) (np.arctan2(a, b))",
        "gc.arctan2(x, -1.0)",
        "[0.0, -0.0]",
        "array([ 3.14159265, -3.14159265])",
    ),
    "arctan2",
)
floor_divide = _named(
    _binary(
        Op.FLOOR_DIV,
        "floor division a // b (np.floor_divide; integer division by 0 is an error)",
        "gc.floor_divide(x, 2.0)",
        "[7.0, -7.0]",
        "array([ 3., -4.])",
    ),
    "floor_divide",
)
mod = _named(
    _binary(
        Op.MOD,
        "remainder a % b with the sign of b (np.mod)",
        "gc.mod(x, 2.0)",
        "[7.0, -7.0]",
        "array([1., 1.])",
    ),
    "mod",
)
bitwise_and = _named(
    _binary(
        Op.AND,
        "bitwise and a & b (np.bitwise_and; logical on bools)",
        "gc.bitwise_and(gc.cast(x, 'int64'), 6)",
        "[12.0, -1.0]",
        "array([4, 6])",
    ),
    "bitwise_and",
)
bitwise_or = _named(
    _binary(
        Op.OR,
        "bitwise or a | b (np.bitwise_or; logical on bools)",
        "gc.bitwise_or(gc.cast(x, 'int64'), 2)",
        "[12.0, 1.0]",
        "array([14,  3])",
    ),
    "bitwise_or",
)
bitwise_xor = _named(
    _binary(
        Op.XOR,
        "bitwise exclusive or a ^ b (np.bitwise_xor; logical on bools)",
        "gc.bitwise_xor(gc.cast(x, 'int64'), 3)",
        "[12.0, 1.0]",
        "array([15,  2])",
    ),
    "bitwise_xor",
)
left_shift = _named(
    _binary(
        Op.LSHIFT,
        "a << b (np.left_shift; by the width or more: 0)",
        "gc.left_shift(gc.cast(x, 'int64'), 4)",
        "[1.0, 3.0]",
        "array([16, 48])",
    ),
    "left_shift",
)
right_shift = _named(
    _binary(
        Op.RSHIFT,
        "arithmetic a >> b (np.right_shift)",
        "gc.right_shift(gc.cast(x, 'int64'), 2)",
        "[-16.0, 16.0]",
        "array([-4,  4])",
    ),
    "right_shift",
)
remainder, bitwise_not = mod, invert
asin, acos, atan, atan2, asinh, acosh, atanh = arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh


def round(x, decimals: int = 0) -> Variable:  # noqa: A001 - NumPy's name
    """np.round: half to even (0.5 -> 0, 1.5 -> 2), to `decimals` places (as NumPy: x·10ᵈ rounded, then
    divided by 10ᵈ); integers are unchanged for decimals >= 0.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.round(x))(np.array([0.5, 1.5, -2.5])).tolist()
        [0.0, 2.0, -2.0]
        >>> gc.function([x], gc.round(x, 1))(np.array([0.25, 1.26])).tolist()
        [0.2, 1.3]
    """
    x = as_variable(x)
    decimals = int(decimals)
    if x.type.dtype.kind in "iub":
        if decimals < 0:
            raise DTypeError(f"round: negative decimals of the integer {describe(x)}; cast first{here()}")
        return x
    if decimals == 0:
        return apply(Op.ROUND, (x,))
    if decimals > 0:
        scale = 10.0**decimals
        return true_divide(apply(Op.ROUND, (mul(x, scale),)), scale)
    scale = 10.0 ** (-decimals)
    return mul(apply(Op.ROUND, (true_divide(x, scale),)), scale)


around = round


def logical_xor(a, b) -> Variable:
    """Elementwise logical exclusive or (any dtype: nonzero is true), as np.logical_xor.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x", dtype="bool")
    >>> gc.function([x], gc.logical_xor(x, True))(np.array([True, False])).tolist()
    [False, True]
    """
    a, b = as_variable(a), as_variable(b, like=a)
    return neq(truth(a), truth(b))


__all__ = [
    "floor", "ceil", "trunc", "round", "around", "copysign", "floor_divide", "mod", "remainder",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "invert", "left_shift", "right_shift",
    "logical_xor", "erf", "erfc", "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh",
    "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh",
]  # fmt: skip
