"""A gc.elementwise function's sympy expression as ONNX nodes (export), one node per operation. Knows sympy
and the exporter's emit/constant helpers only."""

from __future__ import annotations

import numpy as np
import sympy

from graphc.errors import GraphcError

UNARY = {
    sympy.exp: "Exp", sympy.log: "Log", sympy.sin: "Sin", sympy.cos: "Cos", sympy.tan: "Tan",
    sympy.tanh: "Tanh", sympy.sinh: "Sinh", sympy.cosh: "Cosh", sympy.asin: "Asin", sympy.acos: "Acos",
    sympy.atan: "Atan", sympy.asinh: "Asinh", sympy.acosh: "Acosh", sympy.atanh: "Atanh", sympy.Abs: "Abs",
    sympy.sign: "Sign", sympy.erf: "Erf", sympy.floor: "Floor", sympy.ceiling: "Ceil",
}  # fmt: skip
FOLDED = {sympy.Add: "Add", sympy.Mul: "Mul", sympy.Max: "Max", sympy.Min: "Min", sympy.And: "And",
          sympy.Or: "Or"}  # fmt: skip
RELATIONS = {
    sympy.StrictLessThan: "Less", sympy.LessThan: "LessOrEqual", sympy.StrictGreaterThan: "Greater",
    sympy.GreaterThan: "GreaterOrEqual", sympy.Equality: "Equal",
}  # fmt: skip


def export_expression(ex, expr: sympy.Expr, args: dict, dtype: np.dtype) -> str:
    """The ONNX name of `expr` evaluated in `dtype`, its symbols bound to the ONNX names in `args`."""

    def emit(e) -> str:
        if e in args:
            return args[e]
        if e is sympy.true or e is sympy.false:
            return ex.constant(bool(e), np.bool_)
        if e.is_Number or e.is_NumberSymbol:
            return ex.constant(float(e), dtype)
        kind = type(e)
        if kind in FOLDED:
            names = [emit(a) for a in e.args]
            out = names[0]
            for name in names[1:]:
                out = ex.one(FOLDED[kind], [out, name])
            return out
        if kind is sympy.Pow:
            base, power = e.args
            if power == sympy.S.Half:
                return ex.one("Sqrt", [emit(base)])
            if power == -1:
                return ex.one("Reciprocal", [emit(base)])
            return ex.one("Pow", [emit(base), emit(power)])
        if kind in UNARY:
            return ex.one(UNARY[kind], [emit(e.args[0])])
        if kind in RELATIONS:
            return ex.one(RELATIONS[kind], [emit(a) for a in e.args])
        if kind is sympy.Unequality:
            return ex.one("Not", [ex.one("Equal", [emit(a) for a in e.args])])
        if kind is sympy.Not:
            return ex.one("Not", [emit(e.args[0])])
        if kind is sympy.Heaviside:  # 1 above 0, H(0) at 0, 0 below
            x, at_zero = emit(e.args[0]), emit(e.args[1] if len(e.args) > 1 else sympy.S.Half)
            zero, one = ex.constant(0.0, dtype), ex.constant(1.0, dtype)
            inner = ex.one("Where", [ex.one("Equal", [x, zero]), at_zero, zero])
            return ex.one("Where", [ex.one("Greater", [x, zero]), one, inner])
        if kind is sympy.Piecewise:  # the first true condition wins: build the Wheres from the last piece
            pieces = list(e.args)
            out = emit(pieces[-1].expr) if pieces[-1].cond is sympy.true else ex.constant(np.nan, dtype)
            for piece in reversed(pieces[:-1] if pieces[-1].cond is sympy.true else pieces):
                out = ex.one("Where", [emit(piece.cond), emit(piece.expr), out])
            return out
        raise GraphcError(f"gc.onnx.export: the sympy {kind.__name__} in {expr} has no ONNX operator")

    return emit(expr)
