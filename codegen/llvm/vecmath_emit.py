"""The arithmetic layer the vecmath algorithms are written in: an IRBuilder for one float type (and its
same-width integer type), with Horner polynomials, FMA, selects and bit tricks. Knows LLVM IR only.

No fast-math flags are used: NaN, +-Inf, -0 and denormals behave like NumPy's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

__all__ = ["Emitter", "float_suffix"]


def float_suffix(ty: ir.Type) -> str:
    """``"f32"`` or ``"f64"`` for a float type; ``TypeError`` otherwise."""
    if isinstance(ty, ir.FloatType):
        return "f32"
    if isinstance(ty, ir.DoubleType):
        return "f64"
    raise TypeError(f"vecmath supports float and double, not {ty}")


class Emitter:
    """Thin arithmetic layer over an IRBuilder for one float type (and its same-width integer type)."""

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type, resolve: Callable) -> None:
        self.b = builder
        self.ty = ty
        self.resolve = resolve  # (module, name, type) -> the vecmath function: `call` uses it
        self.is64 = float_suffix(ty) == "f64"
        self.ity = ir.IntType(64 if self.is64 else 32)
        module = builder.module
        self._fmuladd = module.declare_intrinsic("llvm.fmuladd", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        self._fabs = module.declare_intrinsic("llvm.fabs", [ty])
        self._floor = module.declare_intrinsic("llvm.floor", [ty])
        self._copysign = module.declare_intrinsic("llvm.copysign", [ty], ir.FunctionType(ty, [ty, ty]))

    # constants -----------------------------------------------------------------------------------------
    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.ty, value)

    def ci(self, value: int) -> ir.Constant:
        return ir.Constant(self.ity, value)

    # float arithmetic (no fast-math flags: IEEE semantics for NaN/Inf are kept) ------------------------
    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fadd(a, b)

    def sub(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fsub(a, b)

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fmul(a, b)

    def div(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fdiv(a, b)

    def neg(self, a: ir.Value) -> ir.Value:
        return self.b.fneg(a)

    def fma(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        """a*b + c, fused where the target has FMA (llvm.fmuladd), else multiply then add."""
        return self.b.call(self._fmuladd, [a, b, c])

    def fabs(self, a: ir.Value) -> ir.Value:
        return self.b.call(self._fabs, [a])

    def sqrt(self, a: ir.Value) -> ir.Value:
        return self.b.call(self.b.module.declare_intrinsic("llvm.sqrt", [self.ty]), [a])

    def floor(self, a: ir.Value) -> ir.Value:
        return self.b.call(self._floor, [a])

    def copysign(self, mag: ir.Value, sign: ir.Value) -> ir.Value:
        return self.b.call(self._copysign, [mag, sign])

    def poly(self, x: ir.Value, coeffs: Sequence[float]) -> ir.Value:
        """Horner: coeffs[0]*x^(n-1) + ... + coeffs[-1]."""
        acc: ir.Value = self.c(coeffs[0])
        for coeff in coeffs[1:]:
            acc = self.fma(acc, x, self.c(coeff))
        return acc

    # comparisons and selection ------------------------------------------------------------------------
    def cmp(self, op: str, a: ir.Value, b: ir.Value) -> ir.Value:
        """Ordered comparison: false when either side is NaN."""
        return self.b.fcmp_ordered(op, a, b)

    def isnan(self, a: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", a, a)

    def select(self, cond: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(cond, a, b)

    # bits ----------------------------------------------------------------------------------------------
    def bits(self, a: ir.Value) -> ir.Value:
        return self.b.bitcast(a, self.ity)

    def from_bits(self, i: ir.Value) -> ir.Value:
        return self.b.bitcast(i, self.ty)

    def signbit(self, a: ir.Value) -> ir.Value:
        return self.b.icmp_signed("<", self.bits(a), self.ci(0))

    def poly_select(self, x: ir.Value, cond: ir.Value, when: Sequence[float], other: Sequence[float]):
        """Horner with coefficients chosen per lane: ``when`` where ``cond`` holds, else ``other`` (same
        length: pad the shorter one with leading zeros). One evaluation serves two intervals."""
        acc: ir.Value = self.select(cond, self.c(when[0]), self.c(other[0]))
        for a, b in zip(when[1:], other[1:], strict=True):
            acc = self.fma(acc, x, self.select(cond, self.c(a), self.c(b)))
        return acc

    def high_part(self, a: ir.Value) -> ir.Value:
        """a with the low 32 bits of its float64 pattern cleared (fdlibm's SET_LOW_WORD(a, 0)): its square is
        exact."""
        return self.from_bits(self.b.and_(self.bits(a), self.ci(-(1 << 32))))

    def in_f64(self, name: str, *args: ir.Value) -> ir.Value:
        """A float32 function as its float64 version, rounded once at the end (accurate, and simpler than a
        float32 algorithm of its own)."""
        wide = [self.b.fpext(a, ir.DoubleType()) for a in args]
        return self.b.fptrunc(self.call(name, *wide, ty=ir.DoubleType()), self.ty)

    def call(self, name: str, *args: ir.Value, ty: ir.Type | None = None) -> ir.Value:
        """Another vecmath function (in ``ty``, default this emitter's type)."""
        return self.b.call(self.resolve(self.b.module, name, ty or self.ty), list(args))
