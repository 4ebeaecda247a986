"""Scalar (per-element) IR of every elementwise op: SCALAR_RULES, dtype conversion, user sympy functions.

Elementwise rows are scalar rules ``rule(s, *args) -> ir.Value`` run inside a loop body (``s`` is a `Scalar`:
the builder plus the dtype the op computes in); the loop around them, and every non-elementwise row
(reductions, matmul, views, softmax, ...), live in ``codegen.llvm.nodes`` and are collected here so that
LLVM_RULES covers every op (see ``lower.LLVM_RULES``). Knows the graph IR's ops and dtypes, not the graph
itself. No fast-math flags: NaN/Inf behave as in NumPy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy
from llvmlite import ir

from graphc.ops import COMPARISONS, LOGICAL, Op

from . import vecmath

F32, F64, I1, I8, I32, I64 = (
    ir.FloatType(),
    ir.DoubleType(),
    ir.IntType(1),
    ir.IntType(8),
    ir.IntType(32),
    ir.IntType(64),
)
_MEMORY_TYPES = {"float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": I8}
_VALUE_TYPES = {**_MEMORY_TYPES, "bool": I1}


def memory_type(dtype) -> ir.Type:
    """How a dtype is stored in memory (bool is one byte)."""
    return _MEMORY_TYPES[np.dtype(dtype).name]


def value_type(dtype) -> ir.Type:
    """How a dtype is held in registers (bool is i1)."""
    return _VALUE_TYPES[np.dtype(dtype).name]


def load_value(b: ir.IRBuilder, ptr: ir.Value, dtype) -> ir.Value:
    v = b.load(ptr)
    return b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if np.dtype(dtype).kind == "b" else v


def store_value(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, dtype) -> None:
    b.store(b.zext(value, I8) if np.dtype(dtype).kind == "b" else value, ptr)


def constant(dtype, value) -> ir.Constant:
    kind = np.dtype(dtype).kind
    if kind == "f":
        return ir.Constant(value_type(dtype), float(value))
    return ir.Constant(value_type(dtype), int(bool(value)) if kind == "b" else int(value))


def convert(b: ir.IRBuilder, v: ir.Value, src, dst) -> ir.Value:
    """NumPy's astype for one scalar (float->int as on x86: out of range and NaN give the minimum int)."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return v
    ty = value_type(dst)
    if dst.kind == "b":
        if src.kind == "f":
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
    if src.kind == "b":
        return b.uitofp(v, ty) if dst.kind == "f" else b.zext(v, ty)
    if src.kind == "f" and dst.kind == "f":
        return b.fpext(v, ty) if dst.itemsize > src.itemsize else b.fptrunc(v, ty)
    if dst.kind == "f":
        return b.sitofp(v, ty)
    if src.kind == "f":
        bits = dst.itemsize * 8
        lo, hi = ir.Constant(v.type, -(2.0 ** (bits - 1))), ir.Constant(v.type, 2.0 ** (bits - 1))
        ok = b.and_(b.fcmp_ordered(">=", v, lo), b.fcmp_ordered("<", v, hi))
        return b.select(ok, b.fptosi(v, ty), ir.Constant(ty, -(2 ** (bits - 1))))
    return b.sext(v, ty) if dst.itemsize > src.itemsize else b.trunc(v, ty)


class Scalar:
    """What a scalar rule sees: the builder and the dtype its op computes in."""

    def __init__(self, b: ir.IRBuilder, dtype):
        self.b = b
        self.dtype = np.dtype(dtype)
        self.ty = value_type(self.dtype)
        self.float = self.dtype.kind == "f"
        self.bool = self.dtype.kind == "b"

    def c(self, value) -> ir.Constant:
        return constant(self.dtype, value)

    def math(self, name: str, x: ir.Value) -> ir.Value:
        return self.b.call(vecmath.get_math_function(self.b.module, name, self.ty), [x])

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        fn = self.b.module.declare_intrinsic(name, [self.ty], ir.FunctionType(self.ty, [self.ty] * len(args)))
        return self.b.call(fn, list(args))

    def isnan(self, x: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", x, x)


# --- scalar rules -------------------------------------------------------------------------------------------
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


def _sign(s, x):
    b = s.b
    if s.bool:
        return x
    if not s.float:
        gt, lt = b.icmp_signed(">", x, s.c(0)), b.icmp_signed("<", x, s.c(0))
        return b.sub(b.zext(gt, s.ty), b.zext(lt, s.ty))
    zero_or_nan = b.select(b.fcmp_ordered("==", x, s.c(0)), s.c(0), x)  # sign(-0.0) is +0.0 in NumPy
    return b.select(
        b.fcmp_ordered(">", x, s.c(0)), s.c(1), b.select(b.fcmp_ordered("<", x, s.c(0)), s.c(-1), zero_or_nan)
    )


def maximum(s: Scalar, x, y):
    """np.maximum: NaN wins; on ties the second argument (so maximum(-0.0, 0.0) is 0.0)."""
    if s.float:
        return s.b.select(s.b.or_(s.b.fcmp_ordered(">", x, y), s.isnan(x)), x, y)
    if s.bool:
        return s.b.or_(x, y)
    return s.b.select(s.b.icmp_signed(">", x, y), x, y)


def minimum(s: Scalar, x, y):
    if s.float:
        return s.b.select(s.b.or_(s.b.fcmp_ordered("<", x, y), s.isnan(x)), x, y)
    if s.bool:
        return s.b.and_(x, y)
    return s.b.select(s.b.icmp_signed("<", x, y), x, y)


def _pow(s: Scalar, x, y):
    if s.float:
        return s.intrinsic("llvm.pow", x, y)
    if s.bool:
        return s.b.or_(x, s.b.xor(y, s.c(1)))
    return s.b.call(_int_pow(s.b.module, s.ty), [x, y])


def _int_pow(module: ir.Module, ty: ir.IntType) -> ir.Function:
    """Exponentiation by squaring with wrap-around (NumPy's integer power; negative exponents give 0)."""
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
    Op.SIGN: _sign,
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
    Op.NOT: lambda s, x: s.b.xor(x, ir.Constant(I1, 1)),
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
    Op.SCALAR_FN: lambda s, *args, fn: emit_sympy(s, fn, args),
}
"""SCALAR_RULES[op](scalar, *converted_args, **params) -> value, for every elementwise op."""


def compute_dtype(op: Op, arg_dtypes: list, out_dtype) -> list:
    """The dtype each argument is converted to before the rule runs (the rule computes in Scalar.dtype)."""
    if op in COMPARISONS:
        common = np.result_type(*arg_dtypes)
        return [common, common]
    if op in LOGICAL:
        return [np.dtype(bool)] * len(arg_dtypes)
    if op is Op.WHERE:
        return [np.dtype(bool), np.dtype(out_dtype), np.dtype(out_dtype)]
    return [np.dtype(out_dtype)] * len(arg_dtypes)


def rule_dtype(op: Op, arg_dtypes: list, out_dtype) -> np.dtype:
    """The dtype the scalar rule computes in."""
    if op in COMPARISONS:
        return np.result_type(*arg_dtypes)
    return np.dtype(out_dtype)


# --- user elementwise functions: sympy expression -> IR
# ---------------------------------------------------------
_SYMPY_MATH = {
    sympy.exp: "exp",
    sympy.log: "log",
    sympy.tanh: "tanh",
    sympy.sin: "sin",
    sympy.cos: "cos",
}
_RELATIONS = {
    sympy.StrictLessThan: "<",
    sympy.LessThan: "<=",
    sympy.StrictGreaterThan: ">",
    sympy.GreaterThan: ">=",
    sympy.Equality: "==",
    sympy.Unequality: "!=",
}


def emit_sympy(s: Scalar, fn, args) -> ir.Value:
    """Lower the ScalarFunction's sympy expression in ``s.dtype`` (post-order walk, shared terms once)."""
    if not s.float:
        raise NotImplementedError(
            f"elementwise {fn.name!r}: the llvm backend computes user functions in float only"
        )
    values: dict = dict(zip(fn.symbols, args, strict=True))
    for node in sympy.postorder_traversal(fn.expr):
        if node not in values:
            values[node] = _sympy_node(s, fn, node, values)
    return values[fn.expr]


def _sympy_node(s: Scalar, fn, e, v: dict):
    b = s.b
    if isinstance(e, sympy.Symbol):
        raise NotImplementedError(f"elementwise {fn.name!r}: unknown symbol {e}")
    if e.is_Number or isinstance(e, sympy.NumberSymbol):
        return s.c(float(e))
    if isinstance(e, (sympy.logic.boolalg.BooleanTrue, sympy.logic.boolalg.BooleanFalse)):
        return ir.Constant(I1, int(bool(e)))
    if isinstance(e, sympy.Add | sympy.Mul):
        op = b.fadd if isinstance(e, sympy.Add) else b.fmul
        acc = v[e.args[0]]
        for a in e.args[1:]:
            acc = op(acc, v[a])
        return acc
    if isinstance(e, sympy.Pow):
        return _sympy_pow(s, e, v)
    if e.func in _SYMPY_MATH and len(e.args) == 1:
        return s.math(_SYMPY_MATH[e.func], v[e.args[0]])
    if isinstance(e, sympy.log):  # log(x, base)
        return b.fdiv(s.math("log", v[e.args[0]]), s.math("log", v[e.args[1]]))
    if isinstance(e, sympy.Abs):
        return s.intrinsic("llvm.fabs", v[e.args[0]])
    if isinstance(e, sympy.sign):
        return _sign(s, v[e.args[0]])
    if isinstance(e, sympy.Max | sympy.Min):
        pick = maximum if isinstance(e, sympy.Max) else minimum
        acc = v[e.args[0]]
        for a in e.args[1:]:
            acc = pick(s, acc, v[a])
        return acc
    if isinstance(e, sympy.Heaviside):
        x = v[e.args[0]]
        h0 = v[e.args[1]] if len(e.args) > 1 else s.c(0.5)
        at0 = b.select(b.fcmp_ordered("==", x, s.c(0)), h0, x)  # NaN stays NaN
        return b.select(
            b.fcmp_ordered(">", x, s.c(0)), s.c(1), b.select(b.fcmp_ordered("<", x, s.c(0)), s.c(0), at0)
        )
    if isinstance(e, sympy.sinh | sympy.cosh):
        x = v[e.args[0]]
        ep, em = s.math("exp", x), s.math("exp", b.fneg(x))
        both = b.fsub(ep, em) if isinstance(e, sympy.sinh) else b.fadd(ep, em)
        return b.fmul(both, s.c(0.5))
    if isinstance(e, sympy.tan):
        return b.fdiv(s.math("sin", v[e.args[0]]), s.math("cos", v[e.args[0]]))
    if type(e) in _RELATIONS:
        return _compare_sym(s, _RELATIONS[type(e)], v[e.args[0]], v[e.args[1]])
    if isinstance(e, sympy.And | sympy.Or):
        acc = v[e.args[0]]
        for a in e.args[1:]:
            acc = (b.and_ if isinstance(e, sympy.And) else b.or_)(acc, v[a])
        return acc
    if isinstance(e, sympy.Not):
        return b.xor(v[e.args[0]], ir.Constant(I1, 1))
    if isinstance(e, sympy.functions.elementary.piecewise.ExprCondPair):
        return None  # its parts are emitted separately; Piecewise reads them
    if isinstance(e, sympy.Piecewise):
        result = s.c(float("nan"))  # no branch true: NaN, as lambdify's numpy select gives
        for expr, cond in reversed(e.args):
            result = b.select(v[cond], v[expr], result)
        return result
    raise NotImplementedError(
        f"elementwise {fn.name!r}: the llvm backend cannot lower the sympy function {type(e).__name__} "
        f"(in {e}); supported: + * ** exp log tanh sin cos sinh cosh tan Abs sign Max Min Heaviside Piecewise"
    )


def _compare_sym(s: Scalar, sym: str, x, y):
    return s.b.fcmp_unordered(sym, x, y) if sym == "!=" else s.b.fcmp_ordered(sym, x, y)


def _sympy_pow(s: Scalar, e, v: dict):
    b = s.b
    base, exponent = e.args
    x = v[base]
    if exponent.is_Integer and abs(int(exponent)) <= 64:
        n = abs(int(exponent))
        result, square = None, x
        while n:  # exact for n = 2 (x*x); repeated squaring beyond
            if n & 1:
                result = square if result is None else b.fmul(result, square)
            n >>= 1
            if n:
                square = b.fmul(square, square)
        result = s.c(1.0) if result is None else result
        return b.fdiv(s.c(1.0), result) if exponent < 0 else result
    if exponent == sympy.Rational(1, 2):
        return s.intrinsic("llvm.sqrt", x)
    if exponent == sympy.Rational(-1, 2):
        return b.fdiv(s.c(1.0), s.intrinsic("llvm.sqrt", x))
    if base == sympy.E:
        return s.math("exp", v[exponent])
    return s.intrinsic("llvm.pow", x, v[exponent])
