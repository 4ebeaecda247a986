"""Argument reduction of sin and cos for huge arguments (Payne-Hanek), as straight-line IR that vectorises;
``vecmath`` uses it past the range of its three-part pi/4. Knows floating point, not graphs.

For |x| = m * 2**e (m in [1, 2)), x * 2/pi mod 4 needs only the bits of 2/pi from weight 2**-(e-53) on: the
earlier ones give multiples of 4. ``table()`` row e holds those bits as four doubles of 53 bits each, scaled
by 2**e so that no row underflows: m * row is x * (2/pi without its useless bits), and every row has the
same binary layout (its first chunk's last bit has weight 2, the next 2**-52, ...), so the first products'
integer parts and fractions are exact. The products are split exactly with FMA (two-product), their integer
parts summed apart (the quadrant, mod 4) and their fractions in double-double, which is then multiplied by
pi/2 (double-double). The remainder r in [-pi/4, pi/4] is accurate
to ~1e-30 relative for every finite x, even 6381956970095103 * 2**797, the double closest to a multiple of
pi/2 (fdlibm's __kernel_rem_pio2 and SLEEF's rempi work the same way).

Example::

    quadrant, r = reduce(emitter, abs_x)   # abs_x * 2/pi = quadrant + r / (pi/2), quadrant in {0, 1, 2, 3}
"""

from __future__ import annotations

import functools

from llvmlite import ir

__all__ = ["ROWS", "reduce", "table"]

ROWS = 1024  # one per binary exponent of a finite double >= 1
_CHUNKS = 4
_BITS = ROWS + 53 * _CHUNKS + 64  # bits of 2/pi computed (the last 64 are guard bits)
F64 = ir.DoubleType()
I64 = ir.IntType(64)


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2**bits), within a few units, by Machin's formula in integers."""

    def arctan_inv(n: int) -> int:  # arctan(1/n) * 2**(bits + 16)
        one = 1 << (bits + 16)
        total, term, k, sign = 0, one // n, 1, 1
        while term:
            total += sign * (term // k)
            term //= n * n
            k, sign = k + 2, -sign
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> 16


@functools.cache
def table() -> tuple[float, ...]:
    """Row e (4 doubles): the bits of 2/pi of weights 2**-K .. 2**-(K + 211), K = e - 53, in four 53-bit
    chunks, each scaled by 2**e (bits of weight 1 and more are 0: 2/pi < 1)."""
    precision = _BITS + 32
    two_over_pi = (2 << (2 * precision)) // _pi_fixed(precision)  # 2/pi * 2**precision
    mask = (1 << 53) - 1
    rows: list[float] = []
    for e in range(ROWS):
        first = e - 53
        for chunk in range(_CHUNKS):
            last = first + 53 * (chunk + 1) - 1  # weight of the chunk's lowest bit: 2**-last
            bits = (two_over_pi >> (precision - last)) & mask
            rows.append(float(bits) * 2.0 ** (e - last))  # exact: 53 bits, scaled by a power of 2
    return tuple(rows)


def _table_global(module: ir.Module) -> ir.GlobalVariable:
    name = "graphc.two_over_pi"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ty = ir.ArrayType(F64, ROWS * _CHUNKS)
    var = ir.GlobalVariable(module, ty, name)
    var.linkage, var.global_constant = "internal", True
    var.initializer = ir.Constant(ty, list(table()))
    return var


def reduce(m, ax: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(quadrant as a double in {0, 1, 2, 3}, r) with ax * 2/pi = quadrant + r * 2/pi (mod 4), |r| <= pi/4,
    for a finite double ``ax`` >= 1 (``m``: vecmath's emitter for float64)."""
    b = m.b
    fma = b.module.declare_intrinsic("llvm.fma", [F64], ir.FunctionType(F64, [F64, F64, F64]))
    rint = b.module.declare_intrinsic("llvm.rint", [F64])
    bits = m.bits(ax)
    exponent = b.sub(b.lshr(bits, m.ci(52)), m.ci(1023))
    # (|x| < 1, whose exponent is negative, takes the last row: never used, as ``vecmath`` reduces those)
    row = b.select(b.icmp_unsigned(">", exponent, m.ci(ROWS - 1)), m.ci(ROWS - 1), exponent)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.ci((1 << 52) - 1)), m.ci(1023 << 52)))  # ax / 2**e
    table_var = _table_global(b.module)
    base = b.mul(row, m.ci(_CHUNKS))
    g = [
        b.load(b.gep(table_var, [ir.Constant(I64, 0), b.add(base, m.ci(k))], inbounds=True))
        for k in range(_CHUNKS)
    ]

    def two_product(x, y):
        high = m.mul(x, y)
        return high, b.call(fma, [x, y, m.neg(high)])

    def whole_and_fraction(v):
        whole = b.call(rint, [v])
        return whole, m.sub(v, whole)  # exact: |v| < 2**53

    h0, l0 = two_product(mantissa, g[0])  # h0 < 2**55
    h0 = m.sub(h0, m.mul(m.c(4.0), m.floor(m.mul(h0, m.c(0.25)))))  # mod 4, exact
    h1, l1 = two_product(mantissa, g[1])  # < 4
    h2, l2 = two_product(mantissa, g[2])  # < 2**-50
    quadrant = m.c(0.0)
    fractions = []
    for v in (h0, l0, h1):
        whole, fraction = whole_and_fraction(v)
        quadrant = m.add(quadrant, whole)
        fractions.append(fraction)
    # h0 and l0 end at bits of weight 2**-51 or more: their fractions' sum is exact; h1's may go further
    high, err_h1 = _two_sum(m, m.add(fractions[0], fractions[1]), fractions[2])
    whole, high = whole_and_fraction(high)  # back to [-1/2, 1/2]
    quadrant = m.add(quadrant, whole)
    # The small terms apart, in double-double: where x is close to a multiple of pi/2, high cancels the
    # tail's first part (exactly) and the result is the tail's second part: it must be accurate by itself.
    tail, tail_low = _two_sum(m, l1, h2)
    tail, err = _two_sum(m, tail, err_h1)
    tail_low = m.add(m.add(tail_low, err), m.add(l2, m.mul(mantissa, g[3])))
    high, err = _two_sum(m, high, tail)
    high, low = _two_sum(m, high, m.add(err, tail_low))
    quadrant = m.sub(quadrant, m.mul(m.c(4.0), m.floor(m.mul(quadrant, m.c(0.25)))))
    # r = (high + low) * pi/2, pi/2 = P0 + P1 in double-double
    p0, p1 = 1.5707963267948966, 6.123233995736766e-17
    r_high = m.mul(high, m.c(p0))
    r_low = b.call(fma, [high, m.c(p0), m.neg(r_high)])
    r_low = m.fma(high, m.c(p1), m.fma(low, m.c(p0), r_low))
    return quadrant, m.add(r_high, r_low)


def _two_sum(m, a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(a + b rounded, its exact error) (Knuth)."""
    s = m.add(a, b)
    bb = m.sub(s, a)
    return s, m.add(m.sub(a, m.sub(s, bb)), m.sub(b, bb))
