"""Grouping for elementwise fusion: which nodes become one kernel. One topological walk over the nodes, each
added to a passes/contraction.py Contraction (its own unit, or merged into a group). Imports only the graphc
core; passes/fusion.py builds the kernels.

Each elementwise node starts a group and merges with the groups of the elementwise nodes that produce its
inputs, when
- shapes allow it: every value a kernel hands out has the iteration shape, so a group of a smaller shape
  (a scalar `lr * 0.1` feeding a matrix update) joins only if none of its values is needed outside;
- no cycle appears among the groups and the other nodes: the Contraction refuses a merge when a path leads
  from one group to the other through a third unit (within a bounded search: refusing when it runs out keeps
  the pass linear and is always safe, since fusing less never changes results);
- a reduced value (SUM or MAX of a group value of the full shape, same float dtype) joins as a trailing
  reduction: an output of the kernel, never an input of another instruction.
"""

from __future__ import annotations

from graphc.fgraph import FunctionGraph
from graphc.graph import Node
from graphc.ops import ELEMENTWISE, Op
from graphc.types import broadcast_shapes, same_shape

from .contraction import CYCLE_CHECK_BUDGET, Contraction

TRAILING = frozenset({Op.SUM, Op.MAX})


class _Group:
    __slots__ = ("members", "reductions", "shape", "banned")

    def __init__(self, node: Node):
        self.members = [node]
        self.reductions: list[Node] = []
        self.shape = node.outputs[0].type.shape
        self.banned: set[int] = set()  # ids of the nodes that read one of our reductions: never members

    def absorb(self, other: _Group) -> None:
        """Take the other group's nodes (the larger containers are kept: n log n over a whole walk)."""
        if len(self.members) < len(other.members):
            self.members, other.members = other.members, self.members
        self.members += other.members
        self.reductions += other.reductions
        if len(self.banned) < len(other.banned):
            self.banned, other.banned = other.banned, self.banned
        self.banned |= other.banned


class Grouping:
    """The groups of one graph, built in one topological walk (`run`)."""

    def __init__(self, fgraph: FunctionGraph, max_nodes: int):
        self.max_nodes = max_nodes  # members of one group at most
        self.nodes = fgraph.nodes
        self.order = {id(n): i for i, n in enumerate(self.nodes)}
        self.readers: dict[int, list[Node]] = {}
        for node in self.nodes:
            for v in node.inputs:
                self.readers.setdefault(id(v), []).append(node)
        self.units = Contraction()
        self.roots = {id(v) for v in fgraph.roots}
        self.groups: dict[int, _Group] = {}  # representative (Contraction's) -> group

    def find(self, node_id: int) -> int | None:
        return self.units.find(node_id)

    def node_readers(self, node: Node) -> list[Node]:
        return [r for out in node.outputs for r in self.readers.get(id(out), ())]

    def group_of(self, v) -> int | None:
        """The group whose kernel computes `v` as an instruction (not a trailing reduction), if any."""
        if v.owner is None or v.owner.op in TRAILING:
            return None
        rep = self.find(id(v.owner))
        return rep if rep in self.groups else None

    def run(self) -> None:
        for index, node in enumerate(self.nodes):
            if node.op in TRAILING and self.try_reduction(node):
                continue
            rep = self.units.add(node, (index,))
            if node.op not in ELEMENTWISE or len(node.outputs) != 1:
                continue
            self.groups[rep] = _Group(node)
            for v in dict.fromkeys(node.inputs):
                a, b = self.group_of(v), self.find(id(node))
                if a is not None and a != b:
                    self.try_merge(a, b)

    def try_reduction(self, node: Node) -> bool:
        (v,) = node.inputs
        g = self.group_of(v)
        if g is None or v.type.dtype.kind != "f" or node.outputs[0].type.dtype != v.type.dtype:
            return False
        group = self.groups[g]
        if not same_shape(v.type.shape, group.shape):
            return False
        # The reduction reads only `v`, a value of the group, so no path can leave the group and enter it.
        self.units.join(g, node)
        group.reductions.append(node)
        group.banned.update(id(r) for r in self.node_readers(node))
        return True

    def try_merge(self, a: int, b: int) -> bool:
        """Merge producer group a into consumer group b (which holds the node being walked)."""
        ga, gb = self.groups[a], self.groups[b]
        if not same_shape(ga.shape, gb.shape):
            if ga.reductions or not self._internal(ga, {a, b}):
                return False
            if not same_shape(broadcast_shapes(ga.shape, gb.shape), gb.shape):
                return False
        if len(ga.members) + len(gb.members) > self.max_nodes:
            return False
        # A reduced value is never read inside its own kernel: look from the smaller group's side only.
        big, small = (a, b) if len(ga.members) >= len(gb.members) else (b, a)
        gbig, gsmall = self.groups[big], self.groups[small]
        if any(id(m) in gbig.banned for m in gsmall.members) or any(
            self.find(x) == big for x in gsmall.banned
        ):
            return False
        shape = gb.shape
        keep = self.units.merge(a, b)
        if keep is None:
            return False
        gone = b if keep == a else a
        self.groups[keep].absorb(self.groups.pop(gone))
        self.groups[keep].shape = shape
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
