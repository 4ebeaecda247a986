"""SCAN and COND for the llvm backend: the body's code is lowered in place, inside a native loop over the
steps or the two arms of a branch. No Python runs per step. Knows views, the context's body API and ops.

A scan's carries live in two buffers each (double buffering): a step reads the current one and its body
writes the new carry straight into the other, then the two swap. Each y is written by its body in place,
into row t of the stacked output; a saved carry is copied into its row before the step. Sequences are read
in place: x[t] is a view of row t of the sequence.
"""

from __future__ import annotations

from dataclasses import replace

from llvmlite import ir

from graphc.ops import Op

from . import loops
from .scalar import I8, I64, load_value, memory_type
from .views import View, const

I8P = I8.as_pointer()


def row(b: ir.IRBuilder, v: View, t: ir.Value) -> View:
    """v[t]: the view of row t (axis 0) of v, in place."""
    ptr = b.gep(v.ptr, [b.mul(t, v.strides[0])])
    mat = v.mat if v.ndim >= 3 else None
    return View(ptr, v.dtype, v.shape[1:], v.dims[1:], v.strides[1:], v.sstrides[1:], v.contig, mat)


class _Carry:
    """Two buffers for one carry and a slot holding which one is current (swapped after each step)."""

    def __init__(self, ctx, var, init: View):
        self.buffers = [ctx.fixed(var.type.dtype, var.type.shape) for _ in range(2)]
        self.cur_slot, self.next_slot = ctx.entry_alloca(I8P), ctx.entry_alloca(I8P)
        b = ctx.b
        ctx.copy(init, self.buffers[0])
        b.store(b.bitcast(self.buffers[0].ptr, I8P), self.cur_slot)
        b.store(b.bitcast(self.buffers[1].ptr, I8P), self.next_slot)
        self.ptr_type = memory_type(var.type.dtype).as_pointer()

    def view(self, b: ir.IRBuilder, slot) -> View:
        """The buffer in `slot` (current or next), as a view like the buffers."""
        return replace(self.buffers[0], ptr=b.bitcast(b.load(slot), self.ptr_type))

    def swap(self, b: ir.IRBuilder) -> None:
        cur, nxt = b.load(self.cur_slot), b.load(self.next_slot)
        b.store(nxt, self.cur_slot)
        b.store(cur, self.next_slot)


def opaque(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """The same number, hidden from LLVM's optimiser (an empty inline asm): given a short constant trip count,
    LLVM unrolls the whole loop, body and all, and a scan over T = 10 would compile slower than T = 10,000."""
    if not isinstance(value, ir.Constant):
        return value
    return b.asm(ir.FunctionType(I64, [I64]), "", "=r,0", [value], side_effect=False, name="steps")


def scan(ctx, node, ins):
    """LLVM_RULES[Op.SCAN]: for each step t, the body on x[t], writing the new carries and ys[t] in place."""
    p = node.params
    body, n_carry, n_seq = p["body"], p["n_carry"], p["n_seq"]
    n_y = len(body.outputs) - n_carry
    carries_in, xs, captured = ins[:n_carry], ins[n_carry : n_carry + n_seq], ins[n_carry + n_seq :]
    finals = [ctx.out(v) for v in node.outputs[:n_carry]]
    stacked = [ctx.out(v) for v in node.outputs[n_carry:]]
    ys, saved = stacked[:n_y], stacked[n_y:]
    kept = {k for k in range(n_carry) if body.outputs[k] is body.inputs[k]}  # a carry the body passes on
    buffers = [_Carry(ctx, var, init) for var, init in zip(body.inputs, carries_in, strict=False)]
    b = ctx.b
    steps = opaque(b, ctx.dim(p["length"]))
    with loops.for_range(b, steps, name="step") as i:
        t = b.sub(b.sub(steps, const(1)), i) if p["reverse"] else i
        current = [c.view(b, c.cur_slot) for c in buffers]
        for view, k in zip(saved, p["save"], strict=True):
            ctx.copy(current[k], row(b, view, t))
        inputs = current + [row(b, x, t) for x in xs] + list(captured)
        targets = [(body.outputs[k], c.view(b, c.next_slot)) for k, c in enumerate(buffers) if k not in kept]
        targets += [(var, row(b, y, t)) for var, y in zip(body.outputs[n_carry:], ys, strict=True)]
        ctx.lower_body(body, inputs, targets)
        for k, c in enumerate(buffers):
            if k not in kept:
                c.swap(b)
    for c, final in zip(buffers, finals, strict=True):
        ctx.copy(c.view(b, c.cur_slot), final)
    return finals + stacked


def cond(ctx, node, ins):
    """LLVM_RULES[Op.COND]: a branch on the predicate; each arm lowers its body into the outputs."""
    pred, operands = ins[0], ins[1:]
    outs = [ctx.out(v) for v in node.outputs]
    b = ctx.b
    with b.if_else(load_value(b, pred.ptr, pred.dtype)) as (then, otherwise):
        for arm, key in ((then, "true_body"), (otherwise, "false_body")):
            with arm:
                body = node.params[key]
                ctx.lower_body(body, list(operands), list(zip(body.outputs, outs, strict=True)))
    return outs


RULES = {Op.SCAN: scan, Op.COND: cond}

__all__ = ["RULES", "row"]
