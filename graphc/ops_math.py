"""The NumPy reference semantics of the rounding, integer and special-function ops and of ARANGE. Core layer;
rows of graphc.ops.IMPL and SCALAR_DEFS, keyed here by the op's value so that this module needs nothing
from graphc.ops.

scipy.special is imported on first use only (erf, erfc): `import graphc` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy


def _special(name: str) -> Callable:
    """scipy.special.<name>, imported when first called (a ufunc: out= works)."""

    def call(*args, **kwargs):
        import scipy.special

        return getattr(scipy.special, name)(*args, **kwargs)

    call.__name__ = name
    return call


erf, erfc = _special("erf"), _special("erfc")


def arange(start, stop, step, dtype):
    """np.arange(start, stop, step, dtype): stop may have been a named size, given here as its value."""
    return np.arange(start, stop, step, dtype=dtype)


IMPL_BY_NAME: dict[str, Callable] = {
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,  # half to even; integers unchanged (np.rint would make them float)
    "trunc": np.trunc,
    "copysign": np.copysign,
    "floor_divide": np.floor_divide,
    "mod": np.remainder,
    "xor": np.bitwise_xor,
    "left_shift": np.left_shift,
    "right_shift": np.right_shift,
    "erf": erf,
    "erfc": erfc,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "atan2": np.arctan2,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "arange": arange,
}
"""IMPL rows of the ops in this family, by Op value (graphc.ops merges them)."""

_x, _y = sympy.symbols("x y", real=True)
SCALAR_DEFS_BY_NAME: dict[str, tuple[tuple[sympy.Symbol, ...], sympy.Expr]] = {
    "erf": ((_x,), sympy.erf(_x)),
    "erfc": ((_x,), sympy.erfc(_x)),
    "asin": ((_x,), sympy.asin(_x)),
    "acos": ((_x,), sympy.acos(_x)),
    "atan": ((_x,), sympy.atan(_x)),
    "atan2": ((_x, _y), sympy.atan2(_x, _y)),
    "asinh": ((_x,), sympy.asinh(_x)),
    "acosh": ((_x,), sympy.acosh(_x)),
    "atanh": ((_x,), sympy.atanh(_x)),
}
"""The special functions as sympy expressions (their gradients are derived from these)."""

__all__ = ["IMPL_BY_NAME", "SCALAR_DEFS_BY_NAME", "arange", "erf", "erfc"]
