"""User elementwise functions (`graphc.elementwise`): their sympy expression lowered to IR for one element.
Knows sympy and dtypes, not ops or graphs.
"""

from __future__ import annotations

import sympy
from llvmlite import ir

from .scalar import I1, Scalar, maximum, minimum, sign

_SYMPY_MATH = {
    sympy.exp: "exp",
    sympy.log: "log",
    sympy.tanh: "tanh",
    sympy.sin: "sin",
    sympy.cos: "cos",
    sympy.erf: "erf",
    sympy.erfc: "erfc",
    sympy.asin: "asin",
    sympy.acos: "acos",
    sympy.atan: "atan",
    sympy.asinh: "asinh",
    sympy.acosh: "acosh",
    sympy.atanh: "atanh",
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
    if isinstance(e, sympy.atan2):
        return s.math("atan2", v[e.args[0]], v[e.args[1]])
    if isinstance(e, sympy.log):  # log(x, base)
        return b.fdiv(s.math("log", v[e.args[0]]), s.math("log", v[e.args[1]]))
    if isinstance(e, sympy.Abs):
        return s.intrinsic("llvm.fabs", v[e.args[0]])
    if isinstance(e, sympy.sign):
        return sign(s, v[e.args[0]])
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
        f"(in {e}); supported: + * ** exp log tanh sin cos sinh cosh tan erf erfc asin acos atan atan2 asinh "
        f"acosh atanh Abs sign Max Min Heaviside Piecewise"
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
