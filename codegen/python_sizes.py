"""Size expressions as exact integer Python, over identifiers the caller gives the named sizes: what the numpy
backend's generated source computes shapes with (sympy's own printers would name `ceiling`, or use floats).
Knows sympy and graphc's errors.
"""

from __future__ import annotations

import sympy

from graphc.errors import BackendError


class Code(str):
    """A param made printable (a size expression, a function's name in the code): written as it is."""


def size_code(expr, names: dict) -> str:
    """Exact integer Python for a size expression, over the generated names of its named sizes (`names`:
    sympy Symbol -> identifier). Divisions are floor divisions of integer polynomials: ceiling(p/q) is
    -(-p // q), floor(p/q) is p // q, and a plain p/q (the types only make exact ones) is p // q."""
    if isinstance(expr, (int, sympy.Integer)):
        return str(int(expr))
    if isinstance(expr, sympy.Symbol):
        return names[expr]
    if isinstance(expr, (sympy.ceiling, sympy.floor)):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        p, q = _polynomial_code(num, names), _polynomial_code(den, names)
        return f"(-(-{p} // {q}))" if isinstance(expr, sympy.ceiling) else f"({p} // {q})"
    if isinstance(expr, (sympy.Max, sympy.Min)):
        fn = "max" if isinstance(expr, sympy.Max) else "min"
        return f"{fn}({', '.join(size_code(a, names) for a in expr.args)})"
    if isinstance(expr, sympy.Mod):
        return f"({size_code(expr.args[0], names)} % {size_code(expr.args[1], names)})"
    num, den = sympy.fraction(sympy.together(expr))
    if den != 1:
        return f"({_polynomial_code(num, names)} // {_polynomial_code(den, names)})"
    return _polynomial_code(num, names)


_SIZE_FUNCTIONS = (sympy.Integer, sympy.Symbol, sympy.ceiling, sympy.floor, sympy.Max, sympy.Min, sympy.Mod)


def _polynomial_code(expr, names: dict) -> str:
    """Sums, products and positive integer powers of integers, named sizes and size functions."""
    if isinstance(expr, sympy.Add):
        return "(" + " + ".join(_polynomial_code(a, names) for a in expr.args) + ")"
    if isinstance(expr, sympy.Mul):
        return "(" + " * ".join(_polynomial_code(a, names) for a in expr.args) + ")"
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return f"({_polynomial_code(expr.base, names)} ** {int(expr.exp)})"
    if isinstance(expr, _SIZE_FUNCTIONS):
        return size_code(expr, names)
    raise BackendError(f"the numpy backend cannot print the size expression {expr}")
