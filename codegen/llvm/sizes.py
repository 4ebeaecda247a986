"""Symbolic sizes as run-time i64 values, computed once in the entry block; knows sympy and IR, not ops.

The entry function receives an i64 array ``dims``: slot 0 is the thread count, then one slot per named size
(``symbols``: read off an input's shape by the CPython entry, or passed by Python), then the sizes Python
evaluates (``derived``: expressions that are not integer polynomials of the names, e.g. with floor).
Integer polynomials of the names are computed in IR.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy
from llvmlite import ir

from graphc.errors import ShapeError

from .views import const, mul


class Sizes:
    """``dim(d)``: the value of a dimension (int, symbol or expression); ``product(dims)`` of such values.

    ``refuse(condition, exc, message)`` registers a check made before any work (a negative size such as
    ``n - 2`` with ``n = 1`` must stop the call before a loop or a BLAS call sees it).
    """

    def __init__(self, builder: ir.IRBuilder, dims_arg: ir.Value, symbols, refuse: Callable):
        self.b = builder
        self.dims_arg = dims_arg
        self.symbols: list = list(symbols)  # every name the graph uses, known up front: derived slots follow
        self.derived: list = []
        self._refuse = refuse
        self._memo: dict = {}
        self.nthreads = self._slot(0)

    def dim(self, d) -> ir.Value:
        if isinstance(d, int | np.integer):
            return const(int(d))
        d = sympy.sympify(d)
        if d.is_Integer:
            return const(int(d))
        if d in self._memo:
            return self._memo[d]
        value = self._polynomial(d)
        if value is None:
            self.derived.append(d)
            value = self._slot(len(self.symbols) + len(self.derived))
        if not isinstance(d, sympy.Symbol):
            self._refuse(
                lambda b, v=value: b.icmp_signed(">=", v, const(0)),
                ShapeError,
                f"the size {d} is negative for these inputs",
            )
        self._memo[d] = value
        return value

    def product(self, dims) -> ir.Value:
        acc = const(1)
        for d in dims:
            acc = mul(self.b, acc, d)
        return acc

    def _slot(self, k: int) -> ir.Value:
        return self.b.load(self.b.gep(self.dims_arg, [const(k)]))

    def _polynomial(self, expr):
        """Integer polynomials of the symbols are computed in IR (the call is refused where one overflows 64
        bits); anything else (floor, ...) by Python."""
        values: dict = {}
        overflow = None
        for e in sympy.postorder_traversal(expr):
            if e in values:
                continue
            if isinstance(e, sympy.Symbol):
                if e not in self.symbols:  # a name no input has: gc.function refuses such graphs
                    raise ShapeError(f"llvm backend: no input gives the size {e}")
                values[e] = self._slot(1 + self.symbols.index(e))
            elif e.is_Integer:
                values[e] = const(int(e))
            elif isinstance(e, sympy.Add | sympy.Mul) or (
                isinstance(e, sympy.Pow) and e.args[1].is_Integer and 0 < int(e.args[1]) <= 8
            ):
                if isinstance(e, sympy.Pow):
                    op, terms = "mul", [e.args[0]] * int(e.args[1])
                else:
                    op, terms = ("add" if isinstance(e, sympy.Add) else "mul"), e.args
                acc = values[terms[0]]
                for a in terms[1:]:
                    acc, bad = checked(self.b, op, acc, values[a])
                    overflow = bad if overflow is None else self.b.or_(overflow, bad)
                values[e] = acc
            else:
                return None
        if overflow is not None:
            self._refuse(
                lambda b, bad=overflow: b.not_(bad),
                ShapeError,
                f"the size {expr} is too big for these inputs: it does not fit in 64 bits",
            )
        return values[expr]


def checked(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(x + y or x * y, whether it overflowed signed 64 bits): size arithmetic never wraps unnoticed."""
    pair = (b.sadd_with_overflow if op == "add" else b.smul_with_overflow)(x, y)
    return b.extract_value(pair, 0), b.extract_value(pair, 1)


def graph_symbols(fgraph) -> list:
    """Every named size of the graph, in the order the inputs' shapes give them (gc.function refuses a graph
    with a size that no input gives)."""
    found: list = []
    for var in fgraph.inputs:
        for s in sorted(var.type.symbols, key=str):
            if s not in found:
                found.append(s)
    return found


__all__ = ["Sizes", "checked", "graph_symbols"]
