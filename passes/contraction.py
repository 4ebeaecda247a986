"""Contraction: merge the nodes of a graph into units while the graph of units stays acyclic. Fusion's
grouping (elementwise regions) and its sibling pass (kernels that read the same value) both merge through it.
Imports only the graphc core.

Two units may merge unless a path leads from one to the other through a third unit: the merged unit would wait
for itself. Those paths run between *units*, not nodes: a path may enter a unit at a late node and leave it
from an early one, so a check over the nodes alone misses cycles (issue 17: three kernels that fed one another
and a fusion pass that never ended). The check walks the units in a topological order of them (`rank`) kept
valid as they merge, in the manner of Pearce & Kelly's dynamic topological order:

- a path from the earlier unit E to the later L ends at a unit feeding L, so a search from E need only see
  the units ranked up to `hi`, the highest of E and of L's other producers; it stops after CYCLE_CHECK_BUDGET
  steps and then refuses the merge (fusing less is always safe, and every merge costs O(budget));
- the merged unit is ranked just after `hi` (where L's inputs are all made), and the units E reaches up to
  `hi` move just after it; when there are none and nothing reads E before L, it simply takes L's rank.

Ranks are tuples compared lexicographically: a node added in topological order gets (index,); a unit placed
just after rank r gets r + (-batch, position), after r and before every unit placed after r earlier (those
were ranked above r already while the new ones were not, so none of them reads a new one).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.graph import Node

CYCLE_CHECK_BUDGET = 256


@dataclass
class Plan:
    """A merge found safe by Contraction.plan; Contraction.commit carries it out."""

    early: int
    late: int
    hi: tuple  # the rank the merged unit goes just after
    moved: list[int]  # units E reaches up to hi: they go after the merged unit
    keep_rank: bool  # nothing to move and no reader of E before L: the merged unit takes L's rank


class Contraction:
    """Units of nodes (a union-find); units sorted by `rank` are in topological order."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}  # id(node) -> id(node) towards its unit's representative
        self.rank: dict[int, tuple] = {}  # representative -> rank
        self.nodes: dict[int, list[Node]] = {}  # representative -> the unit's nodes
        # representative -> the nodes outside the unit, added so far, that read its values (a node added later
        # comes after every unit: no search needs it) or that make its inputs
        self.outside: dict[int, dict[int, Node]] = {}
        self.producers: dict[int, dict[int, Node]] = {}
        self.batches = 0

    def add(self, node: Node, rank: tuple) -> int:
        """A unit of one node, ranked after every unit so far. Nodes are added in topological order."""
        key = id(node)
        self.parent[key] = key
        self.rank[key] = rank
        self.nodes[key] = [node]
        self.outside[key] = {}
        self.producers[key] = {}
        for v in node.inputs:
            unit = None if v.owner is None else self.find(id(v.owner))
            if unit is not None:
                self.outside[unit][key] = node
                self.producers[key][id(v.owner)] = v.owner
        return key

    def find(self, key: int) -> int | None:
        """The representative of the unit of node `key`; None for a node not added yet."""
        if key not in self.parent:
            return None
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, rep: int, node: Node) -> None:
        """Add `node`, whose inputs all come from unit `rep`, to it (no path can leave and return)."""
        self.parent[id(node)] = rep
        self.nodes[rep].append(node)

    def merge(self, a: int, b: int, adjacent: bool = True) -> int | None:
        """Merge units a and b; the representative of the result, or None (and nothing changes) when that
        would make a cycle (or, unless `adjacent`, when one reads the other) or the search runs out."""
        plan = self.plan(a, b, adjacent)
        return None if plan is None else self.commit(plan)

    def plan(self, a: int, b: int, adjacent: bool = True) -> Plan | None:
        early, late = (a, b) if self.rank[a] < self.rank[b] else (b, a)
        hi = self._highest_producer(early, late)
        moved: list[int] = []
        between = False  # a reader of `early` ranked between hi and late
        seen = {early, late}
        stack = [early]
        budget = CYCLE_CHECK_BUDGET
        while stack:
            unit = stack.pop()
            for reader_id in self.outside[unit]:
                budget -= 1
                if budget < 0:
                    return None
                r = self.find(reader_id)
                if r == late:
                    if unit != early or not adjacent:
                        return None  # a path back into late: a cycle (or a direct read, refused)
                    continue
                if r in seen:
                    continue
                if self.rank[r] > hi:  # no path from r can reach late
                    between |= unit == early and self.rank[r] < self.rank[late]
                    continue
                seen.add(r)
                moved.append(r)
                stack.append(r)
        return Plan(early, late, hi, moved, keep_rank=not moved and not between)

    def commit(self, plan: Plan) -> int:
        if plan.keep_rank:
            rank = self.rank[plan.late]
        else:
            self.batches += 1
            rank = (*plan.hi, -self.batches, 0)
            plan.moved.sort(key=self.rank.__getitem__)
            for position, unit in enumerate(plan.moved, start=1):
                self.rank[unit] = (*plan.hi, -self.batches, position)
        keep = self._union(plan.early, plan.late)
        self.rank[keep] = rank
        return keep

    def _highest_producer(self, early: int, late: int) -> tuple:
        """The highest rank among `early` and the units feeding `late` (L's own rank when it has too many
        producers to look at)."""
        producers = self.producers[late]
        if len(producers) > CYCLE_CHECK_BUDGET:
            return self.rank[late]
        hi = self.rank[early]
        for node_id in producers:
            rank = self.rank[self.find(node_id)]
            hi = rank if rank > hi else hi
        return hi

    def _union(self, early: int, late: int) -> int:
        """One unit of the two; the larger one's containers are kept (n log n over a whole walk)."""
        size = {u: len(self.nodes[u]) + len(self.outside[u]) + len(self.producers[u]) for u in (early, late)}
        keep, gone = (early, late) if size[early] >= size[late] else (late, early)
        self.parent[gone] = keep
        for edges in (self.outside, self.producers):
            kept = edges[keep]
            for node in self.nodes[gone]:
                kept.pop(id(node), None)
            for node_id, node in edges.pop(gone).items():
                if self.find(node_id) != keep:
                    kept[node_id] = node
        self.nodes[keep] += self.nodes.pop(gone)
        del self.rank[gone]
        return keep
