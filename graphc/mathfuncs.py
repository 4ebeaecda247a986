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


def _documented(build, name: str, numpy_name: str, dtype: str, args: str, result: str):
    """Name `build` (from graphc.tensor's _unary/_binary) and give it a runnable example."""
    names = ("x", "y")[: args.count("np.array")]
    declared = ", ".join(f'gc.vector("{v}", dtype="{dtype}")' for v in names)
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"Elementwise np.{numpy_name}: NumPy's semantics, dtypes and broadcasting.\n\n"
        f"        >>> import numpy as np, graphc as gc\n"
        f"        >>> {', '.join(names)} = {declared}\n"
        f"        >>> gc.function([{', '.join(names)}], gc.{name}({', '.join(names)}))({args}).tolist()\n"
        f"        {result}\n"
    )
    return build


F, INT = "float64", "int64"
floor = _documented(_unary(Op.FLOOR), "floor", "floor", F, "np.array([-1.5, 2.5])", "[-2.0, 2.0]")
ceil = _documented(_unary(Op.CEIL), "ceil", "ceil", F, "np.array([-1.5, 2.5])", "[-1.0, 3.0]")
trunc = _documented(_unary(Op.TRUNC), "trunc", "trunc", F, "np.array([-1.5, 2.5])", "[-1.0, 2.0]")
erf = _documented(_unary(Op.ERF), "erf", "erf (scipy.special)", F, "np.array([0.0, 9.0])", "[0.0, 1.0]")
erfc = _documented(_unary(Op.ERFC), "erfc", "erfc (scipy.special)", F, "np.array([0.0, 9.0])", "[1.0, 0.0]")
arcsin = _documented(_unary(Op.ASIN), "arcsin", "arcsin", F, "np.array([0.0, -0.0])", "[0.0, -0.0]")
arccos = _documented(_unary(Op.ACOS), "arccos", "arccos", F, "np.array([1.0, 2.0])", "[0.0, nan]")
arctan = _documented(_unary(Op.ATAN), "arctan", "arctan", F, "np.array([0.0, -0.0])", "[0.0, -0.0]")
arcsinh = _documented(_unary(Op.ASINH), "arcsinh", "arcsinh", F, "np.array([0.0, -0.0])", "[0.0, -0.0]")
arccosh = _documented(_unary(Op.ACOSH), "arccosh", "arccosh", F, "np.array([1.0, 0.5])", "[0.0, nan]")
arctanh = _documented(_unary(Op.ATANH), "arctanh", "arctanh", F, "np.array([0.0, 1.0])", "[0.0, inf]")
invert = _documented(_unary(Op.NOT), "invert", "invert (bitwise not)", INT, "np.array([0, 5])", "[-1, -6]")
copysign = _documented(
    _binary(Op.COPYSIGN),
    "copysign",
    "copysign",
    F,
    "np.array([1.0, 2.0]), np.array([-0.0, 3.0])",
    "[-1.0, 2.0]",
)
arctan2 = _documented(
    _binary(Op.ATAN2), "arctan2", "arctan2", F, "np.array([0.0, -0.0]), np.array([-1.0, -1.0])",
    "[3.141592653589793, -3.141592653589793]",
)  # fmt: skip
floor_divide = _documented(
    _binary(Op.FLOOR_DIV),
    "floor_divide",
    "floor_divide (//)",
    INT,
    "np.array([7, -7]), np.array([2, 2])",
    "[3, -4]",
)
mod = _documented(_binary(Op.MOD), "mod", "mod (%)", INT, "np.array([7, -7]), np.array([2, 2])", "[1, 1]")
bitwise_and = _documented(
    _binary(Op.AND), "bitwise_and", "bitwise_and (&)", INT, "np.array([12, -1]), np.array([10, 7])", "[8, 7]"
)
bitwise_or = _documented(
    _binary(Op.OR), "bitwise_or", "bitwise_or (|)", INT, "np.array([12, 1]), np.array([10, 2])", "[14, 3]"
)
bitwise_xor = _documented(
    _binary(Op.XOR), "bitwise_xor", "bitwise_xor (^)", INT, "np.array([12, 1]), np.array([10, 3])", "[6, 2]"
)
left_shift = _documented(
    _binary(Op.LSHIFT), "left_shift", "left_shift (<<)", INT, "np.array([1, 3]), np.array([4, 64])", "[16, 0]"
)
right_shift = _documented(
    _binary(Op.RSHIFT),
    "right_shift",
    "right_shift (>>)",
    INT,
    "np.array([-16, 16]), np.array([2, 70])",
    "[-4, 0]",
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
