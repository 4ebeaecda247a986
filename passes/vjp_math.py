"""The VJPs of the remainder and copysign: rows of VJP_RULES (passes/vjp_rules.py). Imports only the
graphc core. The special functions (erf, asin, atan2, ...) need no rows: their derived rules (from
graphc.ops.SCALAR_DEFS) are exact and lower to native code; the piecewise-constant ops (floor, ceil, round,
trunc, //) pass no gradient (vjp_rules' no_grad), as sign and the comparisons do.
"""

from __future__ import annotations

from graphc.mathfuncs import copysign, floor_divide
from graphc.ops import Op
from graphc.tensor import sign

MATH_RULES = {
    Op.MOD: lambda g, out, x, y: (g, -g * floor_divide(x, y)),  # x % y = x - (x // y)·y
    # |x| with y's sign: sign(x)·(±1), 0 at x = 0 as |x|'s subgradient; none to y (piecewise constant)
    Op.COPYSIGN: lambda g, out, x, y: (g * sign(x) * copysign(1.0, y), None),
}
"""MATH_RULES[op](g, out, *inputs, **params) -> cotangents."""

__all__ = ["MATH_RULES"]
