"""SCALAR_RULES: the IR of one element of every elementwise op, ``rule(s, *args, **params) -> ir.Value``
(``s`` is a `Scalar`: the builder and the dtype the op computes in). ``lower.LLVM_RULES`` generates its
elementwise rows from this table, and kernel bodies read each instruction's rule from those rows. Knows ops
and dtypes, not graphs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir

from graphc.ops import COMPARISONS, Op

from .scalar import Scalar, maximum, minimum, sign
from .scalar_math import SCALAR_MATH_RULES


def _emit_user_function(s: Scalar, fn, args):
    """A gc.elementwise function's sympy expression as IR (sympy_ir imports sympy: graphs with one only)."""
    from .sympy_ir import emit_sympy

    return emit_sympy(s, fn, args)


def _arith(fop: str, iop: str, bop: str | None = None) -> Callable:
    def rule(s: Scalar, x, y):
        if s.float:
            return getattr(s.b, fop)(x, y)
        return getattr(s.b, bop if s.bool and bop else iop)(x, y)

    return rule


def _neg(s, x):
    return s.b.fneg(x) if s.float else s.b.sub(s.c(0), x)


def _abs(s, x):
    if s.float:
        return s.intrinsic("llvm.fabs", x)
    return x if s.bool else s.b.select(s.b.icmp_signed("<", x, s.c(0)), s.b.sub(s.c(0), x), x)


def _pow(s: Scalar, x, y):
    if s.float:  # graphc.ops.power: an exponent of exactly 0.5 is sqrt (NumPy's rule), not C's pow
        if isinstance(y, ir.Constant):
            return s.intrinsic("llvm.sqrt", x) if y.constant == 0.5 else s.intrinsic("llvm.pow", x, y)
        half = s.b.fcmp_ordered("==", y, s.c(0.5))
        return s.b.select(half, s.intrinsic("llvm.sqrt", x), s.intrinsic("llvm.pow", x, y))
    if s.bool:
        return s.b.or_(x, s.b.xor(y, s.c(1)))
    if not (isinstance(y, ir.Constant) and y.constant >= 0):  # checks.NegativePower
        s.fail_if(s.b.icmp_signed("<", y, s.c(0)), y, arg=1)
    return s.b.call(_int_pow(s.b.module, s.ty), [x, y])


def _int_pow(module: ir.Module, ty: ir.IntType) -> ir.Function:
    """Exponentiation by squaring with wrap-around (NumPy's integer power); a negative exponent gives 0, and
    the rule has already reported it."""
    name = f"graphc.ipow.i{ty.width}"
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, ir.FunctionType(ty, [ty, ty]), name)
    fn.linkage = "internal"
    base, exp = fn.args
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    acc, x, e = b.phi(ty), b.phi(ty), b.phi(ty)
    odd = b.icmp_unsigned("!=", b.and_(e, ir.Constant(ty, 1)), ir.Constant(ty, 0))
    acc2 = b.select(odd, b.mul(acc, x), acc)
    x2, e2 = b.mul(x, x), b.ashr(e, ir.Constant(ty, 1))
    for phi, start, nxt in ((acc, ir.Constant(ty, 1), acc2), (x, base, x2), (e, exp, e2)):
        phi.add_incoming(start, entry)
        phi.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed(">", e2, ir.Constant(ty, 0)), loop, done)
    b.position_at_end(done)
    b.ret(b.select(b.icmp_signed("<", exp, ir.Constant(ty, 0)), ir.Constant(ty, 0), acc2))
    return fn


def _relu(s, x):
    return maximum(s, x, s.c(0))


def _compare(op: Op) -> Callable:
    sym = {Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.EQ: "==", Op.NE: "!="}[op]

    def rule(s: Scalar, x, y):
        if s.float:  # NaN compares unequal to everything, equal to nothing (ordered except !=)
            return s.b.fcmp_unordered(sym, x, y) if sym == "!=" else s.b.fcmp_ordered(sym, x, y)
        return (s.b.icmp_unsigned if s.bool else s.b.icmp_signed)(sym, x, y)

    return rule


def _math(name: str) -> Callable:
    return lambda s, x: s.math(name, x)


SCALAR_RULES: dict[Op, Callable] = {
    Op.NEG: _neg,
    Op.ABS: _abs,
    Op.SIGN: sign,
    Op.EXP: _math("exp"),
    Op.LOG: _math("log"),
    Op.LOG1P: _math("log1p"),
    Op.EXPM1: _math("expm1"),
    Op.SQRT: lambda s, x: s.intrinsic("llvm.sqrt", x),
    Op.SIN: _math("sin"),
    Op.COS: _math("cos"),
    Op.TANH: _math("tanh"),
    Op.SIGMOID: _math("sigmoid"),
    Op.SOFTPLUS: _math("softplus"),
    Op.RELU: _relu,
    Op.NOT: lambda s, x: s.b.xor(x, s.c(1 if s.bool else -1)),  # bitwise: all bits flipped
    Op.CAST: lambda s, x: x,  # the loop converts the argument to the output dtype before the rule runs
    Op.ADD: _arith("fadd", "add", "or_"),
    Op.SUB: _arith("fsub", "sub", "xor"),
    Op.MUL: _arith("fmul", "mul", "and_"),
    Op.DIV: _arith("fdiv", "sdiv"),  # true division: integer arguments are converted to float first
    Op.POW: _pow,
    Op.MAXIMUM: maximum,
    Op.MINIMUM: minimum,
    **{op: _compare(op) for op in COMPARISONS},
    Op.AND: lambda s, x, y: s.b.and_(x, y),
    Op.OR: lambda s, x, y: s.b.or_(x, y),
    Op.WHERE: lambda s, c, x, y: s.b.select(c, x, y),
    Op.SCALAR_FN: lambda s, *args, fn: _emit_user_function(s, fn, args),
    **SCALAR_MATH_RULES,  # rounding, integer, bitwise and special functions
}
"""SCALAR_RULES[op](scalar, *converted_args, **params) -> value, for every elementwise op."""


def compute_dtype(op: Op, arg_dtypes: list, out_dtype) -> list:
    """The dtype each argument is converted to before the rule runs (the rule computes in Scalar.dtype)."""
    if op in COMPARISONS:
        common = np.result_type(*arg_dtypes)
        return [common, common]
    if op is Op.WHERE:
        return [np.dtype(bool), np.dtype(out_dtype), np.dtype(out_dtype)]
    return [np.dtype(out_dtype)] * len(arg_dtypes)


def rule_dtype(op: Op, arg_dtypes: list, out_dtype) -> np.dtype:
    """The dtype the scalar rule computes in."""
    if op in COMPARISONS:
        return np.result_type(*arg_dtypes)
    return np.dtype(out_dtype)
