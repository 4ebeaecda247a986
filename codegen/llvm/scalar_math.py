"""The IR of one element of the rounding, integer and special-function ops: rows of ``SCALAR_RULES``
(``scalar_rules`` merges them). Knows ops and dtypes, not graphs.

Integer division never traps: a divisor of 0 is reported (``s.fail_if``: checks.ZeroDivisor) and computes
as 1, and INT_MIN // -1 wraps to INT_MIN as in NumPy, so x86's ``idiv`` never faults. Floats follow NumPy's
``npy_divmod`` step by step, so results (signed zeros, inf, NaN) are NumPy's bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

from graphc.ops import Op

from .scalar import Scalar


def _rounding(intrinsic: str) -> Callable:
    """floor/ceil/trunc/round: an LLVM intrinsic on floats (vectorised); integers are already whole."""
    return lambda s, x: s.intrinsic(intrinsic, x) if s.float else x


def _float_divmod(s: Scalar, a, b) -> tuple:
    """NumPy's npy_divmod: (floor quotient, remainder with the divisor's sign), a / b and fmod at b = 0."""
    bb = s.b
    fmod = bb.frem(a, b)
    div = bb.fdiv(bb.fsub(a, fmod), b)  # very nearly an integer multiple of b
    mod_set = bb.fcmp_unordered("!=", fmod, s.c(0))  # C's `if (mod)`: NaN counts as set
    opposite = bb.xor(bb.fcmp_ordered("<", b, s.c(0)), bb.fcmp_ordered("<", fmod, s.c(0)))
    adjust = bb.and_(mod_set, opposite)
    mod = bb.select(adjust, bb.fadd(fmod, b), fmod)
    div = bb.select(adjust, bb.fsub(div, s.c(1)), div)
    mod = bb.select(mod_set, mod, s.intrinsic("llvm.copysign", s.c(0), b))
    floor = s.intrinsic("llvm.floor", div)
    floor = bb.select(bb.fcmp_ordered(">", bb.fsub(div, floor), s.c(0.5)), bb.fadd(floor, s.c(1)), floor)
    quotient = bb.fdiv(a, b)
    div_set = bb.fcmp_unordered("!=", div, s.c(0))
    floor = bb.select(div_set, floor, s.intrinsic("llvm.copysign", s.c(0), quotient))
    by_zero = bb.fcmp_ordered("==", b, s.c(0))
    return bb.select(by_zero, quotient, floor), bb.select(by_zero, fmod, mod)


def _int_divmod(s: Scalar, a, b) -> tuple:
    """Floor division and remainder of integers."""
    bb = s.b
    zero, one = s.c(0), s.c(1)
    s.fail_if(bb.icmp_signed("==", b, zero), b, arg=1)  # checks.ZeroDivisor
    minus_one = bb.icmp_signed("==", b, s.c(-1))
    # 0 and -1 divide as 1: no trap (0) and no overflow (INT_MIN / -1); -1 is done by negation below
    safe = bb.select(bb.or_(bb.icmp_signed("==", b, zero), minus_one), one, b)
    q, r = bb.sdiv(a, safe), bb.srem(a, safe)
    adjust = bb.and_(bb.icmp_signed("!=", r, zero), bb.icmp_signed("<", bb.xor(r, b), zero))
    q = bb.select(adjust, bb.sub(q, one), q)
    r = bb.select(adjust, bb.add(r, b), r)
    q = bb.select(minus_one, bb.sub(zero, a), q)  # wraps at INT_MIN, as NumPy
    r = bb.select(minus_one, zero, r)
    by_zero = bb.icmp_signed("==", b, zero)
    return bb.select(by_zero, zero, q), bb.select(by_zero, zero, r)


def _divmod(part: int) -> Callable:
    def rule(s: Scalar, a, b):
        return (_float_divmod if s.float else _int_divmod)(s, a, b)[part]

    return rule


def _shift(left: bool) -> Callable:
    """NumPy's shifts: a shift by the width or more (or by a negative amount) gives 0, or -1 for a negative
    number shifted right, never LLVM's poison."""

    def rule(s: Scalar, x, n):
        bb = s.b
        in_range = bb.icmp_unsigned("<", n, s.c(s.ty.width))
        if left:
            return bb.select(in_range, bb.shl(x, n), s.c(0))
        return bb.select(in_range, bb.ashr(x, n), bb.ashr(x, s.c(s.ty.width - 1)))

    return rule


def _math(name: str) -> Callable:
    return lambda s, *args: s.math(name, *args)


SCALAR_MATH_RULES: dict[Op, Callable] = {
    Op.FLOOR: _rounding("llvm.floor"),
    Op.CEIL: _rounding("llvm.ceil"),
    Op.TRUNC: _rounding("llvm.trunc"),
    Op.ROUND: _rounding("llvm.roundeven"),
    Op.COPYSIGN: lambda s, x, y: s.intrinsic("llvm.copysign", x, y),
    Op.FLOOR_DIV: _divmod(0),
    Op.MOD: _divmod(1),
    Op.XOR: lambda s, x, y: s.b.xor(x, y),
    Op.LSHIFT: _shift(left=True),
    Op.RSHIFT: _shift(left=False),
    **{op: _math(op.value) for op in (Op.ERF, Op.ERFC, Op.ASIN, Op.ACOS, Op.ATAN, Op.ATAN2)},
    **{op: _math(op.value) for op in (Op.ASINH, Op.ACOSH, Op.ATANH)},
}
"""SCALAR_MATH_RULES[op](scalar, *converted_args) -> value."""

__all__ = ["SCALAR_MATH_RULES"]
