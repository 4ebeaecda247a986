"""Contraction: merge the nodes of a graph into units while the graph of units stays acyclic. Fusion's
grouping (elementwise regions) and its sibling pass (kernels that read the same value) both merge through it.
Imports only the graphc core.

Two units may merge unless a path leads from one to the other through a third unit: the merged unit would wait
for itself. Those paths run between *units*, not nodes: a path may enter a unit at a late node and leave it
from an early one, so a check over the nodes alone misses cycles (issue 17: three kernels that fed one another
and a fusion pass that never ended). The check therefore walks the units, bounded by a topological order of
them (`rank`) that stays valid as they merge, as in Pearce & Kelly's dynamic topological order: a unit ranked
after the later of the two cannot lead back to it, and the units the earlier one reaches before the later one
move to just after the merged unit. Each check stops after CYCLE_CHECK_BUDGET steps and then refuses the
merge: fusing less is always safe, and every merge costs O(budget).

Ranks are tuples compared lexicographically: a node added in topological order gets (index,); a batch of units
moved after unit u gets u's rank + (-batch, position), after u and before every earlier batch moved after u
(which cannot read them: they were ranked after u already when the new batch was still before it).
"""

from __future__ import annotations

from graphc.graph import Node

CYCLE_CHECK_BUDGET = 256


class Contraction:
    """Units of nodes (a union-find); units sorted by `rank` are in topological order."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}  # id(node) -> id(node) towards its unit's representative
        self.rank: dict[int, tuple] = {}  # representative -> rank
        self.nodes: dict[int, list[Node]] = {}  # representative -> the unit's nodes
        # representative -> the nodes added so far outside the unit that read its values (a node added later
        # comes after every unit: a search need not see it, and a unit with many of them stays cheap)
        self.outside: dict[int, dict[int, Node]] = {}
        self.batches = 0

    def add(self, node: Node, rank: tuple) -> int:
        """A unit of one node, ranked after every unit so far. Nodes are added in topological order."""
        key = id(node)
        self.parent[key] = key
        self.rank[key] = rank
        self.nodes[key] = [node]
        self.outside[key] = {}
        for v in node.inputs:
            unit = None if v.owner is None else self.find(id(v.owner))
            if unit is not None:
                self.outside[unit][key] = node
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
        """Merge units a and b and return the representative of the result; None, and nothing changes, when
        that would make a cycle (or, unless `adjacent`, when one reads the other) or the search runs out."""
        early, late = (a, b) if self.rank[a] < self.rank[b] else (b, a)
        moved = self._reached_before(early, late, adjacent)
        if moved is None:
            return None
        self.batches += 1
        base = self.rank[late]
        moved.sort(key=self.rank.__getitem__)
        for position, unit in enumerate(moved):
            self.rank[unit] = (*base, -self.batches, position)
        return self._union(early, late)

    def _reached_before(self, early: int, late: int, adjacent: bool) -> list[int] | None:
        """The units `early` leads to that are ranked before `late` (they must follow the merged unit); None
        when one of them reads `late` (a cycle), `early` reads it and may not, or the budget runs out."""
        limit = self.rank[late]
        reached: list[int] = []
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
                if r == late and (unit != early or not adjacent):
                    return None
                if r is None or r in seen or self.rank[r] > limit:
                    continue
                seen.add(r)
                reached.append(r)
                stack.append(r)
        return reached

    def _union(self, early: int, late: int) -> int:
        """One unit of the two, ranked where `late` was; the larger one's containers are kept."""
        size = {u: len(self.nodes[u]) + len(self.outside[u]) for u in (early, late)}
        keep, gone = (early, late) if size[early] >= size[late] else (late, early)
        self.rank[keep] = self.rank[late]
        self.parent[gone] = keep
        outside = self.outside[keep]
        for node in self.nodes[gone]:
            outside.pop(id(node), None)
        for reader_id, reader in self.outside.pop(gone).items():
            if self.find(reader_id) != keep:
                outside[reader_id] = reader
        self.nodes[keep] += self.nodes.pop(gone)
        del self.rank[gone]
        return keep
