"""check_numerics in native code: after each node, its float outputs are scanned for NaN and infinities; where
one has a kind (graphc.codegen.checks NAN, INF) that none of the node's inputs has, the call stops through
the failure path (``ctx.fail_if``) with a `NumericsCheck` naming the node. Knows views and IR, not ops.

The common case costs one pass over each output: the inputs are scanned only after an output was found to
hold a NaN or an infinity. The walk (``lower``) calls `after` once per node; without check_numerics it never
does, and the code is what it was.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.codegen.checks import INF, NAN, NumericsCheck

from .loops import loop_nest, strided_gep
from .scalar import I8, I64
from .views import View, const


class NumericsGuard:
    def __init__(self, ctx):
        self.ctx = ctx
        self.kinds: dict[int, ir.Value] = {}  # id(value) -> its kinds (i8), for values nodes made

    def after(self, node, outputs: list[View]) -> None:
        """Scan `node`'s float outputs; stop the call if one has a kind of non-finite value no input has."""
        ctx, b = self.ctx, self.ctx.b
        for var, view in zip(node.outputs, outputs, strict=True):
            if not var.type.is_float:
                continue
            kinds, position = self._scan(view)
            self.kinds[id(var)] = kinds
            with b.if_then(b.icmp_unsigned("!=", kinds, ir.Constant(I8, 0))):  # rare: look at the inputs
                had = ir.Constant(I8, 0)
                for v in node.inputs:
                    if v.type.is_float:
                        had = b.or_(had, self._kinds_of(v))
                new = b.and_(kinds, b.not_(had))
                bad = b.icmp_unsigned("!=", new, ir.Constant(I8, 0))
                ctx.fail_if(bad, NumericsCheck(node), b.zext(new, I64), position)

    def _kinds_of(self, var) -> ir.Value:
        """A value's kinds: what its node's scan found, or (a leaf of the graph) a scan now."""
        known = self.kinds.get(id(var))
        return known if known is not None else self._scan(self.ctx.env[id(var)])[0]

    def _scan(self, view: View) -> tuple[ir.Value, ir.Value]:
        """(kinds found: NAN | INF bits as i8, the first flat C-order position of one, or -1) over a view."""
        ctx, b = self.ctx, self.ctx.b
        kinds_slot, first_slot, count_slot = (ctx.entry_alloca(t) for t in (I8, I64, I64))
        b.store(ir.Constant(I8, 0), kinds_slot)
        b.store(const(-1), first_slot)
        b.store(const(0), count_slot)
        infinity = ir.Constant(view.ptr.type.pointee, float("inf"))
        with loop_nest(b, list(view.dims), name="scan") as indices:
            x = b.load(strided_gep(b, view.ptr, indices, view.strides))
            nan = b.fcmp_unordered("uno", x, x)
            inf = b.or_(b.fcmp_ordered("==", x, infinity), b.fcmp_ordered("==", x, b.fneg(infinity)))
            zero = ir.Constant(I8, 0)
            element = b.or_(
                b.select(nan, ir.Constant(I8, NAN), zero), b.select(inf, ir.Constant(I8, INF), zero)
            )
            k = b.load(count_slot)
            first = b.load(first_slot)
            fresh = b.and_(
                b.icmp_unsigned("!=", element, ir.Constant(I8, 0)), b.icmp_signed("<", first, const(0))
            )
            b.store(b.select(fresh, k, first), first_slot)
            b.store(b.or_(b.load(kinds_slot), element), kinds_slot)
            b.store(b.add(k, const(1)), count_slot)
        return b.load(kinds_slot), b.load(first_slot)


__all__ = ["NumericsGuard"]
