"""The ONNX operators of the rounding, integer, bitwise and special-function ops, and Range, as graphc ops.
Part of IMPORT_RULES (graphc.onnx.import_rules), with its rule signature."""

from __future__ import annotations

import numpy as np

from graphc.arrays import arange
from graphc.errors import GraphcError
from graphc.graph import apply
from graphc.mathfuncs import copysign, mod
from graphc.ops import Op
from graphc.tensor import lt, where


def _op(op: Op):
    return lambda im, names, attrs: [apply(op, [im.tensor(n) for n in names])]


def _mod(im, names, attrs):
    """Mod: the divisor's sign (NumPy's %), or C's fmod (the dividend's sign) with fmod=1."""
    x, y = (im.tensor(n) for n in names)
    if not attrs.get("fmod", 0):
        return [mod(x, y)]
    magnitude = mod(abs(x), abs(y))  # exact: on non-negative numbers the two remainders agree
    if x.type.dtype.kind == "f":
        return [copysign(magnitude, x)]
    return [where(lt(x, 0), -magnitude, magnitude)]


def _range(im, names, attrs):
    start, limit, delta = (im.values[n] for n in names)
    if not all(isinstance(v, np.ndarray) for v in (start, limit, delta)):
        raise GraphcError(
            "gc.onnx.load: Range's start, limit and delta must be known when the model is loaded"
        )
    dtype = start.dtype
    stop = limit[()] if limit.dtype == object else limit[()].item()
    return [arange(start[()].item(), stop, delta[()].item(), dtype=dtype)]


MATH_IMPORT_RULES = {
    **{name: _op(op) for name, op in {
        "Floor": Op.FLOOR, "Ceil": Op.CEIL, "Round": Op.ROUND, "Erf": Op.ERF, "Asin": Op.ASIN,
        "Acos": Op.ACOS, "Atan": Op.ATAN, "Asinh": Op.ASINH, "Acosh": Op.ACOSH, "Atanh": Op.ATANH,
        "Xor": Op.XOR, "BitwiseAnd": Op.AND, "BitwiseOr": Op.OR, "BitwiseXor": Op.XOR, "BitwiseNot": Op.NOT,
    }.items()},
    "Mod": _mod,
    "Range": _range,
}  # fmt: skip
"""Rows of IMPORT_RULES: rule(importer, input names, attributes) -> values."""

__all__ = ["MATH_IMPORT_RULES"]
