"""Grouping for elementwise fusion: which nodes become one kernel. Union-find over a topological walk, with a
cycle check. Imports only the graphc core; passes/fusion.py builds the kernels.

Each elementwise node starts a group and merges with the groups of the elementwise nodes that produce its
inputs, when
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
"""

from __future__ import annotations

import heapq

from graphc.fgraph import FunctionGraph
from graphc.graph import Node
from graphc.ops import ELEMENTWISE, Op
from graphc.types import broadcast_shapes, same_shape

TRAILING = frozenset({Op.SUM, Op.MAX})
CYCLE_CHECK_BUDGET = 256


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


class Grouping:
    """Union-find over groups of nodes, built in one topological walk."""

    def __init__(self, fgraph: FunctionGraph, max_nodes: int):
        self.max_nodes = max_nodes  # members of one group at most
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
        if not same_shape(v.type.shape, group.shape):
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
        if not same_shape(ga.shape, gb.shape):
            if ga.reductions or not self._internal(ga, {a, b}):
                return False
            if not same_shape(broadcast_shapes(ga.shape, gb.shape), gb.shape):
                return False
        if len(ga.members) + len(gb.members) > self.max_nodes:
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
