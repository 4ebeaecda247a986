"""The llvm backend's table LLVM_RULES and the walk that runs it: one loop, one lookup per node. Knows the
graph walk and the table's modules; the rules know the ops.

Every row is ``rule(ctx, node, input_views) -> output views`` (``ctx``: a `LowerCtx`). Elementwise rows are
generated from the scalar rules (`elementwise.Elementwise`), and fused kernels read each instruction's
scalar IR from those same rows, so the completeness test checks the table that runs. A missing row is a
NotImplementedError at compile time naming the op.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.codegen.memory import MemoryPlan, plan_graph
from graphc.ops import Op

from . import creation, elementwise, index, matmul, reduce, rng, scans, shapes, softmax
from .arena import byte_size
from .context import LowerCtx
from .entry import SEPARATE_ENTRY_NODES, Entry, python_entry, split_off
from .numerics import NumericsGuard


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
    }
)
"""LLVM_RULES[op](ctx, node, input_views) -> output views, for every op."""


def plan_memory(fgraph) -> MemoryPlan:
    """Slots by byte size; views have none of their own and keep what they view alive."""

    def key_of(var):
        return None if shapes.VIEWS.get(var.owner.op) == "always" else byte_size(var)

    return plan_graph(fgraph, key_of, lambda node: (0,) if node.op in shapes.VIEWS else ())


@dataclass
class Lowered:
    """The module(s) of one graph and what its Python caller needs."""

    module: object  # the kernels (and the main function unless split off)
    entry_module: object | None  # a big graph's main and entry, compiled without optimisation
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
    ctx = LowerCtx(fgraph, plan, rules)
    guard = NumericsGuard(ctx) if check_numerics else None
    for node in fgraph.nodes:
        ctx.node = node
        outs = rules[node.op](ctx, node, [ctx.env[id(v)] for v in node.inputs])
        ctx.bind(node.outputs, outs)
        if guard is not None:
            guard.after(node, outs)
    ctx.finish()
    sizes = ctx.sizes
    entry = python_entry(ctx.module, ctx.main, ctx.n_pointers, fgraph.inputs, sizes.symbols, sizes.derived)
    entry_module = None
    if len(fgraph.nodes) >= SEPARATE_ENTRY_NODES:
        # A big graph's entry is a long straight line of calls (kernels, BLAS): optimising it gains nothing
        # and dominated compile time, so it goes into a module of its own compiled without optimisation.
        moved = [ctx.main, ctx.module.globals["graphc_entry"], ctx.module.globals["graphc_nthreads"]]
        entry_module = split_off(ctx.module, moved)
    return Lowered(
        ctx.module,
        entry_module,
        entry,
        ctx.failures.specs,
        ctx.big_constants,
        sizes.symbols,
        sizes.derived,
        plan,
    )


__all__ = ["LLVM_RULES", "Lowered", "lower", "plan_memory"]
