"""LowerCtx: what a lowering rule may touch while it lowers one node, and the graph's main function it builds.
Knows views, sizes, the arena and checks; the rules know the ops.

A rule is ``rule(ctx, node, input_views) -> output views`` and uses only:

- ``ctx.out(var)``: where to write output ``var`` (the caller's array if it is an output, else its arena slot)
- ``ctx.temp(dtype, shape)``: scratch memory for this node only
- ``ctx.loop(instrs, inputs, outputs, shape, checks=())``, ``ctx.copy(src, dest)``, ``ctx.fill(dest,
  value)``: kernels
- ``ctx.dim(d)``, ``ctx.product(dims)``: run-time sizes (i64 values computed once in the entry block)
- ``ctx.check(condition, exc, message)``: refuse the call before any work (``condition(builder)`` -> i1)
- ``ctx.fail_if(bad, check, value, position, bound=None)``: stop during the work where the i1 ``bad`` holds,
  reporting ``check`` (a ``graphc.codegen.checks`` spec; ``bound`` defaults to ``check.bound``) with the
  ``value`` and flat ``position``; the entry frees its arena and Python raises ``check.error(...)``. This is
  for code the rule emits into the body (``ctx.b``); inside a loop kernel a scalar rule calls ``s.fail_if``
  and the rule passes the specs to ``ctx.loop(..., checks=...)`` (see ``kernel_failure``)
- ``ctx.b`` (the body builder), ``ctx.entry`` (the entry-block builder: sizes, strides, allocas),
  ``ctx.entry_alloca(type)``, ``ctx.module`` (for helper functions such as BLAS wrappers)
- for ops with a body (``control``): ``ctx.lower_body(body, inputs, targets)`` lowers a sub-graph right where
  ``ctx.b`` is (inside a loop or a branch), ``ctx.fixed(dtype, shape)`` is memory kept for the whole call
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.errors import where_built
from graphc.graph import Constant
from graphc.ops import BODY_PARAMS

from . import segments, views
from .arena import Arena, plan_memory
from .failure import Failures, Refusal, libc
from .loopcall import LoopCalls
from .scalar import I8, I64, constant, memory_type
from .sizes import Sizes, graph_symbols
from .units import ProgramBuild
from .views import View, const

I8P = I8.as_pointer()


class LowerCtx:
    """Builds ``i64 graphc.main(i8** ptrs, i64* dims)``: entry block (sizes, offsets), checks, alloc, body."""

    def __init__(self, fgraph, plan, rules, keyed: bool = True):
        self.module = ir.Module(name="graphc")
        signature = ir.FunctionType(I64, [I8P.as_pointer(), I64.as_pointer()])
        fn = ir.Function(self.module, signature, "graphc.main")
        fn.linkage = "internal"
        self.main = fn
        self.ptrs_arg, dims_arg = fn.args
        entry, checks, body = (fn.append_basic_block(name) for name in ("entry", "checks", "body"))
        self.entry, self.b = ir.IRBuilder(entry), ir.IRBuilder(body)
        self._first_check, self._body_block = checks, body
        self.node = None  # the node being lowered: checks name its user line
        self.rules = rules
        self.destinations: dict[int, View] = {}  # id(body output) -> where it goes (a carry buffer, ys[t])
        self.written: set[int] = set()  # the destinations a rule asked for with ctx.out (so wrote into)
        self.sizes = Sizes(self.entry, dims_arg, graph_symbols(fgraph), self._refuse)
        self.arena = Arena(self.entry, self.b, self.sizes, plan, self._refuse)
        self.failures = Failures(fn, self.entry, checks, self.arena.base_slot)
        self.build = ProgramBuild(rules, keyed)  # kernels start compiling as they are emitted
        self.loops = LoopCalls(self.module, self.entry, self.b, self.sizes, self.build, self.failures)
        self._layout(fgraph)

    # --- the rule API
    def out(self, var) -> View:
        dest = self.destinations.get(id(var))
        if dest is not None:
            self.written.add(id(var))
            return dest
        k = self.root_of.get(id(var))
        if k is not None and k not in self.root_written:
            self.root_written.add(k)
            return self._external(self.root_base + k, var)
        return self.arena.slot_view(var)

    def temp(self, dtype, shape) -> View:
        if self.node is None:
            return self.arena.scratch(dtype, shape)
        return self.arena.scratch(
            dtype, shape, f"a temporary of {self.node.op.value}", where_built(self.node.origin)
        )

    def loop(self, instrs, inputs, outputs, shape, checks=()) -> None:
        parts = segments.split(instrs, len(inputs), [vid for vid, _, _ in outputs])
        if parts is None:
            self.loops.loop(instrs, inputs, outputs, shape, checks)
        else:
            self._segmented(parts, instrs, inputs, outputs, shape, checks)

    def copy(self, src: View, dest: View) -> None:
        self.loops.copy(src, dest)

    def fill(self, dest: View, value) -> None:
        self.loops.fill(dest, value)

    def dim(self, d) -> ir.Value:
        return self.sizes.dim(d)

    def product(self, dims) -> ir.Value:
        return self.sizes.product(dims)

    def check(self, condition, exc: type, message: str) -> None:
        origin = self.node.origin if self.node is not None else None
        self.failures.refuse_unless(condition, Refusal(exc, message + where_built(origin)))

    def fail_if(self, bad: ir.Value, check, value: ir.Value, position: ir.Value, bound=None) -> None:
        bound = const(check.bound) if bound is None else bound
        self.failures.fail_if(self.b, bad, check, value, bound, position)

    def fixed(self, dtype, shape) -> View:
        return self.arena.fixed(dtype, shape)

    def lower_body(self, body, inputs: list[View], targets: list[tuple[object, View]]) -> None:
        """Lower ``body`` where ``ctx.b`` is, its inputs bound to ``inputs``; each (output, view) of
        ``targets`` ends up in that view: computed straight into it where a rule writes the output, copied
        there otherwise (an input passed through, a view of another value, an output given twice)."""
        for var, view in zip(body.inputs, inputs, strict=True):
            self.env[id(var)] = view
        direct = {}
        for var, view in targets:
            if var.owner is not None and id(var) not in direct and id(var) not in self.destinations:
                direct[id(var)] = view
        self.arena.add_plan(plan_memory(body, direct))
        self.destinations.update(direct)
        outer = self.node
        self.lower_nodes(body.nodes)
        self.node = outer
        for var, view in targets:
            if direct.get(id(var)) is not view or id(var) not in self.written:
                self.copy(self.env[id(var)], view)
        for key in direct:
            del self.destinations[key]
            self.written.discard(key)

    def lower_nodes(self, nodes, after=None) -> None:
        """One LLVM_RULES row per node, in order (the walk of the graph and of every body); `after(node,
        outputs)` runs after each (check_numerics' guard, on the outer graph's nodes)."""
        for node in nodes:
            self.node = node
            outs = self.rules[node.op](self, node, [self.env[id(v)] for v in node.inputs])
            self.bind(node.outputs, outs)
            if after is not None:
                after(node, outs)

    def entry_alloca(self, ty: ir.Type) -> ir.Value:
        with self.entry.goto_entry_block():
            return self.entry.alloca(ty)

    # --- the walk's side: where values live before it, each node's results, and what happens after it
    def bind(self, outputs, results: list[View]) -> None:
        """The views a rule returned for ``outputs``; the node's scratch memory is free again."""
        for var, view in zip(outputs, results, strict=True):
            self.env[id(var)] = view
        self.arena.end_node()

    def _segmented(self, parts, instrs, inputs, outputs, shape, checks) -> None:
        """A body too big for one kernel, as one kernel per segment; values between segments go through
        temporaries of the loop's shape, reused once their last reader has run."""
        values = dict(enumerate(inputs))
        dests: dict[int, list] = {}
        for vid, view, red in outputs:
            dests.setdefault(vid, []).append((view, red))
        last_read = {g: p for p, part in enumerate(parts) for g in part.inputs}
        free: dict[np.dtype, list[View]] = {}
        for p, part in enumerate(parts):
            outs = []
            for g in part.stores:
                outs += [(part.local[g], view, red) for view, red in dests.get(g, ())]
                if last_read.get(g, -1) > p:
                    dtype = np.dtype(instrs[g - len(inputs)].dtype)
                    pool = free.setdefault(dtype, [])
                    values[g] = pool.pop() if pool else self.temp(dtype, shape)
                    outs.append((part.local[g], values[g], None))
            part_checks = [checks[k] for k in part.origins] if any(checks) else ()
            self.loops.loop(part.instrs, [values[g] for g in part.inputs], outs, shape, part_checks)
            for g in part.inputs:
                if last_read[g] == p and g >= len(inputs):
                    free.setdefault(values[g].dtype, []).append(values[g])

    def _refuse(self, condition, exc, message) -> None:
        self.failures.refuse_unless(condition, Refusal(exc, message))

    def _layout(self, fg) -> None:
        """Pointer slots: inputs, shared values, big constants, then the outputs Python allocated."""
        constants = _all_constants(fg)
        self.big_constants = [c for c in constants if c.value.ndim > 0]
        self.external = list(fg.inputs) + list(fg.shared) + self.big_constants
        self.env: dict[int, View] = {id(v): self._external(k, v) for k, v in enumerate(self.external)}
        for c in constants:
            if c.value.ndim == 0:
                self.env[id(c)] = self._scalar_constant(c)
        self.roots = fg.roots
        self.root_base = len(self.external)
        self.n_pointers = self.root_base + len(self.roots)
        self.root_of: dict[int, int] = {}
        for k, var in enumerate(self.roots):
            self.root_of.setdefault(id(var), k)
        self.root_written: set[int] = set()

    def _external(self, k: int, var) -> View:
        raw = self.entry.load(self.entry.gep(self.ptrs_arg, [const(k)]))
        ptr = self.entry.bitcast(raw, memory_type(var.type.dtype).as_pointer())
        dims = [self.sizes.dim(d) for d in var.type.shape]
        return views.contiguous(self.entry, ptr, var.type.dtype, var.type.shape, dims)

    def _scalar_constant(self, c: Constant) -> View:
        g = ir.GlobalVariable(
            self.module, memory_type(c.value.dtype), name=f"graphc.const.{len(self.module.globals)}"
        )
        g.linkage, g.global_constant = "internal", True
        value = c.value[()]
        g.initializer = (
            constant(c.value.dtype, value) if c.value.dtype.kind != "b" else ir.Constant(I8, int(bool(value)))
        )
        return views.contiguous(self.entry, g, c.value.dtype, (), ())

    def finish(self) -> None:
        """Copy outputs no rule wrote in place; then the alloc block, and free + return at the end."""
        self.node = None
        for k, var in enumerate(self.roots):
            if k not in self.root_written or self.root_of[id(var)] != k:
                self.copy(self.env[id(var)], self._external(self.root_base + k, var))
        self.arena.end_node()
        malloc, free = libc(self.module, "malloc"), libc(self.module, "free")
        self.entry.position_at_end(self.entry.block)  # BLAS helpers append allocas here behind our back
        total = self.arena.total()
        self.entry.branch(self._first_check)
        alloc = self.main.append_basic_block("alloc")
        self.failures.check_builder.branch(alloc)
        ab = ir.IRBuilder(alloc)
        arena = self.arena.allocate(ab, malloc, total)
        out_of_memory = self.main.append_basic_block("oom")
        ab.cbranch(ab.icmp_unsigned("==", arena, ir.Constant(I8P, None)), out_of_memory, self._body_block)
        ir.IRBuilder(out_of_memory).ret(ir.Constant(I64, 1))
        self.b.call(free, [self.b.load(self.arena.base_slot)])
        self.b.ret(ir.Constant(I64, 0))


def _all_constants(fg) -> list[Constant]:
    """The constants of a graph and of the bodies inside it (each once): every one needs a place in memory."""
    found: dict[int, Constant] = {}
    stack = [fg]
    while stack:
        graph = stack.pop()
        for c in graph.constants:
            found.setdefault(id(c), c)
        for node in graph.nodes:
            stack.extend(node.params[key] for key in BODY_PARAMS.get(node.op, ()))
    return list(found.values())


__all__ = ["LowerCtx"]
