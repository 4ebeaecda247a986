"""The NumPy reference semantics of the rounding, integer and special-function ops and of ARANGE. Core layer;
rows of graphc.ops.IMPL and SCALAR_DEFS, keyed here by the op's value so that this module needs nothing
from graphc.ops.

scipy.special is imported on first use only (erf, erfc): `import graphc` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import DomainError


def _special(name: str) -> Callable:
    """scipy.special.<name>, imported when first called (a ufunc: out= works)."""

    def call(*args, **kwargs):
        import scipy.special

        return getattr(scipy.special, name)(*args, **kwargs)

    call.__name__ = name
    return call


erf, erfc = _special("erf"), _special("erfc")


def _integer_division(divide: Callable) -> Callable:
    """NumPy's // or % of integers, refusing a zero divisor (NumPy gives 0 and a warning): the backends check
    the data before the node (graphc.codegen.checks.ZeroDivisor); this is the reference's own check, for
    constant folding (which then leaves the node to the call's check) and eager evaluation."""

    def reference(x, y):
        with np.errstate(divide="ignore"):
            out = divide(x, y)
        if np.asarray(out).dtype.kind in "iu" and np.size(out) and not np.all(y):
            raise DomainError(f"{divide.__name__}: integer division by zero")
        return out

    reference.__name__ = divide.__name__
    return reference


def arange(start, stop, step, dtype):
    """np.arange(start, stop, step, dtype): stop may have been a named size, given here as its value."""
    return np.arange(start, stop, step, dtype=dtype)


IMPL_BY_NAME: dict[str, Callable] = {
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,  # half to even; integers unchanged (np.rint would make them float)
    "trunc": np.trunc,
    "copysign": np.copysign,
    "floor_divide": _integer_division(np.floor_divide),
    "mod": _integer_division(np.remainder),
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

MATH_DEFINED = ("erf", "erfc", "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh")


def math_definitions() -> dict:
    """The special functions as sympy expressions, by op value (their gradients are derived from these);
    sympy is imported here, at the first differentiation, not with graphc."""
    import sympy

    x, y = sympy.symbols("x y", real=True)
    functions = {"asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "asinh": sympy.asinh}
    functions.update(acosh=sympy.acosh, atanh=sympy.atanh, erf=sympy.erf, erfc=sympy.erfc)
    return {**{name: ((x,), fn(x)) for name, fn in functions.items()}, "atan2": ((x, y), sympy.atan2(x, y))}


__all__ = ["IMPL_BY_NAME", "MATH_DEFINED", "arange", "erf", "erfc", "math_definitions"]
