"""Vectorisable inverse trigonometric and hyperbolic functions and the error function, as LLVM IR: rows of
``vecmath.FUNCTIONS``. Owns their algorithms; knows nothing of graphs.

The algorithms are fdlibm's (Sun, freely redistributable), made branch-free: every interval's formula is
computed and a `select` keeps the right one, so a loop over them vectorises. Interval boundaries are compared
on |x| as floats rather than on the high word. float32 versions run the float64 algorithm and round once.

- atan: reduce |x| to one of five intervals around 0, 1/2, 1, 3/2 and inf, atan(c) + atan(t) with atan(c)
  in two parts and an order-22 odd polynomial; atan2(y, x) = atan(|y| / |x|) moved to its quadrant
  (NumPy's answers for zeros, infinities and NaN).
- asin/acos: x + x³R(x²) for |x| < 1/2, else from sqrt((1 - |x|)/2) with a split high part (R rational).
- asinh/acosh/atanh: through log and log1p with fdlibm's cancellation-free rearrangements.
- erf/erfc: a rational function on [0, 0.84375), one around 1 on [0.84375, 1.25), and
  exp(-x² - 0.5625 + R(1/x²)/S(1/x²))/x beyond, with x² split so that the exponent is exact.

Measured max error in ulp (float64, float32) against NumPy and SciPy: ``MAX_ULP`` (tests/llvm_infra).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from llvmlite import ir

from .vecmath_emit import Emitter

MAX_ULP: dict[str, tuple[float, float]] = {
    "atan": (1, 1),
    "atan2": (2, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "asinh": (3, 1),
    "acosh": (3, 1),
    "atanh": (3, 1),
    "erf": (1, 1),
    "erfc": (4, 1),  # relative to scipy; denormal results round twice
}

PIO2_HI, PIO2_LO = 1.57079632679489655800e00, 6.12323399573676603587e-17
PIO4_HI, PI, LN2 = 7.85398163397448278999e-01, 3.14159265358979311600e00, 6.93147180559945286227e-01


def _f64_only(emit: Callable) -> Callable:
    """The float64 algorithm; float32 runs it in float64 and rounds."""

    def function(m: Emitter, *args: ir.Value) -> ir.Value:
        return emit(m, *args) if m.is64 else m.in_f64(emit.__name__.lstrip("_"), *args)

    function.__name__ = emit.__name__
    return function


# --- atan, atan2 -------------------------------------------------------------------------------------------
_ATAN_HI = [4.63647609000806093515e-01, 7.85398163397448278999e-01, 9.82793723247329054082e-01, PIO2_HI]
_ATAN_LO = [2.26987774529616870924e-17, 3.06161699786838301793e-17, 1.39033110312309984516e-17, PIO2_LO]
_AT = [
    3.33333333333329318027e-01, -1.99999999998764832476e-01, 1.42857142725034663711e-01,
    -1.11111104054623557880e-01, 9.09088713343650656196e-02, -7.69187620504482999495e-02,
    6.66107313738753120669e-02, -5.83357013379057348645e-02, 4.97687799461593236017e-02,
    -3.65315727442169155270e-02, 1.62858201153657823623e-02,
]  # fmt: skip


@_f64_only
def _atan(m: Emitter, x: ir.Value) -> ir.Value:
    ax = m.fabs(x)
    # |x| in [39/16, inf): atan(inf) + atan(-1/|x|); inside each lower bound, atan(c) + atan(t) with
    # t = (|x| - c)/(1 + c|x|); below 7/16, atan(|x|) itself. One division: numerator and denominator chosen.
    num, den = m.c(-1.0), ax
    hi, lo = m.c(_ATAN_HI[3]), m.c(_ATAN_LO[3])
    intervals = [
        (2.4375, 2, m.sub(ax, m.c(1.5)), m.fma(m.c(1.5), ax, m.c(1.0))),
        (1.1875, 1, m.sub(ax, m.c(1.0)), m.add(ax, m.c(1.0))),
        (0.6875, 0, m.fma(m.c(2.0), ax, m.c(-1.0)), m.add(m.c(2.0), ax)),
        (0.4375, None, ax, m.c(1.0)),
    ]
    for bound, k, top, bottom in intervals:
        inside = m.cmp("<", ax, m.c(bound))
        num, den = m.select(inside, top, num), m.select(inside, bottom, den)
        hi = m.select(inside, m.c(0.0 if k is None else _ATAN_HI[k]), hi)
        lo = m.select(inside, m.c(0.0 if k is None else _ATAN_LO[k]), lo)
    t = m.div(num, den)
    z = m.mul(t, t)
    w = m.mul(z, z)
    odd = m.mul(z, m.poly(w, list(reversed(_AT[0::2]))))
    even = m.mul(w, m.poly(w, list(reversed(_AT[1::2]))))
    result = m.sub(hi, m.sub(m.sub(m.mul(t, m.add(odd, even)), lo), t))
    return m.copysign(result, x)  # atan is odd; also keeps atan(-0) = -0; NaN stays NaN


@_f64_only
def _atan2(m: Emitter, y: ir.Value, x: ir.Value) -> ir.Value:
    ay, ax = m.fabs(y), m.fabs(x)
    angle = m.call("atan", m.div(ay, ax))  # in [0, pi/2]; y/0 = inf gives pi/2
    inf = m.c(math.inf)
    angle = m.select(m.b.and_(m.cmp("==", ay, inf), m.cmp("==", ax, inf)), m.c(math.pi / 4), angle)
    angle = m.select(m.cmp("==", ay, m.c(0.0)), m.c(0.0), angle)  # also 0/0 and 0/inf
    left = m.sub(m.c(PI), m.sub(angle, m.c(2 * PIO2_LO)))  # x < 0 or x = -0: pi - angle
    angle = m.select(m.signbit(x), left, angle)
    result = m.copysign(angle, y)
    return m.select(m.b.or_(m.isnan(x), m.isnan(y)), m.add(x, y), result)


# --- asin, acos --------------------------------------------------------------------------------------------
_PS = [
    1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
    -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05,
]  # fmt: skip
_QS = [1.0, -2.40339491173441421878e00, 2.02094576023350569471e00, -6.88283971605453293030e-01,
       7.70381505559019352791e-02]  # fmt: skip


def _asin_r(m: Emitter, z: ir.Value) -> ir.Value:
    """(asin(s) - s) / s³ as a rational function of z = s²."""
    return m.div(m.mul(z, m.poly(z, list(reversed(_PS)))), m.poly(z, list(reversed(_QS))))


@_f64_only
def _asin(m: Emitter, x: ir.Value) -> ir.Value:
    ax = m.fabs(x)
    small = m.cmp("<", ax, m.c(0.5))
    half_gap = m.mul(m.sub(m.c(1.0), ax), m.c(0.5))  # (1 - |x|)/2; < 0 (so NaN below) where |x| > 1
    z = m.select(small, m.mul(x, x), half_gap)
    r = _asin_r(m, z)
    near_zero = m.fma(ax, r, ax)
    s = m.sqrt(half_gap)
    near_one = m.sub(m.c(PIO2_HI), m.sub(m.mul(m.c(2.0), m.fma(s, r, s)), m.c(PIO2_LO)))
    f = m.high_part(s)
    c = m.div(m.fma(m.neg(f), f, half_gap), m.add(s, f))
    p = m.sub(m.mul(m.mul(m.c(2.0), s), r), m.sub(m.c(PIO2_LO), m.mul(m.c(2.0), c)))
    q = m.sub(m.c(PIO4_HI), m.mul(m.c(2.0), f))
    middle = m.sub(m.c(PIO4_HI), m.sub(p, q))
    result = m.select(small, near_zero, m.select(m.cmp(">=", ax, m.c(0.975)), near_one, middle))
    return m.copysign(result, x)


@_f64_only
def _acos(m: Emitter, x: ir.Value) -> ir.Value:
    ax = m.fabs(x)
    small = m.cmp("<", ax, m.c(0.5))
    half_gap = m.mul(m.sub(m.c(1.0), ax), m.c(0.5))
    r = _asin_r(m, m.select(small, m.mul(x, x), half_gap))
    middle = m.sub(m.c(PIO2_HI), m.sub(x, m.fma(m.neg(x), r, m.c(PIO2_LO))))
    s = m.sqrt(half_gap)
    negative = m.sub(m.c(PI), m.mul(m.c(2.0), m.add(s, m.fma(r, s, m.c(-PIO2_LO)))))
    f = m.high_part(s)
    c = m.div(m.fma(m.neg(f), f, half_gap), m.add(s, f))
    c = m.select(m.cmp("==", s, m.c(0.0)), m.c(0.0), c)  # acos(1): 0/0 would be NaN
    positive = m.mul(m.c(2.0), m.add(f, m.fma(r, s, c)))
    return m.select(small, middle, m.select(m.cmp("<", x, m.c(0.0)), negative, positive))


# --- asinh, acosh, atanh -----------------------------------------------------------------------------------
@_f64_only
def _asinh(m: Emitter, x: ir.Value) -> ir.Value:
    """One log1p: of |x| + x²/(1 + √(1 + x²)) (|x| <= 2), 2|x| + 1/(√(x² + 1) + |x|) - 1 (up to 2^28), or
    |x| - 1 plus ln 2 beyond (where √(x² + 1) = |x|)."""
    ax = m.fabs(x)
    root = m.sqrt(m.fma(x, x, m.c(1.0)))
    small = m.add(ax, m.div(m.mul(x, x), m.add(m.c(1.0), root)))
    large = m.sub(m.fma(m.c(2.0), ax, m.div(m.c(1.0), m.add(root, ax))), m.c(1.0))
    huge = m.cmp(">", ax, m.c(2.0**28))
    argument = m.select(huge, m.sub(ax, m.c(1.0)), m.select(m.cmp(">", ax, m.c(2.0)), large, small))
    result = m.add(m.call("log1p", argument), m.select(huge, m.c(LN2), m.c(0.0)))
    return m.copysign(result, x)


@_f64_only
def _acosh(m: Emitter, x: ir.Value) -> ir.Value:
    """One log1p: of t + √(t(t + 2)), t = x - 1 (x <= 2), 2x - 1/(x + √(x² - 1)) - 1 (up to 2^28), or x - 1
    plus ln 2 beyond."""
    t = m.sub(x, m.c(1.0))
    root = m.sqrt(m.fma(t, t, m.add(t, t)))  # √(x² - 1), exact near 1
    small = m.add(t, root)
    large = m.sub(m.sub(m.mul(m.c(2.0), x), m.div(m.c(1.0), m.add(x, root))), m.c(1.0))
    huge = m.cmp(">=", x, m.c(2.0**28))
    argument = m.select(huge, t, m.select(m.cmp(">", x, m.c(2.0)), large, small))
    result = m.add(m.call("log1p", argument), m.select(huge, m.c(LN2), m.c(0.0)))
    return m.select(m.cmp("<", x, m.c(1.0)), m.c(math.nan), result)


@_f64_only
def _atanh(m: Emitter, x: ir.Value) -> ir.Value:
    ax = m.fabs(x)
    twice = m.add(ax, ax)
    gap = m.sub(m.c(1.0), ax)
    small = m.add(twice, m.div(m.mul(twice, ax), gap))  # |x| < 1/2
    large = m.div(twice, gap)  # 1 at |x| = 1 gives inf; |x| > 1 gives < -1, so NaN
    result = m.mul(m.c(0.5), m.call("log1p", m.select(m.cmp("<", ax, m.c(0.5)), small, large)))
    return m.copysign(result, x)


# --- erf, erfc ---------------------------------------------------------------------------------------------
ERX = 8.45062911510467529297e-01  # erf(1) rounded to float32
_PP = [1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05]  # fmt: skip
_QQ = [1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06]  # fmt: skip
_PA = [-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03]  # fmt: skip
_QA = [1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02]  # fmt: skip
_RA = [-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e01,
       -6.23753324503260060396e01, -1.62396669462573470355e02, -1.84605092906711035994e02,
       -8.12874355063065934246e01, -9.81432934416914548592e00]  # fmt: skip
_SA = [1.0, 1.96512716674392571292e01, 1.37657754143519042600e02, 4.34565877475229228821e02,
       6.45387271733267880336e02, 4.29008140027567833386e02, 1.08635005541779435134e02,
       6.57024977031928170135e00, -6.04244152148580987438e-02]  # fmt: skip
_RB = [-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e01,
       -1.60636384855821916062e02, -6.37566443368389627722e02, -1.02509513161107724954e03,
       -4.83519191608651397019e02, 0.0]  # fmt: skip
_SB = [1.0, 3.03380607434824582924e01, 3.25792512996573918826e02, 1.53672958608443695994e03,
       3.19985821950859553908e03, 2.55305040643316442583e03, 4.74528541206955367215e02,
       -2.24409524465858183362e01, 0.0]  # fmt: skip


def _erf_parts(m: Emitter, x: ir.Value) -> tuple:
    """(|x|, x·R(x²) for |x| < 0.84375, P/Q(|x| - 1) near 1, erfc(|x|) = exp(...)/|x| for |x| >= 1.25)."""
    ax = m.fabs(x)
    z = m.mul(x, x)
    near_zero = m.mul(x, m.div(m.poly(z, _PP[::-1]), m.poly(z, _QQ[::-1])))
    s = m.sub(ax, m.c(1.0))
    near_one = m.div(m.poly(s, _PA[::-1]), m.poly(s, _QA[::-1]))
    inv = m.div(m.c(1.0), z)
    first = m.cmp("<", ax, m.c(1 / 0.35))
    ratio = m.div(
        m.poly_select(inv, first, _RA[::-1], _RB[::-1]), m.poly_select(inv, first, _SA[::-1], _SB[::-1])
    )
    hi = m.high_part(ax)  # -x² = -hi² + (hi - |x|)(hi + |x|), the first term exact
    tail = m.mul(
        m.call("exp", m.fma(m.neg(hi), hi, m.c(-0.5625))),
        m.call("exp", m.fma(m.sub(hi, ax), m.add(hi, ax), ratio)),
    )
    return ax, near_zero, near_one, m.div(tail, ax)


@_f64_only
def _erf(m: Emitter, x: ir.Value) -> ir.Value:
    ax, near_zero, near_one, tail = _erf_parts(m, x)
    result = m.select(m.cmp("<", ax, m.c(6.0)), m.sub(m.c(1.0), tail), m.c(1.0))
    result = m.select(m.cmp("<", ax, m.c(1.25)), m.add(m.c(ERX), near_one), result)
    result = m.copysign(result, x)
    result = m.select(m.cmp("<", ax, m.c(0.84375)), m.add(x, near_zero), result)
    return m.select(m.isnan(x), x, result)


@_f64_only
def _erfc(m: Emitter, x: ir.Value) -> ir.Value:
    ax, near_zero, near_one, tail = _erf_parts(m, x)
    negative = m.cmp("<", x, m.c(0.0))
    far = m.select(negative, m.sub(m.c(2.0), tail), tail)
    far = m.select(m.cmp("<", ax, m.c(28.0)), far, m.select(negative, m.c(2.0), m.c(0.0)))
    middle = m.select(negative, m.add(m.c(1.0), m.add(m.c(ERX), near_one)), m.sub(m.c(1.0 - ERX), near_one))
    low = m.sub(m.c(1.0), m.add(x, near_zero))  # x < 1/4
    high = m.sub(m.c(0.5), m.add(near_zero, m.sub(x, m.c(0.5))))  # 1/4 <= x < 0.84375
    small = m.select(m.cmp("<", x, m.c(0.25)), low, high)
    result = m.select(m.cmp("<", ax, m.c(0.84375)), small, m.select(m.cmp("<", ax, m.c(1.25)), middle, far))
    return m.select(m.isnan(x), x, result)


FUNCTIONS: dict[str, Callable] = {
    "atan": _atan,
    "atan2": _atan2,
    "asin": _asin,
    "acos": _acos,
    "asinh": _asinh,
    "acosh": _acosh,
    "atanh": _atanh,
    "erf": _erf,
    "erfc": _erfc,
}
"""FUNCTIONS[name](emitter, *args) -> value."""
ARITY = {"atan2": 2}  # atan2(y, x); the others take one argument

__all__ = ["ARITY", "FUNCTIONS", "MAX_ULP"]
