"""Elementwise fusion: maximal connected elementwise regions (and a trailing SUM/MAX) become one FUSED node
whose body is a graphc.kernel.Kernel. Imports only the graphc core; knows nothing of codegen.

Grouping is one walk in topological order with union-find. Each elementwise node starts a group and merges
with the groups of the elementwise nodes that produce its inputs, when
- shapes allow it: every value a kernel hands out has the iteration shape, so a group of a smaller shape
  (a scalar `lr * 0.1` feeding a matrix update) joins only if none of its values is needed outside;
- no cycle appears: a merge is refused if a path leaves the two groups and comes back into them. The walk
  keeps, per group, a heap of the nodes outside it that read its values and one of those that feed it; when
  every reader comes after every feeder in topological order no path can come back (the common case,
  O(log n)); otherwise a depth-first search over the nodes in between decides, within CYCLE_CHECK_BUDGET
  steps (refusing when it runs out keeps the pass linear and is always safe: fusing less never changes
  results);
- a reduced value (SUM or MAX of a group value of the full shape, same float dtype) joins as a trailing
  reduction: an output of the kernel, never an input of another instruction.
Groups of one elementwise node are left alone. A value used outside its group is an output of the kernel.

Then siblings: two kernels that read the same value over the same iteration shape, with no path from one to
the other, become one kernel, so that memory is read once (Σ W² for the weight decay and the update of W).
Each kernel joins at most one sibling; the path search is bounded like the cycle check.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter

import numpy as np

from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable, apply
from graphc.kernel import Instr, Kernel
from graphc.ops import ELEMENTWISE, TRANSCENDENTAL, Op
from graphc.origin import origin_scope
from graphc.types import DTYPES, broadcast_shapes, dims_equal

TRAILING = frozenset({Op.SUM, Op.MAX})
_NAMES = {np.dtype(d): d for d in DTYPES}  # np.dtype.name is slow (Python-level) in NumPy 2


def _name(dtype: np.dtype) -> str:
    return _NAMES.get(dtype) or dtype.name


CYCLE_CHECK_BUDGET = 256
# At most this many nodes in one kernel: LLVM's O3 time per operation grows past a few thousand (a 100,000-op
# body took 79 s, 25 bodies of 4,000 ops 8 s), and a body this long is compute-bound anyway.
MAX_KERNEL_NODES = 4096
SIBLING_CANDIDATES = 8  # siblings tried per kernel: a value read by thousands of kernels stays linear


def _same_shape(a: tuple, b: tuple) -> bool:
    return a == b or (len(a) == len(b) and all(dims_equal(x, y) for x, y in zip(a, b, strict=True)))


class _Group:
    __slots__ = ("members", "reductions", "shape", "outside", "producers", "banned")

    def __init__(self, node: Node, readers: list[Node], order: dict[int, int]):
        self.members = [node]
        self.reductions: list[Node] = []
        self.shape = node.outputs[0].type.shape
        # Both heaps may hold stale entries of nodes that joined the group since (dropped lazily).
        # (topological index, tie-breaker, node) of the nodes that read our values: a min-heap
        self.outside = [(order[id(r)], id(r), r) for r in readers]
        heapq.heapify(self.outside)
        # (-topological index, tie-breaker, node) of the nodes that make our inputs: a max-heap
        self.producers: list = []
        self.add_producers(node, order)
        self.banned: set[int] = set()  # ids of the nodes that read one of our reductions: never members

    @property
    def size(self) -> int:
        return len(self.members) + len(self.outside) + len(self.producers) + len(self.banned)

    def add_producers(self, node: Node, order: dict[int, int]) -> None:
        for v in node.inputs:
            if v.owner is not None:
                heapq.heappush(self.producers, (-order[id(v.owner)], id(v.owner), v.owner))


class _Grouping:
    """Union-find over groups of nodes, built in one topological walk."""

    def __init__(self, fgraph: FunctionGraph):
        self.nodes = fgraph.nodes
        self.order = {id(n): i for i, n in enumerate(self.nodes)}
        self.readers: dict[int, list[Node]] = {}
        for node in self.nodes:
            for v in node.inputs:
                self.readers.setdefault(id(v), []).append(node)
        self.roots = {id(v) for v in fgraph.roots}
        self.parent: dict[int, int] = {}  # id(node) -> id(node) towards its group's representative
        self.groups: dict[int, _Group] = {}  # representative id -> group

    def find(self, node_id: int) -> int | None:
        if node_id not in self.parent:
            return None
        root = node_id
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node_id] != root:  # path compression
            self.parent[node_id], node_id = root, self.parent[node_id]
        return root

    def node_readers(self, node: Node) -> list[Node]:
        return [r for out in node.outputs for r in self.readers.get(id(out), ())]

    def run(self) -> None:
        for node in self.nodes:
            if node.op in ELEMENTWISE and len(node.outputs) == 1:
                self.parent[id(node)] = id(node)
                self.groups[id(node)] = _Group(node, self.node_readers(node), self.order)
                for v in dict.fromkeys(node.inputs):
                    if v.owner is not None and id(v.owner) in self.parent and v.owner.op not in TRAILING:
                        a, b = self.find(id(v.owner)), self.find(id(node))
                        if a != b:
                            self.try_merge(a, b, self.order[id(node)])
            elif node.op in TRAILING:
                self.try_reduction(node)

    def try_reduction(self, node: Node) -> None:
        (v,) = node.inputs
        if v.owner is None or v.owner.op in TRAILING or id(v.owner) not in self.parent:
            return
        if v.type.dtype.kind != "f" or node.outputs[0].type.dtype != v.type.dtype:
            return
        g = self.find(id(v.owner))
        group = self.groups[g]
        if not _same_shape(v.type.shape, group.shape):
            return
        # The reduction reads only `v`, a value of the group, so no path can leave the group and enter it.
        self.parent[id(node)] = g
        group.reductions.append(node)
        for r in self.node_readers(node):
            heapq.heappush(group.outside, (self.order[id(r)], id(r), r))
            group.banned.add(id(r))
        group.add_producers(node, self.order)

    def try_merge(self, a: int, b: int, limit: int) -> bool:
        """Merge producer group a into consumer group b (b holds the node at topological index `limit`)."""
        ga, gb = self.groups[a], self.groups[b]
        if not _same_shape(ga.shape, gb.shape):
            if ga.reductions or not self._internal(ga, {a, b}):
                return False
            if not _same_shape(broadcast_shapes(ga.shape, gb.shape), gb.shape):
                return False
        if len(ga.members) + len(gb.members) > MAX_KERNEL_NODES:
            return False
        big, small = (a, b) if ga.size >= gb.size else (b, a)  # small-to-large: n log n in all
        gbig, gsmall = self.groups[big], self.groups[small]
        # A reduced value is never read inside its own kernel: look from the smaller group's side only.
        if any(id(m) in gbig.banned for m in gsmall.members) or any(
            self.find(x) == big for x in gsmall.banned
        ):
            return False
        if self._may_cycle(ga, gb, {a, b}, limit):
            return False
        del self.groups[small]
        self.parent[small] = big
        gbig.members += gsmall.members
        gbig.reductions += gsmall.reductions
        gbig.shape = gb.shape
        for entry in gsmall.outside:
            heapq.heappush(gbig.outside, entry)
        for entry in gsmall.producers:
            heapq.heappush(gbig.producers, entry)
        gbig.banned |= gsmall.banned
        return True

    def _internal(self, group: _Group, reps: set[int]) -> bool:
        """Every value of `group` is read only inside the two groups being merged (none is an output)."""
        if len(group.members) > CYCLE_CHECK_BUDGET:
            return False
        for m in group.members:
            if id(m.outputs[0]) in self.roots:
                return False
            if any(self.find(id(r)) not in reps for r in self.node_readers(m)):
                return False
        return True

    def _may_cycle(self, ga: _Group, gb: _Group, reps: set[int], limit: int) -> bool:
        """Whether a path leaves the two groups and comes back: from a node outside that reads a member
        (index >= lo) to a node outside that feeds a member (index <= hi). None can exist when hi < lo."""
        for group in (ga, gb):
            for heap in (group.outside, group.producers):
                while heap and self.find(heap[0][1]) in reps:
                    heapq.heappop(heap)  # joined one of the two groups: not outside any more
        lo = min((g.outside[0][0] for g in (ga, gb) if g.outside), default=limit)
        hi = max((-g.producers[0][0] for g in (ga, gb) if g.producers), default=-1)
        if lo >= limit or hi < lo:
            return False  # the common case, decided in O(log n)
        limit = min(limit, hi + 1)  # a path back ends at a producer, so it never passes hi
        starts: list[Node] = []
        budget = CYCLE_CHECK_BUDGET
        for group in (ga, gb):
            if not group.outside or group.outside[0][0] >= limit:
                continue
            for index, node_id, node in group.outside:
                budget -= 1
                if budget <= 0:
                    return True
                if index < limit and self.find(node_id) not in reps:
                    starts.append(node)
        # Depth-first search forwards from the outside readers, over nodes before `limit` only (a path into
        # the groups ends at a producer of a member, and no producer comes at or after `limit`).
        seen: set[int] = set()
        stack = starts
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            budget -= 1
            if budget <= 0:
                return True
            for r in self.node_readers(node):
                if self.find(id(r)) in reps:
                    return True
                if self.order[id(r)] < limit:
                    stack.append(r)
        return False


def _inline_constant(v: Variable) -> bool:
    """Scalar constants become kernel instructions; other constants are kernel inputs."""
    return (
        isinstance(v, Constant) and v.value.ndim == 0 and (v.value.dtype.kind != "f" or np.isfinite(v.value))
    )


class _Fused:
    """One group's kernel: which variables it reads and which old variables its outputs replace."""

    def __init__(self, members: list[Node], reductions: list[Node], grouping: _Grouping):
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
            instrs.append(Instr(m.op, args, m.param_key, _name(m.outputs[0].type.dtype)))
        outputs, reductions_out, self.replaces = [], [], []
        for m in members:
            out = m.outputs[0]
            readers = grouping.node_readers(m)
            if id(out) in grouping.roots or any(id(r) not in group_ids for r in readers):
                outputs.append(values[id(out)])
                reductions_out.append(None)
                self.replaces.append(out)
        for r in reductions:
            outputs.append(values[id(r.inputs[0])])
            reductions_out.append((r.op, r.params["axis"], r.params["keepdims"]))
            self.replaces.append(r.outputs[0])
        self.kernel = Kernel(
            tuple(_name(v.type.dtype) for v in self.inputs),
            tuple(instrs),
            tuple(outputs),
            tuple(reductions_out),
        )
        self.origin = max([*members, *reductions], key=lambda n: grouping.order[id(n)]).origin
        self.ok = _types_agree(self.kernel, self.inputs, self.replaces)  # else the group is left unfused


def _types_agree(kernel: Kernel, inputs: list[Variable], replaces: list[Variable]) -> bool:
    """The kernel's output types are the types of the values it replaces."""
    try:
        types = kernel.output_types(inputs)
    except Exception:  # noqa: BLE001 - any disagreement means: do not fuse
        return False
    return all(
        t.dtype == v.type.dtype and _same_shape(t.shape, v.type.shape)
        for t, v in zip(types, replaces, strict=True)
    )


def fuse_elementwise(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """Group elementwise regions into FUSED nodes; reports kernels made, nodes fused, trailing reductions."""
    grouping = _Grouping(fgraph)
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
            unit_of[id(node)] = rep
    fgraph = _rebuild(fgraph, fused, unit_of)
    fgraph, fired["sibling_kernels"] = _merge_siblings(fgraph)
    return fgraph, {k: v for k, v in fired.items() if v}


class _Siblings:
    """Two FUSED nodes as one kernel (the same attributes `_rebuild` reads from a `_Fused`)."""

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

            instrs += [Instr(i.op, tuple(map(value, i.args)), i.params, i.dtype) for i in kernel.instrs]
            outputs += map(value, kernel.outputs)
        reductions = a.params["kernel"].reductions + b.params["kernel"].reductions
        self.kernel = Kernel(
            tuple(_name(v.type.dtype) for v in self.inputs), tuple(instrs), tuple(outputs), reductions
        )
        self.replaces = [*a.outputs, *b.outputs]
        self.origin = b.origin


def _merge_siblings(fgraph: FunctionGraph) -> tuple[FunctionGraph, int]:
    """Pair up sibling kernels (greedily, in topological order) and rebuild with each pair as one node."""
    nodes = fgraph.nodes
    order = {id(n): i for i, n in enumerate(nodes)}
    readers: dict[int, list[Node]] = {}
    for node in nodes:
        for v in node.inputs:
            readers.setdefault(id(v), []).append(node)
    paired: dict[int, int] = {}  # id(node) -> index of its pair in `merged`
    merged: list[_Siblings] = []
    for a in nodes:
        if a.op is not Op.FUSED or id(a) in paired:
            continue
        for b in itertools.islice(_sibling_candidates(a, readers, order, paired), SIBLING_CANDIDATES):
            pair = _Siblings(a, b)
            if _merge_is_safe(a, b, pair, readers, order):
                paired[id(a)] = paired[id(b)] = len(merged)
                merged.append(pair)
                break
    if not merged:
        return fgraph, 0
    return _rebuild(fgraph, dict(enumerate(merged)), paired), len(merged)


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
            if _same_shape(_iteration_shape(b), shape):
                yield b


def _merge_is_safe(a: Node, b: Node, pair: _Siblings, readers: dict, order: dict) -> bool:
    """No path from `a` to `b` (b comes later, so none back), a body within MAX_KERNEL_NODES, no loop that
    could be split across threads joined to a reduction over its first axis (which cannot), and the merged
    kernel's types are the replaced values' types."""
    body = sum(i.op is not None for i in pair.kernel.instrs)
    if body > MAX_KERNEL_NODES:
        return False
    ka, kb = a.params["kernel"], b.params["kernel"]
    if (_reduces_first_axis(ka) and _compute_bound(kb)) or (_reduces_first_axis(kb) and _compute_bound(ka)):
        return False
    limit, budget = order[id(b)], CYCLE_CHECK_BUDGET
    stack, seen = [r for out in a.outputs for r in readers.get(id(out), ())], set()
    while stack:
        node = stack.pop()
        if node is b:
            return False
        if id(node) in seen or order[id(node)] > limit:
            continue
        budget -= 1
        if budget <= 0:
            return False  # undecided: not merging is always safe
        seen.add(id(node))
        stack.extend(r for out in node.outputs for r in readers.get(id(out), ()))
    return _types_agree(pair.kernel, pair.inputs, pair.replaces)


def _reduces_first_axis(kernel: Kernel) -> bool:
    return any(red is not None and 0 in red[1] for red in kernel.reductions)


def _compute_bound(kernel: Kernel) -> bool:
    return any(i.op in TRANSCENDENTAL or i.op is Op.SCALAR_FN for i in kernel.instrs)


def _iteration_shape(node: Node) -> tuple:
    return broadcast_shapes(*(v.type.shape for v in node.inputs))


def _rebuild(fgraph: FunctionGraph, fused: dict[int, _Fused], unit_of: dict[int, int]) -> FunctionGraph:
    """The graph with each group replaced by its FUSED node: an iterative DFS over units (node or group)."""
    mapping: dict[int, Variable] = {}
    done: set = set()

    def unit(node: Node):
        rep = unit_of.get(id(node))
        return ("group", rep) if rep is not None else ("node", node)

    def key(u) -> tuple:
        return (u[0], u[1] if u[0] == "group" else id(u[1]))

    def deps(u) -> list[Variable]:
        return fused[u[1]].inputs if u[0] == "group" else list(u[1].inputs)

    def build(u) -> None:
        if u[0] == "group":
            f = fused[u[1]]
            inputs = [mapping.get(id(v), v) for v in f.inputs]
            built = apply(Op.FUSED, inputs, origin=f.origin, kernel=f.kernel)
            built = built if isinstance(built, tuple) else (built,)
            for old, new in zip(f.replaces, built, strict=True):
                mapping[id(old)] = new
            return
        node = u[1]
        inputs = [mapping.get(id(v), v) for v in node.inputs]
        if all(a is b for a, b in zip(inputs, node.inputs, strict=True)):
            return
        with origin_scope(node.origin):
            built = apply(node.op, inputs, origin=node.origin, **node.params)
        built = built if isinstance(built, tuple) else (built,)
        for old, new in zip(node.outputs, built, strict=True):
            mapping[id(old)] = new

    for root in fgraph.roots:
        if root.owner is None or key(unit(root.owner)) in done:
            continue
        stack = [(unit(root.owner), iter(deps(unit(root.owner))))]
        while stack:
            u, pending = stack[-1]
            for v in pending:
                if v.owner is not None and key(unit(v.owner)) not in done:
                    child = unit(v.owner)
                    stack.append((child, iter(deps(child))))
                    break
            else:
                stack.pop()
                if key(u) not in done:
                    done.add(key(u))
                    build(u)
    return fgraph.with_roots([mapping.get(id(v), v) for v in fgraph.roots])
