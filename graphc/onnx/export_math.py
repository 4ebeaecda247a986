"""EXPORT_RULES rows of the rounding, integer, bitwise and special-function ops and ARANGE (merged into
export_rules.EXPORT_RULES). Knows the core and the Exporter's helpers.

ONNX has Floor, Ceil, Round (half to even), Erf, the inverse trigonometric functions, Mod and bitwise
operators (BitwiseAnd from opset 18); the rest are composites of those: trunc, copysign, floor division
(NumPy's npy_divmod step by step, so floats agree exactly), atan2 and erfc (1 - erf: less accurate than
graphc's far in the tail). ONNX's BitShift takes unsigned integers only: shifts are refused.
"""

from __future__ import annotations

import math

import numpy as np

from graphc.errors import GraphcError
from graphc.ops import Op


def _x(ex, node, ins, k: int = 0) -> str:
    """Input k cast to the dtype the node computes in (its output's)."""
    return ex.cast(ins[k], node.inputs[k].type.dtype, node.outputs[0].type.dtype)


def _rounding(op_type: str):
    def rule(ex, node, ins):
        x = _x(ex, node, ins)
        return [ex.one(op_type, [x]) if node.outputs[0].type.dtype.kind == "f" else x]

    return rule


def _unary(op_type: str):
    return lambda ex, node, ins: [ex.one(op_type, [_x(ex, node, ins)])]


def _trunc(ex, node, ins):
    x = _x(ex, node, ins)
    if node.outputs[0].type.dtype.kind != "f":
        return [x]
    negative = ex.one("Less", [x, ex.constant(0, node.outputs[0].type.dtype)])
    return [ex.one("Where", [negative, ex.one("Ceil", [x]), ex.one("Floor", [x])])]


def _signbit(ex, y: str, dtype) -> str:
    """y < 0, or y = -0 (1/y = -inf): the sign bit of y (NaN counts as positive)."""
    zero = ex.constant(0, dtype)
    below = ex.one("Less", [y, zero])
    return ex.one("Or", [below, ex.one("Less", [ex.one("Div", [ex.constant(1, dtype), y]), zero])])


def _copysign(ex, node, ins):
    dtype = node.outputs[0].type.dtype
    x, y = _x(ex, node, ins, 0), _x(ex, node, ins, 1)
    magnitude = ex.one("Abs", [x])
    return [ex.one("Where", [_signbit(ex, y, dtype), ex.one("Neg", [magnitude]), magnitude])]


def _float_divmod(ex, a: str, b: str, dtype) -> tuple[str, str]:
    """NumPy's npy_divmod in ONNX nodes: (floor quotient, remainder with the divisor's sign)."""
    zero, one, half = (ex.constant(v, dtype) for v in (0, 1, 0.5))

    def neq0(v):
        return ex.one("Not", [ex.one("Equal", [v, zero])])

    fmod = ex.one("Mod", [a, b], fmod=1)
    div = ex.one("Div", [ex.one("Sub", [a, fmod]), b])
    adjust = ex.one(
        "And", [neq0(fmod), ex.one("Xor", [ex.one("Less", [b, zero]), ex.one("Less", [fmod, zero])])]
    )
    mod = ex.one("Where", [adjust, ex.one("Add", [fmod, b]), fmod])
    div = ex.one("Where", [adjust, ex.one("Sub", [div, one]), div])
    signed_zero = ex.one("Where", [_signbit(ex, b, dtype), ex.constant(-0.0, dtype), zero])
    mod = ex.one("Where", [neq0(mod), mod, signed_zero])
    floor = ex.one("Floor", [div])
    snap = ex.one("Greater", [ex.one("Sub", [div, floor]), half])
    floor = ex.one("Where", [snap, ex.one("Add", [floor, one]), floor])
    quotient = ex.one("Div", [a, b])
    zero_quotient = ex.one("Where", [_signbit(ex, quotient, dtype), ex.constant(-0.0, dtype), zero])
    floor = ex.one("Where", [neq0(div), floor, zero_quotient])
    by_zero = ex.one("Equal", [b, zero])
    return ex.one("Where", [by_zero, quotient, floor]), ex.one("Where", [by_zero, fmod, mod])


def _divmod(part: int):
    def rule(ex, node, ins):
        dtype = node.outputs[0].type.dtype
        a, b = _x(ex, node, ins, 0), _x(ex, node, ins, 1)
        if dtype.kind == "f":
            return [_float_divmod(ex, a, b, dtype)[part]]
        mod = ex.one("Mod", [a, b])  # integers: the divisor's sign, as NumPy
        if part == 1:
            return [mod]
        return [ex.one("Div", [ex.one("Sub", [a, mod]), b])]  # exact: a - mod is a multiple of b

    return rule


def _bitwise(logical: str, bitwise: str):
    """And/Or/Xor/Not on bools; BitwiseAnd/... (opset 18) on integers."""

    def rule(ex, node, ins):
        args = [_x(ex, node, ins, k) for k in range(len(ins))]
        if node.outputs[0].type.dtype.kind == "b":
            return [ex.one(logical, args)]
        if ex.opset < 18:
            raise GraphcError(
                f"gc.onnx.export: {bitwise} on integers needs opset 18 or later, not {ex.opset}"
            )
        return [ex.one(bitwise, args)]

    return rule


def _atan2(ex, node, ins):
    """atan(y/x), moved to its quadrant (x = 0 gives ±pi/2 through y/0 = ±inf)."""
    dtype = node.outputs[0].type.dtype
    y, x = _x(ex, node, ins, 0), _x(ex, node, ins, 1)
    angle = ex.one("Atan", [ex.one("Div", [y, x])])
    half_turn = ex.one(
        "Where", [_signbit(ex, y, dtype), ex.constant(-math.pi, dtype), ex.constant(math.pi, dtype)]
    )
    left = ex.one("Add", [angle, half_turn])
    return [ex.one("Where", [_signbit(ex, x, dtype), left, angle])]


def _erfc(ex, node, ins):
    dtype = node.outputs[0].type.dtype
    return [ex.one("Sub", [ex.constant(1, dtype), ex.one("Erf", [_x(ex, node, ins)])])]


def _arange(ex, node, ins):
    p, dtype = node.params, node.outputs[0].type.dtype
    stop = p["stop"]
    if isinstance(stop, (int, float)):
        limit = ex.constant(stop, dtype)
    else:
        limit = ex.cast(ex.one("Squeeze", [ex.dim(stop)]), np.int64, dtype)
    return [ex.one("Range", [ex.constant(p["start"], dtype), limit, ex.constant(p["step"], dtype)])]


def _refused(why: str):
    def rule(ex, node, ins):
        raise GraphcError(f"gc.onnx.export: {node.op.value} has no ONNX equivalent: {why}")

    return rule


MATH_EXPORT_RULES = {
    Op.FLOOR: _rounding("Floor"),
    Op.CEIL: _rounding("Ceil"),
    Op.ROUND: _rounding("Round"),
    Op.TRUNC: _trunc,
    Op.COPYSIGN: _copysign,
    Op.FLOOR_DIV: _divmod(0),
    Op.MOD: _divmod(1),
    Op.AND: _bitwise("And", "BitwiseAnd"),
    Op.OR: _bitwise("Or", "BitwiseOr"),
    Op.XOR: _bitwise("Xor", "BitwiseXor"),
    Op.NOT: _bitwise("Not", "BitwiseNot"),
    Op.LSHIFT: _refused("ONNX's BitShift takes unsigned integers only"),
    Op.RSHIFT: _refused("ONNX's BitShift takes unsigned integers only"),
    **{op: _unary(name) for op, name in {
        Op.ERF: "Erf", Op.ASIN: "Asin", Op.ACOS: "Acos", Op.ATAN: "Atan", Op.ASINH: "Asinh",
        Op.ACOSH: "Acosh", Op.ATANH: "Atanh",
    }.items()},
    Op.ERFC: _erfc,
    Op.ATAN2: _atan2,
    Op.ARANGE: _arange,
}  # fmt: skip
"""Rows of EXPORT_RULES: rule(exporter, node, input names) -> output names."""

__all__ = ["MATH_EXPORT_RULES"]
