"""Vectorisable transcendental functions emitted as LLVM IR; owns their algorithms, knows nothing of graphs.
(Over 300 lines: nine algorithms on one emitter, each beside its measured accuracy; they split no further.)

LLVM's ``llvm.exp``/``llvm.tanh`` intrinsics turn into one scalar libm call per lane, which stops the loop
vectoriser. These functions are branch-free straight-line IR (selects, bit tricks via ``bitcast``, the
``llvm.fmuladd``/``fabs``/``floor``/``copysign`` intrinsics), marked ``alwaysinline`` with internal linkage,
so inside a loop they inline and vectorise. No fast-math flags are used: NaN, +-Inf, -0 and denormals
behave like NumPy's.

Example::

    exp = get_math_function(module, "exp", ir.DoubleType())
    y = builder.call(exp, [x])

Algorithms (Cephes / fdlibm style). Errors are measured against NumPy (float64) or NumPy-in-float64 rounded to
float32 (float32) on ~2*10^6 points each, wide ranges and extremes included (see tests/llvm_infra):

- exp: Cody-Waite reduction by ln2, degree-13 Taylor (f64) / Cephes expf polynomial (f32), scaling by 2^n
  done as two exact multiplies so denormal results are rounded once.
- log: fdlibm's log (mantissa in [sqrt(1/2), sqrt 2), s = f/(2+f), degree-14 odd polynomial); denormal inputs
  are scaled by 2^54 (2^25 for f32) first.
- log1p(x) = log(u) * x / (u - 1), u = 1 + x (Goldberg); expm1(x) = (u - 1) * x / log(u), u = exp(x) (Kahan)
  for |x| < 1/2, else exp(x) - 1.
- tanh: Cephes rational approximation for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with the sign of x.
- sigmoid: 1 / (1 + e) or e / (1 + e), e = exp(-|x|) (never overflows).
- softplus: max(x, 0) + log1p(exp(-|x|)).
- sin/cos: Cephes octant reduction with pi/4 split in three parts (fused by FMA where the host has it); the
  octant index is kept in floating point so no float->int64 conversion (not vectorisable on AVX2) is needed.
  float32 sin/cos are evaluated in float64 and rounded, which also keeps them accurate for large |x|.
  Past 2^30 the argument is reduced by Payne-Hanek (``huge_trig``: a table of 2/pi's bits by exponent, exact
  products by FMA), so every finite x has its true sine and cosine, as in NumPy. Without FMA hardware the
  three-part reduction is exact only for |x| below ~1e8.

Measured max error (ulp), float64 / float32: see ``MAX_ULP`` (the tests assert these bounds). Special values
(NaN, +-Inf, +-0, denormal inputs and results) match NumPy exactly, signed zeros included.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from llvmlite import ir

from . import huge_trig, vecmath_special
from .vecmath_emit import Emitter, float_suffix

__all__ = ["FUNCTIONS", "MAX_ULP", "get_math_function", "float_suffix"]

# Upper bounds on the error measured by the tests (ulp), rounded up; (float64, float32).
MAX_ULP: dict[str, tuple[float, float]] = {
    "exp": (1, 1),
    "log": (1, 1),
    "log1p": (2, 2),
    "expm1": (2, 2),
    "tanh": (2, 1),
    "sigmoid": (2, 2),
    "softplus": (3, 3),
    "sin": (2, 1),  # every finite x on an FMA host
    "cos": (2, 1),
    **vecmath_special.MAX_ULP,
}


# --- exp -------------------------------------------------------------------------------------------------
_EXP_F64_TAYLOR = [1.0 / math.factorial(k) for k in range(13, -1, -1)]
# Cephes expf: exp(r) = 1 + r + r^2 * P(r), |r| <= ln2/2.
_EXP_F32_P = [
    1.9875691500e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
]


def _exp(m: Emitter, x: ir.Value) -> ir.Value:
    if m.is64:
        lo, hi, magic, ln2_hi, ln2_lo = (
            -746.0,
            710.0,
            6755399441055744.0,
            6.93147180369123816490e-01,
            1.90821492927058770002e-10,
        )
        mant_bits, bias, half_range = 52, 1023, 2048
    else:
        lo, hi, magic, ln2_hi, ln2_lo = -104.0, 89.0, 12582912.0, 0.693359375, -2.12194440e-4
        mant_bits, bias, half_range = 23, 127, 256
    # Clamping keeps every intermediate in range; past the clamps the result over/underflows to inf/0 by
    # itself. NaN fails both ordered compares and propagates through the arithmetic.
    xc = m.select(m.cmp(">", x, m.c(hi)), m.c(hi), x)
    xc = m.select(m.cmp("<", xc, m.c(lo)), m.c(lo), xc)
    # n = round(x / ln2) by the 1.5*2^p magic number: n ends up in the low bits of t, no fptosi needed.
    t = m.fma(xc, m.c(1.0 / math.log(2.0)), m.c(magic))
    nf = m.sub(t, m.c(magic))
    r = m.fma(nf, m.c(-ln2_hi), xc)
    r = m.fma(nf, m.c(-ln2_lo), r)
    if m.is64:
        p = m.poly(r, _EXP_F64_TAYLOR)
    else:
        p = m.fma(m.mul(r, r), m.poly(r, _EXP_F32_P), m.add(r, m.c(1.0)))
    n = m.b.sub(m.bits(t), m.bits(m.c(magic)))
    # 2^n = 2^n1 * 2^n2 with both halves normal, so results in the denormal range are rounded only once.
    n1 = m.b.sub(m.b.lshr(m.b.add(n, m.ci(half_range)), m.ci(1)), m.ci(half_range // 2))
    n2 = m.b.sub(n, n1)
    s1 = m.from_bits(m.b.shl(m.b.add(n1, m.ci(bias)), m.ci(mant_bits)))
    s2 = m.from_bits(m.b.shl(m.b.add(n2, m.ci(bias)), m.ci(mant_bits)))
    return m.mul(m.mul(p, s1), s2)


# --- log -------------------------------------------------------------------------------------------------
_LG_F64 = [
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
]
_LG_F32 = [11184810 / 2**24, 13421075 / 2**25, 9562606 / 2**25, 16293414 / 2**26]


def _log(m: Emitter, x: ir.Value) -> ir.Value:
    if m.is64:
        tiny, scale, scale_log2 = 2.2250738585072014e-308, 2.0**54, 54.0
        one_bits, sqrt_half_bits, mant_mask, mant_bits = (
            0x3FF0000000000000,
            0x3FE6A09E00000000,
            (1 << 52) - 1,
            52,
        )
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
    else:
        tiny, scale, scale_log2 = 1.17549435e-38, 2.0**25, 25.0
        one_bits, sqrt_half_bits, mant_mask, mant_bits = 0x3F800000, 0x3F3504F3, (1 << 23) - 1, 23
        ln2_hi, ln2_lo = 6.9313812256e-01, 9.0580006145e-06
    # Denormals: scale into the normal range first (also harmless for 0 and negatives, fixed up below).
    is_tiny = m.cmp("<", x, m.c(tiny))
    xs = m.select(is_tiny, m.mul(x, m.c(scale)), x)
    k_adj = m.select(is_tiny, m.c(-scale_log2), m.c(0.0))
    # Split x = 2^k * mant with mant in [sqrt(1/2), sqrt(2)) by integer arithmetic on the bit pattern.
    u = m.b.add(m.bits(xs), m.ci(one_bits - sqrt_half_bits))
    k_biased = m.b.lshr(u, m.ci(mant_bits))
    if m.is64:
        # int64 -> double is not a SIMD instruction before AVX-512DQ: build 2^52 + k_biased by OR instead.
        two52 = 2.0**52
        kf = m.sub(m.from_bits(m.b.or_(k_biased, m.bits(m.c(two52)))), m.c(two52 + 1023.0))
    else:
        kf = m.b.sitofp(m.b.sub(k_biased, m.ci(127)), m.ty)
    kf = m.add(kf, k_adj)
    mant = m.from_bits(m.b.add(m.b.and_(u, m.ci(mant_mask)), m.ci(sqrt_half_bits)))
    f = m.sub(mant, m.c(1.0))
    # fdlibm: log(1+f) = f - hfsq + s*(hfsq + R(s^2)), s = f / (2 + f).
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    w = m.mul(z, z)
    lg = _LG_F64 if m.is64 else _LG_F32
    t1 = m.mul(w, m.poly(w, list(reversed(lg[1::2]))))
    t2 = m.mul(z, m.poly(w, list(reversed(lg[0::2]))))
    big_r = m.add(t2, t1)
    hfsq = m.mul(m.mul(m.c(0.5), f), f)
    inner = m.sub(m.sub(hfsq, m.fma(s, m.add(hfsq, big_r), m.mul(kf, m.c(ln2_lo)))), f)
    result = m.sub(m.mul(kf, m.c(ln2_hi)), inner)
    # Special values, in order of increasing priority.
    result = m.select(m.cmp("<", x, m.c(0.0)), m.c(math.nan), result)
    result = m.select(m.cmp("==", x, m.c(0.0)), m.c(-math.inf), result)
    result = m.select(m.cmp("==", x, m.c(math.inf)), m.c(math.inf), result)
    return m.select(m.isnan(x), x, result)


def _log1p(m: Emitter, x: ir.Value) -> ir.Value:
    u = m.add(m.c(1.0), x)
    d = m.sub(u, m.c(1.0))
    # log(u) * (x / d) corrects for the rounding of 1 + x; dividing first avoids overflow of x * log(u).
    result = m.mul(m.call("log", u), m.div(x, d))
    result = m.select(m.cmp("==", d, m.c(0.0)), x, result)  # |x| below half an ulp of 1 (keeps -0)
    return m.select(m.cmp("==", x, m.c(math.inf)), x, result)  # inf * (inf / inf) would be NaN


def _expm1(m: Emitter, x: ir.Value) -> ir.Value:
    u = m.call("exp", x)
    d = m.sub(u, m.c(1.0))
    # Kahan: (u - 1) * x / log(u) cancels the rounding error of u; only needed where u - 1 cancels.
    kahan = m.mul(d, m.div(x, m.call("log", u)))
    kahan = m.select(m.cmp("==", u, m.c(1.0)), x, kahan)
    return m.select(m.cmp("<", m.fabs(x), m.c(0.5)), kahan, d)


# --- tanh, sigmoid, softplus -------------------------------------------------------------------------------
_TANH_F64_P = [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3]
_TANH_F64_Q = [1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3]
_TANH_F32_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]


def _tanh(m: Emitter, x: ir.Value) -> ir.Value:
    # Work on |x| and copy the sign of x at the end: tanh is odd, and this keeps tanh(-0) = -0.
    ax = m.fabs(x)
    z = m.mul(x, x)
    if m.is64:
        ratio = m.div(m.poly(z, _TANH_F64_P), m.poly(z, _TANH_F64_Q))
        small = m.fma(m.mul(ax, z), ratio, ax)
    else:
        small = m.fma(m.mul(ax, z), m.poly(z, _TANH_F32_P), ax)
    # exp(2|x|) = inf for large |x| gives exactly 1, NaN propagates.
    e = m.call("exp", m.add(ax, ax))
    large = m.sub(m.c(1.0), m.div(m.c(2.0), m.add(e, m.c(1.0))))
    return m.copysign(m.select(m.cmp("<", ax, m.c(0.625)), small, large), x)


def _sigmoid(m: Emitter, x: ir.Value) -> ir.Value:
    e = m.call("exp", m.neg(m.fabs(x)))  # in (0, 1]: never overflows
    d = m.add(m.c(1.0), e)
    return m.select(m.cmp("<", x, m.c(0.0)), m.div(e, d), m.div(m.c(1.0), d))


def _softplus(m: Emitter, x: ir.Value) -> ir.Value:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, and = e^x (not 0) for very negative x.
    pos = m.select(m.cmp(">", x, m.c(0.0)), x, m.c(0.0))
    return m.add(pos, m.call("log1p", m.call("exp", m.neg(m.fabs(x)))))


# --- sin, cos --------------------------------------------------------------------------------------------
_SIN_F64 = [
    1.58962301576546568060e-10,
    -2.50507477628578072866e-8,
    2.75573136213857245213e-6,
    -1.98412698295895385996e-4,
    8.33333333332211858878e-3,
    -1.66666666666666307295e-1,
]
_COS_F64 = [
    -1.13585365213876817300e-11,
    2.08757008419747316778e-9,
    -2.75573141792967388112e-7,
    2.48015872888517045348e-5,
    -1.38888888888730564116e-3,
    4.16666666666665929218e-2,
]
SINCOS_MAX_ABS = 2.0**30  # ~1e9: beyond, huge_trig's reduction (see the module docstring)
_DP = [7.85398125648498535156e-1, 3.77489470793079817668e-8, 2.69515142907905952645e-15]


def _sincos_f64(m: Emitter, x: ir.Value, want_sin: bool) -> ir.Value:
    ax = m.fabs(x)
    y = m.floor(m.mul(ax, m.c(4.0 / math.pi)))
    # Round the octant up to even, then j = y mod 8 in {0, 2, 4, 6}; all exact in floating point.
    odd = m.sub(y, m.mul(m.c(2.0), m.floor(m.mul(y, m.c(0.5)))))
    y = m.add(y, odd)
    j = m.sub(y, m.mul(m.c(8.0), m.floor(m.mul(y, m.c(0.125)))))
    z = ax
    for part in _DP:
        z = m.fma(y, m.c(-part), z)
    # Past SINCOS_MAX_ABS the three-part pi/4 no longer reduces accurately: Payne-Hanek does (both are
    # computed, so the loop stays straight-line and vectorises; selects pick one per element).
    big = m.cmp(">", ax, m.c(SINCOS_MAX_ABS))
    quadrant, r = huge_trig.reduce(m, ax)
    j = m.select(big, m.mul(quadrant, m.c(2.0)), j)
    z = m.select(big, r, z)
    zz = m.mul(z, z)
    sin_p = m.fma(m.mul(z, zz), m.poly(zz, _SIN_F64), z)
    cos_p = m.fma(m.mul(zz, zz), m.poly(zz, _COS_F64), m.fma(m.c(-0.5), zz, m.c(1.0)))
    j_is = {k: m.cmp("==", j, m.c(float(k))) for k in (2, 4, 6)}
    odd_quadrant = m.b.or_(j_is[2], j_is[6])
    upper_half = m.b.or_(j_is[4], j_is[6])
    if want_sin:
        result = m.select(odd_quadrant, cos_p, sin_p)
        negate = m.b.xor(upper_half, m.signbit(x))  # sin is odd: sign of x, also for -0
    else:
        result = m.select(odd_quadrant, sin_p, cos_p)
        negate = m.b.or_(j_is[2], j_is[4])
    result = m.select(negate, m.neg(result), result)
    return m.select(m.cmp("==", ax, m.c(math.inf)), m.c(math.nan), result)  # NaN stays NaN by itself


def _sin(m: Emitter, x: ir.Value) -> ir.Value:
    return _sincos_f64(m, x, True) if m.is64 else m.in_f64("sin", x)


def _cos(m: Emitter, x: ir.Value) -> ir.Value:
    return _sincos_f64(m, x, False) if m.is64 else m.in_f64("cos", x)


FUNCTIONS: dict[str, Callable[[Emitter, ir.Value], ir.Value]] = {
    "exp": _exp,
    "log": _log,
    "log1p": _log1p,
    "expm1": _expm1,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "sin": _sin,
    "cos": _cos,
    **vecmath_special.FUNCTIONS,  # atan, atan2, asin, acos, asinh, acosh, atanh, erf, erfc
}


def get_math_function(module: ir.Module, name: str, ty: ir.Type) -> ir.Function:
    """Declare and define ``graphc.<name>.<f32|f64>`` in ``module`` once; return it.

    The function is internal and ``alwaysinline``: call it from a loop body and it vectorises with the loop.
    """
    if name not in FUNCTIONS:
        raise KeyError(f"vecmath has no {name!r}; available: {sorted(FUNCTIONS)}")
    fname = f"graphc.{name}.{float_suffix(ty)}"
    existing = module.globals.get(fname)
    if existing is not None:
        return existing
    arity = vecmath_special.ARITY.get(name, 1)
    fn = ir.Function(module, ir.FunctionType(ty, [ty] * arity), fname)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(FUNCTIONS[name](Emitter(builder, ty, get_math_function), *fn.args))
    return fn
