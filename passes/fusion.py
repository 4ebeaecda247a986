"""Elementwise fusion: each group that passes/grouping.py finds (a maximal elementwise region, and a trailing
SUM/MAX) becomes one FUSED node whose body is a graphc.kernel.Kernel. Imports only the graphc core; knows
nothing of codegen.
(Over 300 lines: kernel building from groups, with the rebuild over units it needs.)

Groups of one elementwise node are left alone. A value used outside its group is an output of the kernel.
The graph is rebuilt once, by `FunctionGraph.rebuild` over units: a group (its kernel) or a node outside every
group, in an order where each unit comes after those that make its inputs.

Then siblings: two kernels that read the same value over the same iteration shape, with no path from one to
the other, become one kernel, so that memory is read once (Σ W² for the weight decay and the update of W).
Each kernel joins at most one sibling; the path search is bounded like the cycle check.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import replace

import numpy as np

from graphc.errors import GraphError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable, apply
from graphc.kernel import Instr, Kernel
from graphc.ops import TRANSCENDENTAL, Op
from graphc.types import DTYPES, broadcast_shapes, same_shape

from .contraction import Contraction
from .grouping import Grouping

_NAMES = {np.dtype(d): d for d in DTYPES}  # np.dtype.name is slow (Python-level) in NumPy 2


def _name(dtype: np.dtype) -> str:
    return _NAMES.get(dtype) or dtype.name


# At most this many nodes in one kernel: LLVM's O3 time per operation grows past a few thousand (a 100,000-op
# body took 79 s, 25 bodies of 4,000 ops 8 s), and a body this long is compute-bound anyway.
MAX_KERNEL_NODES = 4096
SIBLING_CANDIDATES = 8  # siblings tried per kernel: a value read by thousands of kernels stays linear


def _inline_constant(v: Variable) -> bool:
    """Scalar constants become kernel instructions; other constants are kernel inputs."""
    return (
        isinstance(v, Constant) and v.value.ndim == 0 and (v.value.dtype.kind != "f" or np.isfinite(v.value))
    )


class _Fused:
    """One group as a unit of the rebuild: its kernel, the variables it reads (`inputs`) and the old variables
    its FUSED node's outputs replace (`outputs`)."""

    def __init__(self, members: list[Node], reductions: list[Node], grouping: Grouping):
        inside = {id(m.outputs[0]) for m in members}
        group_ids = {id(m) for m in members} | {id(r) for r in reductions}
        self.inputs: list[Variable] = []
        seen: set[int] = set()
        for m in members:
            for v in m.inputs:
                if id(v) not in inside and id(v) not in seen and not _inline_constant(v):
                    seen.add(id(v))
                    self.inputs.append(v)
        values = {id(v): i for i, v in enumerate(self.inputs)}
        instrs: list[Instr] = []
        constants: dict[tuple, int] = {}

        def constant(c: Constant) -> int:
            key = (c.value.dtype.str, c.value.tobytes())
            if key not in constants:
                constants[key] = len(self.inputs) + len(instrs)
                instrs.append(Instr(None, (), (("value", c.value.item()),), _name(c.value.dtype)))
            return constants[key]

        for m in members:
            args = tuple(values[id(v)] if id(v) in values else constant(v) for v in m.inputs)
            values[id(m.outputs[0])] = len(self.inputs) + len(instrs)
            instrs.append(Instr(m.op, args, m.param_key, _name(m.outputs[0].type.dtype), m))
        results, reductions_out, self.outputs = [], [], []
        for m in members:
            out = m.outputs[0]
            readers = grouping.node_readers(m)
            if id(out) in grouping.roots or any(id(r) not in group_ids for r in readers):
                results.append(values[id(out)])
                reductions_out.append(None)
                self.outputs.append(out)
        for r in reductions:
            results.append(values[id(r.inputs[0])])
            reductions_out.append((r.op, r.params["axis"], r.params["keepdims"]))
            self.outputs.append(r.outputs[0])
        self.kernel = Kernel(
            tuple(_name(v.type.dtype) for v in self.inputs),
            tuple(instrs),
            tuple(results),
            tuple(reductions_out),
        )
        self.origin = max([*members, *reductions], key=lambda n: grouping.order[id(n)]).origin
        self.ok = _types_agree(self.kernel, self.inputs, self.outputs)  # else the group is left unfused


def _types_agree(kernel: Kernel, inputs: list[Variable], replaces: list[Variable]) -> bool:
    """The kernel's output types are the types of the values it replaces."""
    try:
        types = kernel.output_types(inputs)
    except Exception:  # noqa: BLE001 - any disagreement means: do not fuse
        return False
    return all(
        t.dtype == v.type.dtype and same_shape(t.shape, v.type.shape)
        for t, v in zip(types, replaces, strict=True)
    )


def fuse_elementwise(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """Group elementwise regions into FUSED nodes; reports kernels made, nodes fused, trailing reductions."""
    grouping = Grouping(fgraph, MAX_KERNEL_NODES)
    grouping.run()
    fused: dict[int, _Fused] = {}
    for rep, group in grouping.groups.items():
        if len(group.members) + len(group.reductions) < 2:
            continue
        members = sorted(group.members, key=lambda n: grouping.order[id(n)])
        candidate = _Fused(members, group.reductions, grouping)
        if candidate.ok:
            fused[rep] = candidate
    fired: Counter[str] = Counter()
    for f in fused.values():
        fired["fused_kernel"] += 1
        fired["fused_node"] += len(f.kernel.instrs) - sum(1 for i in f.kernel.instrs if i.op is None)
        fired["trailing_reduction"] += sum(1 for r in f.kernel.reductions if r is not None)
    if not fused:
        return fgraph, {}
    unit_of = {}
    for node in grouping.nodes:
        rep = grouping.find(id(node))
        if rep in fused:
            unit_of[id(node)] = fused[rep]
    fgraph = _rebuild(fgraph, unit_of)
    fgraph, fired["sibling_kernels"] = _merge_siblings(fgraph)
    return fgraph, {k: v for k, v in fired.items() if v}


class _Siblings:
    """Two FUSED nodes as one kernel: a unit of the rebuild, like a `_Fused`."""

    def __init__(self, a: Node, b: Node):
        self.inputs: list[Variable] = list(a.inputs)
        index = {id(v): i for i, v in enumerate(self.inputs)}
        for v in b.inputs:
            if id(v) not in index:
                index[id(v)] = len(self.inputs)
                self.inputs.append(v)
        instrs: list[Instr] = []
        outputs: list[int] = []
        for node in (a, b):
            kernel: Kernel = node.params["kernel"]
            first = len(self.inputs) + len(instrs)  # where this kernel's instructions start, merged

            def value(i: int, kernel=kernel, node=node, first=first) -> int:
                return index[id(node.inputs[i])] if i < kernel.n_inputs else first + i - kernel.n_inputs

            instrs += [replace(i, args=tuple(map(value, i.args))) for i in kernel.instrs]
            outputs += map(value, kernel.outputs)
        reductions = a.params["kernel"].reductions + b.params["kernel"].reductions
        self.kernel = Kernel(
            tuple(_name(v.type.dtype) for v in self.inputs), tuple(instrs), tuple(outputs), reductions
        )
        self.outputs = [*a.outputs, *b.outputs]
        self.origin = b.origin


def _merge_siblings(fgraph: FunctionGraph) -> tuple[FunctionGraph, int]:
    """Pair up sibling kernels (greedily, in topological order) and rebuild with each pair as one node. The
    pairs are merged through one Contraction, so that no two pairs together make a cycle either."""
    nodes = fgraph.nodes
    order = {id(n): i for i, n in enumerate(nodes)}
    readers: dict[int, list[Node]] = {}
    for node in nodes:
        for v in node.inputs:
            readers.setdefault(id(v), []).append(node)
    units = Contraction()
    for index, node in enumerate(nodes):
        units.add(node, (index,))
    paired: dict[int, _Siblings] = {}  # id(node) -> the pair it joined
    for a in nodes:
        if a.op is not Op.FUSED or id(a) in paired:
            continue
        for b in itertools.islice(_sibling_candidates(a, readers, order, paired), SIBLING_CANDIDATES):
            if not _may_merge(a, b):
                continue
            plan = units.plan(id(a), id(b), adjacent=False)  # no path between them, with the pairs so far
            if plan is None:
                continue
            pair = _Siblings(a, b)
            if _types_agree(pair.kernel, pair.inputs, pair.outputs):
                units.commit(plan)
                paired[id(a)] = paired[id(b)] = pair
                break
    if not paired:
        return fgraph, 0
    return _rebuild(fgraph, paired), len(paired) // 2


def _sibling_candidates(a: Node, readers: dict, order: dict, paired: dict):
    """Later FUSED nodes, not yet paired, that read one of `a`'s inputs over the same iteration shape: among
    the next SIBLING_CANDIDATES readers of each input (reader lists are in topological order)."""
    shape = _iteration_shape(a)
    seen = {id(a)}
    for v in a.inputs:
        after = readers.get(id(v), ())
        start = bisect.bisect_right(after, order[id(a)], key=lambda n: order[id(n)])
        for b in after[start : start + SIBLING_CANDIDATES]:
            if id(b) in seen or b.op is not Op.FUSED or id(b) in paired:
                continue
            seen.add(id(b))
            if same_shape(_iteration_shape(b), shape):
                yield b


def _may_merge(a: Node, b: Node) -> bool:
    """A body within MAX_KERNEL_NODES and no loop that could be split across threads joined to a reduction
    over its first axis (which cannot). Paths between the two are the Contraction's to check, and the merged
    kernel's types the caller's: both cost more."""
    ka, kb = a.params["kernel"], b.params["kernel"]
    body = sum(i.op is not None for i in ka.instrs) + sum(i.op is not None for i in kb.instrs)
    if body > MAX_KERNEL_NODES:
        return False
    return not (
        (_reduces_first_axis(ka) and _compute_bound(kb)) or (_reduces_first_axis(kb) and _compute_bound(ka))
    )


def _reduces_first_axis(kernel: Kernel) -> bool:
    return any(red is not None and 0 in red[1] for red in kernel.reductions)


def _compute_bound(kernel: Kernel) -> bool:
    return any(i.op in TRANSCENDENTAL or i.op is Op.SCALAR_FN for i in kernel.instrs)


def _iteration_shape(node: Node) -> tuple:
    return broadcast_shapes(*(v.type.shape for v in node.inputs))


def _rebuild(fgraph: FunctionGraph, unit_of: dict[int, _Fused | _Siblings]) -> FunctionGraph:
    """The graph with each unit in `unit_of` (id(node) -> the unit it belongs to) as one FUSED node."""

    def fuse(unit, inputs: list[Variable]):
        if isinstance(unit, Node):
            return None  # rebuilt where an input changed
        return apply(Op.FUSED, inputs, origin=unit.origin, kernel=unit.kernel)

    return fgraph.rebuild(fuse, order=_units_in_order(fgraph, unit_of))


def _units_in_order(fgraph: FunctionGraph, unit_of: dict[int, _Fused | _Siblings]) -> list:
    """The units the roots need (a group, or a node in none), each after the units that make its inputs: an
    iterative depth-first search from the roots. Grouping and the sibling pass never make a cycle of units;
    if one ever did, this is a GraphError naming it (a walk that kept following it would never end)."""

    def unit(v: Variable):
        return unit_of.get(id(v.owner), v.owner)

    order: list = []
    done: set[int] = set()
    for root in fgraph.roots:
        if root.owner is None or id(unit(root)) in done:
            continue
        stack = [(unit(root), iter(unit(root).inputs))]
        on_path = {id(stack[0][0])}
        while stack:
            u, pending = stack[-1]
            for v in pending:
                if v.owner is None or id(unit(v)) in done:
                    continue
                if id(unit(v)) in on_path:
                    raise GraphError(_cycle_message([s[0] for s in stack], unit(v)))
                stack.append((unit(v), iter(unit(v).inputs)))
                on_path.add(id(unit(v)))
                break
            else:
                stack.pop()
                on_path.discard(id(u))
                done.add(id(u))
                order.append(u)
    return order


def _cycle_message(path: list, back_to) -> str:
    """The units of a cycle, each with the nodes it stands for."""

    def describe(u) -> str:
        if isinstance(u, Node):
            return repr(u)
        return "{" + ", ".join(repr(v.owner) for v in u.outputs) + "}"

    cycle = path[[id(u) for u in path].index(id(back_to)) :]
    steps = " <- ".join(describe(u) for u in cycle)
    return (
        f"fusion made a cycle of kernels (a bug in graphc: please report it): {steps} <- {describe(back_to)}"
    )
