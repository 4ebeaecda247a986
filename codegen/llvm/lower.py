"""The llvm backend's table LLVM_RULES and the walk that runs it: one loop, one lookup per node. Knows the
graph walk and the table's modules; the rules know the ops.

Every row is ``rule(ctx, node, input_views) -> output views`` (``ctx``: a `LowerCtx`). Elementwise rows are
generated from the scalar rules (`elementwise.Elementwise`), and fused kernels read each instruction's
scalar IR from those same rows, so the completeness test checks the table that runs. A missing row is a
NotImplementedError at compile time naming the op.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from graphc.codegen.memory import MemoryPlan
from graphc.ops import Op

from . import control, creation, elementwise, index, matmul, reduce, rng, scans, shapes, softmax
from .arena import plan_memory
from .context import LowerCtx
from .entry import Entry, python_entry
from .numerics import NumericsGuard

# The main function is mostly a straight line of calls (kernels, BLAS): optimising it gains nothing, cost
# 73 ms against 7 ms at -O0 for a 10-layer MLP, and LLVM's -O3 register coalescer is quadratic on a big one
# (8,000 calls: 4.5 s against 0.4 s). Only a main module with loops of its own (one_hot, argmax, random
# numbers, numerics checks, and the helper functions of gathers, scatter-adds, scans and sorts) is optimised,
# and only while small.
OPTIMISE_MAIN_BELOW = 2000  # instructions in the main module


class RuleTable(dict):
    """A dict of rules whose missing rows say which op the backend cannot lower."""

    def __missing__(self, op: Op):
        raise NotImplementedError(f"the llvm backend has no lowering for op {op.name}")


LLVM_RULES = RuleTable(
    {
        **elementwise.RULES,  # generated: one row per scalar rule; and FUSED
        **reduce.RULES,
        **softmax.RULES,
        **matmul.RULES,
        **shapes.RULES,
        **index.RULES,
        **scans.RULES,
        **rng.RULES,
        **creation.RULES,
        **control.RULES,  # SCAN and COND: their bodies lowered in place, in a native loop or branch
    }
)
"""LLVM_RULES[op](ctx, node, input_views) -> output views, for every op."""


@dataclass
class Lowered:
    """The module(s) of one graph and what its Python caller needs."""

    module: object  # the main module: entry, main function, helpers; kernels are declared (see ``units``)
    build: object  # units.ProgramBuild: the kernels' units, loaded or compiling
    optimise_main: bool  # small graphs only: a big graph's main is a long line of calls, nothing to optimise
    entry: Entry
    specs: list  # failure k -> its spec (``failure``)
    big_constants: list
    symbols: list
    derived: list
    plan: MemoryPlan


def lower(fgraph, rules=LLVM_RULES, check_numerics: bool = False) -> Lowered:
    """Lower the whole graph into one main function (autodidax's ``jaxpr_subcomp``), then its entry. With
    `check_numerics`, each node's float outputs are checked for new NaN and infinities (`NumericsGuard`)."""
    plan = plan_memory(fgraph)
    ctx = LowerCtx(fgraph, plan, rules, keyed=rules is LLVM_RULES)
    guard = NumericsGuard(ctx) if check_numerics else None
    ctx.lower_nodes(fgraph.nodes, after=guard.after if guard is not None else None)
    ctx.finish()
    sizes = ctx.sizes
    entry = python_entry(ctx.module, ctx.main, ctx.n_pointers, fgraph.inputs, sizes.symbols, sizes.derived)
    return Lowered(
        ctx.module,
        ctx.build,
        any(_has_loops(fn) for fn in ctx.module.functions if fn.blocks)
        and _size(ctx.module) < OPTIMISE_MAIN_BELOW,
        entry,
        ctx.failures.specs,
        ctx.big_constants,
        sizes.symbols,
        sizes.derived,
        plan,
    )


def _size(module) -> int:
    return sum(len(block.instructions) for fn in module.functions for block in fn.blocks)


def _has_loops(fn) -> bool:
    """Whether ``fn``'s control flow has a cycle (a depth-first walk meets a block still on its path)."""
    successors = {
        id(block): [t for t in getattr(block.terminator, "operands", ()) if isinstance(t, ir.Block)]
        for block in fn.blocks
    }
    on_path, done = set(), set()
    stack = [(fn.blocks[0], iter(successors[id(fn.blocks[0])]))]
    on_path.add(id(fn.blocks[0]))
    while stack:
        block, rest = stack[-1]
        nxt = next(rest, None)
        if nxt is None:
            stack.pop()
            on_path.discard(id(block))
            done.add(id(block))
        elif id(nxt) in on_path:
            return True
        elif id(nxt) not in done:
            on_path.add(id(nxt))
            stack.append((nxt, iter(successors[id(nxt)])))
    return False


__all__ = ["LLVM_RULES", "Lowered", "lower", "plan_memory"]
