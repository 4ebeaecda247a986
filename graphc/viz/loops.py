"""How a scan is drawn: folded, as the book's fig. 10.2 (left), its body as a cluster (the cell) with a delay
edge (a black square) from each new carry back to the carry; or unfolded for k steps, fig. 10.2 (right) and
10.3, one cluster per step, the carry flowing from step to step and the weights drawn once. Knows the core
and the Scene's parts; iterative; nothing of graphviz.

A scan's outer values are linked to its body: init to the carry, each sequence to its slice x (edge "[t]"),
the last carry and the stacked ys to the node's outputs. Values captured from outside (weights) are drawn
once, outside, with edges straight into the body. Nested scans are drawn folded inside.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from graphc.graph import Node, Variable
from graphc.ops import Op


@dataclass
class Cluster:
    label: str
    parent: int | None
    backward: bool
    step: bool = False  # one step of an unrolled loop (steps stand side by side)


@dataclass
class Link:
    """An edge that is no operation: from a value outside a loop into its body and back out, or the delay."""

    src: Variable
    dst: Variable
    label: str = ""
    delay: bool = False  # the book's black square: the value one step later
    cluster: int | None = None  # where the delay square goes


class LoopDrawing:
    """Replaces each SCAN op of a drawing by its body: `ops`, `links` and `clusters` once `expand` ran.

    `drawn(node, backward)` makes the Drawn op of a node; `placed(values, backward, cluster)` one that only
    places values (the carry and x inside the cell, the scan's outputs outside). `read`: the ids of the values
    drawn as read or shown (a scan's outputs that nothing reads, such as the saved carries, are left out).
    """

    def __init__(self, read: set[int], unroll: int | None, drawn: Callable, placed: Callable):
        self.read, self.unroll, self.drawn, self.placed = read, unroll, drawn, placed
        self.ops: list = []
        self.links: list[Link] = []
        self.clusters: list[Cluster] = []
        self.names: dict[int, str] = {}  # id(value) -> how a folded cell shows it: h⁽ᵗ⁻¹⁾, h⁽ᵗ⁾, x⁽ᵗ⁾
        self.rows: list[list[Variable]] = []  # an unrolled scan's x⁽¹⁾, x⁽²⁾, ...: drawn in a row, in order

    def expand(self, ops: list) -> None:
        pending = list(reversed(ops))
        while pending:
            op = pending.pop()
            if op.node is None or op.node.op is not Op.SCAN:
                self.ops.append(op)
                continue
            made = self._scan(op.node, op.backward, op.cluster)
            pending.extend(reversed(made))

    def _scan(self, node: Node, backward: bool, parent: int | None) -> list:
        """The ops a scan is drawn as (its outputs placed last, outside its clusters)."""
        p = node.params
        steps = p["length"] if isinstance(p["length"], int) else None
        unrolled = self.unroll is not None and parent is None  # a nested scan is drawn folded
        copies = min(self.unroll, steps if steps is not None else self.unroll) if unrolled else 1
        made, carries = [], list(node.inputs[: p["n_carry"]])
        first = len(made)
        for t in range(copies):
            carries = self._copy(node, backward, parent, t if unrolled else None, carries, made)
        if unrolled and p["n_seq"]:
            self.rows.append([op.outputs[0] for op in made[first:] if op.hidden and op.outputs])
        made.append(self.placed([v for v in node.outputs if id(v) in self.read], backward, parent))
        more = "…" if unrolled and (steps is None or steps > copies) else ""
        for carry, final in zip(carries, node.outputs, strict=False):
            if id(final) in self.read:
                self.links.append(Link(carry, final, more))
        return made

    def _copy(self, node: Node, backward: bool, parent, step: int | None, carries: list, made: list) -> list:
        """One copy of the body (the folded cell when `step` is None), made of new nodes (a backward body
        shares nodes with its forward body: each is drawn on its own); returns the carries it gives."""
        p = node.params
        body, n_carry, n_seq = p["body"], p["n_carry"], p["n_seq"]
        cluster = len(self.clusters)
        name = "reverse scan" if p["reverse"] else "scan"
        label = f"t = {step + 1}" if step is not None else f"{name}: one step"
        self.clusters.append(Cluster(label, parent, backward, step is not None))
        held = body.inputs[n_carry + n_seq :]
        mapping = dict(zip(map(id, held), node.inputs[n_carry + n_seq :], strict=True))
        slices = body.inputs[n_carry : n_carry + n_seq]
        if step is None:
            cell = [Variable(v.type, v.name) for v in body.inputs[: n_carry + n_seq]]
            mapping.update(zip(map(id, body.inputs[: n_carry + n_seq]), cell, strict=True))
            self.links += [Link(a, b) for a, b in zip(carries, cell[:n_carry], strict=True)]
            members, slices = cell, cell[n_carry:]
        else:
            mapping.update(zip(map(id, body.inputs[:n_carry]), carries, strict=True))
            slices = [Variable(x.type, f"{_stem(x.name or 'x')}{step + 1}") for x in slices]
            mapping.update(zip(map(id, body.inputs[n_carry : n_carry + n_seq]), slices, strict=True))
            members = list(slices)
        for xs, x in zip(node.inputs[n_carry : n_carry + n_seq], slices, strict=True):
            self.links.append(Link(xs, x, "[t]" if step is None else f"[{step}]"))
        made.append(self.placed(members, backward, cluster))
        outputs = self._body_ops(body, mapping, backward, cluster, made)
        if step is None:
            self._name_cell(members, outputs, n_carry, p["reverse"])
            for new, carry in zip(outputs[:n_carry], members, strict=False):
                if new is not carry:
                    self.links.append(Link(new, carry, delay=True, cluster=cluster))
        else:
            for k, v in enumerate(outputs):
                if v.owner is not None and not v.name and id(v) not in {id(c) for c in carries}:
                    v.name = (
                        f"{_stem(body.inputs[k].name or 'h')}{step + 1}" if k < n_carry else f"o{step + 1}"
                    )
        for y, stacked in zip(outputs[n_carry:], node.outputs[n_carry:], strict=False):
            if id(stacked) in self.read:
                self.links.append(Link(y, stacked, "stack"))
        return outputs[:n_carry]

    def _name_cell(self, members: list, outputs: list, n_carry: int, reverse: bool) -> None:
        """The book's names in a folded cell: the carry h⁽ᵗ⁻¹⁾ (in reverse h⁽ᵗ⁺¹⁾) becomes h⁽ᵗ⁾."""
        before = "⁽ᵗ⁺¹⁾" if reverse else "⁽ᵗ⁻¹⁾"
        for carry, new in zip(members[:n_carry], outputs[:n_carry], strict=True):
            stem = _stem(carry.name or "h")
            self.names[id(carry)] = stem + before
            if new.owner is not None and not new.name:
                self.names[id(new)] = stem + "⁽ᵗ⁾"
        for x in members[n_carry:]:
            self.names[id(x)] = _stem(x.name or "x") + "⁽ᵗ⁾"
        for y in outputs[n_carry:]:
            if y.owner is not None and not y.name and id(y) not in self.names:
                self.names[id(y)] = "o⁽ᵗ⁾"

    def _body_ops(self, body, mapping: dict, backward: bool, cluster: int, made: list) -> list:
        """New nodes for the body's, reading `mapping`'s values, as Drawn ops; the body outputs' values."""
        for node in body.nodes:
            inputs = [mapping.get(id(v), v) for v in node.inputs]
            copy = Node(node.op, inputs, node.params, [v.type for v in node.outputs], node.origin)
            for old, new in zip(node.outputs, copy.outputs, strict=True):
                new.name = old.name
                mapping[id(old)] = new
            d = self.drawn(copy, backward)
            d.cluster = cluster
            made.append(d)
            self.read.update(id(v) for v in d.inputs)  # a nested scan shows the outputs its cell reads
        results = [mapping.get(id(v), v) for v in body.outputs]
        self.read.update(map(id, results))
        return results


def _stem(name: str) -> str:
    """The name a step's copies are numbered after: h for h0 or h, x for xs_t, carry for carry0."""
    name = re.sub(r"(_t|_?\d+)$", "", name) or name
    return name[:-1] if len(name) > 1 and name.endswith("s") else name


__all__ = ["Cluster", "Link", "LoopDrawing"]
