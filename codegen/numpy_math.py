"""The NumPy backend's rows for the rounding, integer, bitwise and special-function ops: ufunc-like callables
(they take out=, so fused blocks reuse buffers) and the helpers the generated code calls. Rows of
numpy_backend's UFUNCS and RUNTIME; knows the ops only.
"""

from __future__ import annotations

from graphc.ops import Op
from graphc.ops_math import erf, erfc

MATH_UFUNCS: dict[Op, str] = {
    Op.FLOOR: "np.floor", Op.CEIL: "np.ceil", Op.ROUND: "np.round", Op.TRUNC: "np.trunc",
    Op.COPYSIGN: "np.copysign", Op.FLOOR_DIV: "np.floor_divide", Op.MOD: "np.remainder",
    Op.XOR: "np.bitwise_xor", Op.LSHIFT: "np.left_shift", Op.RSHIFT: "np.right_shift",
    Op.ERF: "erf", Op.ERFC: "erfc", Op.ASIN: "np.arcsin", Op.ACOS: "np.arccos", Op.ATAN: "np.arctan",
    Op.ATAN2: "np.arctan2", Op.ASINH: "np.arcsinh", Op.ACOSH: "np.arccosh", Op.ATANH: "np.arctanh",
}  # fmt: skip
"""np.round is no ufunc but takes out= like one (on floats it is np.rint; integers stay integers)."""

MATH_RUNTIME = {"erf": erf, "erfc": erfc}  # scipy.special's, imported on first call

__all__ = ["MATH_RUNTIME", "MATH_UFUNCS"]
