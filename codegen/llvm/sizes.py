"""Symbolic sizes as run-time i64 values, computed once in the entry block; knows graphc.dims and IR, not ops.

The entry function receives an i64 array ``dims``: slot 0 is the thread count, then one slot per named size
(``symbols``: read off an input's shape by the CPython entry, or passed by Python), then the sizes Python
evaluates (``derived``: expressions that are not integer polynomials of the sizes: with floor or ceiling).
Integer polynomials of the sizes are computed in IR.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir

from graphc.dims import Size, is_polynomial, monomials
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
        if d in self._memo:
            return self._memo[d]
        value = self._polynomial(d) if is_polynomial(d) else None
        if value is None:
            self.derived.append(d)
            value = self._slot(len(self.symbols) + len(self.derived))
        if not isinstance(d, Size):
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

    def _polynomial(self, expr) -> ir.Value:
        """Σ c·Π sizeᵉ in IR (each size read from its slot); a call where it overflows 64 bits is refused."""
        total, overflow = None, []
        for coefficient, monomial in monomials(expr):
            term = const(coefficient)
            for size, exponent in monomial:
                if size not in self.symbols:  # a size no input has: gc.function refuses such graphs
                    raise ShapeError(f"llvm backend: no input gives the size {size}")
                for _ in range(exponent):
                    term, bad = checked(self.b, "mul", term, self._slot(1 + self.symbols.index(size)))
                    overflow.append(bad)
            if total is None:
                total = term
            else:
                total, bad = checked(self.b, "add", total, term)
                overflow.append(bad)
        if overflow:
            any_bad = overflow[0]
            for bad in overflow[1:]:
                any_bad = self.b.or_(any_bad, bad)
            self._refuse(
                lambda b, bad=any_bad: b.not_(bad),
                ShapeError,
                f"the size {expr} is too big for these inputs: it does not fit in 64 bits",
            )
        return total


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
