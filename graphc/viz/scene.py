"""What a drawing shows: which nodes (depth limit, size guard), forward vs backward, collapsed groups, and the
book's names for every value. Iterative walks only; knows the core, nothing of graphviz or passes.
(Over 300 lines: selection, collapsing and naming build the one scene every renderer reads.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphc.errors import GraphcError
from graphc.graph import Constant, Node, SharedVariable, Variable, graph_inputs, toposort
from graphc.ops import Op
from graphc.types import same_shape

from .loops import Cluster, Link, LoopDrawing
from .names import (
    SUPERSCRIPT,
    constant_text,
    gradient_name,
    op_box_text,
    op_symbol,
    plain,
    pretty,
    shown_inputs,
)


@dataclass
class Drawn:
    """One operation as drawn: a node of the graph, or a collapsed group of nodes."""

    label: str  # the book's symbol (written on the arrows, or in a box)
    box: str  # the ops-style box text
    inputs: list[Variable]
    outputs: list[Variable]
    backward: bool
    kernel: list[str] | None = None  # a FUSED node's body, one line per instruction
    size: int = 1  # how many graph nodes it stands for
    node: Node | None = None  # the node it draws (None: a group, or values placed by a loop's drawing)
    cluster: int | None = None  # the loop body (Scene.clusters) it is drawn in
    hidden: bool = False  # no operation: it only places its outputs (a loop's carry and x, its results)

    @property
    def as_box(self) -> bool:
        """Book style writes an op on its arrows; kernels and multi-output ops get a box of their own."""
        return self.kernel is not None or len(self.outputs) != 1


@dataclass
class Scene:
    ops: list[Drawn]
    leaves: list[Variable]  # inputs, parameters, constants, elided values: drawn but made by no drawn op
    kinds: dict[int, str]  # id(var) -> input | parameter | constant | output | gradient | value | elided
    backward_vars: set[int]
    names: dict[int, str] = field(default_factory=dict)  # id(var) -> book text (x_{sub} marks subscripts)
    updates: list[tuple[SharedVariable, Variable]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)  # edges into, out of and around loop bodies
    clusters: list[Cluster] = field(default_factory=list)  # loop bodies (a step each when unrolled)
    home: dict[int, int] = field(default_factory=dict)  # id(value) -> the loop body it is drawn in
    rows: list[list[Variable]] = field(default_factory=list)  # values drawn side by side, left to right

    @property
    def has_backward(self) -> bool:
        return bool(self.backward_vars) or any(op.backward for op in self.ops)


def build_scene(
    outputs: Sequence[Variable],
    grads: Sequence[tuple[Variable | None, Variable]],
    updates: Sequence[tuple[SharedVariable, Variable]],
    collapse,
    max_depth: int | None,
    max_nodes: int | None,
    aliases: dict[int, str] | None = None,
    unroll: int | None = None,
) -> Scene:
    grad_ids = {id(g) for _, g in grads}
    forward_roots = _unique(o for o in outputs if id(o) not in grad_ids)
    backward_roots = _unique([g for _, g in grads] + [v for _, v in updates])
    roots = _unique(forward_roots + backward_roots)
    elided = _depth_cut(roots, max_depth) if max_depth is not None else []
    nodes = toposort(roots, stop=elided)
    if backward_roots:
        forward = {id(n) for n in toposort(forward_roots, stop=elided)}
        backward_nodes = {id(n) for n in nodes if id(n) not in forward}
    else:
        backward_nodes = set()
    if collapse is None:
        _check_size(len(nodes), max_nodes)  # before any per-node work: a huge graph is refused at once
    ops = _collapse(nodes, backward_nodes, roots, collapse)
    loops = _draw_loops(ops, roots, unroll)
    ops = loops.ops
    _check_size(sum(not op.hidden for op in ops), max_nodes)
    made = {id(v) for op in ops for v in op.outputs}
    leaves = _unique([v for op in ops for v in op.inputs if id(v) not in made] +
                     [link.src for link in loops.links if id(link.src) not in made] +
                     [r for r in roots if id(r) not in made])  # fmt: skip
    elided_ids = {id(v) for v in elided}
    kinds: dict[int, str] = {}
    for v in leaves:
        kinds[id(v)] = ("elided" if id(v) in elided_ids else "parameter" if isinstance(v, SharedVariable)
                        else "constant" if isinstance(v, Constant) else "input")  # fmt: skip
    for op in ops:
        for v in op.outputs:
            kinds[id(v)] = "value"
    for r in forward_roots:
        if kinds.get(id(r)) == "value":
            kinds[id(r)] = "output"
    for g in backward_roots:
        if kinds.get(id(g)) == "value":
            kinds[id(g)] = "gradient"
    # A value is backward if a backward op makes it, or it is a constant only backward ops read (the seed 1).
    backward_vars = {id(v) for op in ops if op.backward for v in op.outputs}
    forward_reads = {id(v) for op in ops if not op.backward for v in op.inputs} | {
        id(r) for r in forward_roots
    }
    forward_reads |= {id(link.src) for link in loops.links if id(link.dst) not in backward_vars}
    backward_vars |= {id(v) for v in leaves if isinstance(v, Constant) and id(v) not in forward_reads}
    home = {id(v): op.cluster for op in ops if op.cluster is not None for v in op.outputs}
    scene = Scene(ops, leaves, kinds, backward_vars, updates=list(updates), links=loops.links,
                  clusters=loops.clusters, home=home, rows=loops.rows)  # fmt: skip
    scene.names = _names(scene, forward_roots, grads, {**loops.names, **(aliases or {})})
    return scene


def _check_size(count: int, max_nodes: int | None) -> None:
    if max_nodes is not None and count > max_nodes:
        raise GraphcError(
            f"gc.viz: the graph has {count} operations to draw, more than max_nodes={max_nodes}; graphviz "
            "would take very long to lay it out and nobody could read it. Draw part of it with "
            "max_depth=N (N levels up from the outputs) or collapse='backward' (or {value: 'name'} to draw "
            "a subgraph as one operation), or pass max_nodes=None to draw it all anyway"
        )


def _unique(items) -> list:
    seen: set[int] = set()
    out = []
    for v in items:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _depth_cut(roots: list[Variable], max_depth: int) -> list[Variable]:
    """Breadth-first from the outputs: nodes more than max_depth levels away are not drawn; the values they
    make are drawn as elided (dashed) leaves."""
    if max_depth < 1:
        raise GraphcError(f"gc.viz: max_depth must be at least 1, got {max_depth}")
    kept: set[int] = set()
    frontier = _unique(r.owner for r in roots if r.owner is not None)
    kept.update(id(n) for n in frontier)
    cut: list[Variable] = []
    for depth in range(1, max_depth + 1):
        following = []
        for node in frontier:
            for v in node.inputs:
                parent = v.owner
                if parent is None or id(parent) in kept:
                    continue
                if depth == max_depth:
                    cut.append(v)
                else:
                    kept.add(id(parent))
                    following.append(parent)
        frontier = following
    return _unique(v for v in cut if id(v.owner) not in kept)


def _drawn(node: Node, backward: bool) -> Drawn:
    if node.op is Op.FUSED:  # every input, in order: the kernel body calls them v0, v1, ...
        kernel = node.params["kernel"].describe()
        return Drawn("fused", op_box_text(node), list(node.inputs), list(node.outputs), backward, kernel,
                     node=node)  # fmt: skip
    return Drawn(
        op_symbol(node), op_box_text(node), shown_inputs(node), list(node.outputs), backward, node=node
    )


def _placed(values: list[Variable], backward: bool, cluster: int | None) -> Drawn:
    return Drawn("", "", [], values, backward, cluster=cluster, hidden=True)


def _draw_loops(ops: list[Drawn], roots: list[Variable], unroll: int | None) -> LoopDrawing:
    """The ops with each scan drawn as its body (graphc.viz.loops): folded, or unrolled for `unroll` steps."""
    if unroll is not None and (not isinstance(unroll, int) or unroll < 1):
        raise GraphcError(f"gc.viz: unroll must be a number of steps (1 or more), not {unroll!r}")
    read = {id(v) for op in ops for v in op.inputs} | {id(r) for r in roots}
    loops = LoopDrawing(read, unroll, _drawn, _placed)
    loops.expand(ops)
    return loops


def _collapse(nodes: list[Node], backward: set[int], roots: list[Variable], collapse) -> list[Drawn]:
    """Each node becomes one Drawn op, except the members of collapsed groups: one Drawn op per group."""
    if collapse is None:
        return [_drawn(n, id(n) in backward) for n in nodes]
    if isinstance(collapse, str):
        collapse = {collapse: None}
    if not isinstance(collapse, Mapping):
        raise GraphcError(
            "gc.viz: collapse is 'backward' or a mapping {value: label} (and 'backward': label)"
        )
    group_of: dict[int, int] = {}
    labels: list[str] = []
    for key, label in collapse.items():
        if isinstance(key, str):
            if key != "backward":
                raise GraphcError(
                    f"gc.viz: collapse={key!r}: only 'backward' can be named; give values as keys"
                )
            members = [n for n in nodes if id(n) in backward and id(n) not in group_of]
            label = label or "backward graph"
        elif isinstance(key, Variable):
            members = _private_subgraph(nodes, key, roots, group_of)
            label = label or (pretty(key.name) if key.name else "composite")
        else:
            raise GraphcError(f"gc.viz: collapse keys are Variables or 'backward', not {key!r}")
        for n in members:
            group_of[id(n)] = len(labels)
        labels.append(label)
    return _grouped(nodes, backward, roots, group_of, labels)


def _private_subgraph(nodes: list[Node], out: Variable, roots: list[Variable], taken: dict) -> list[Node]:
    """The nodes that make `out` for it alone: built on the same user line as out (one call of a composite
    such as gc.nn.softmax_cross_entropy), unnamed, and read by nothing outside the group."""
    if out.owner is None:
        raise GraphcError(f"gc.viz: collapse {out!r}: an input has no subgraph to collapse")
    consumers: dict[int, list[int]] = {}
    for n in nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), []).append(id(n))
    root_ids = {id(r) for r in roots}
    members = {id(out.owner)}
    picked = [out.owner]
    for n in reversed(nodes):
        if id(n) in members or id(n) in taken or n.origin != out.owner.origin:
            continue
        if any(v.name or id(v) in root_ids for v in n.outputs):
            continue
        used_by = [c for v in n.outputs for c in consumers.get(id(v), [])]
        if used_by and all(c in members for c in used_by):
            members.add(id(n))
            picked.append(n)
    return picked


def _grouped(nodes, backward, roots, group_of: dict[int, int], labels: list[str]) -> list[Drawn]:
    members: list[list[Node]] = [[] for _ in labels]
    for n in nodes:
        if id(n) in group_of:
            members[group_of[id(n)]].append(n)
    last = {id(group[-1]): k for k, group in enumerate(members) if group}
    consumers: dict[int, set[int]] = {}
    for n in nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), set()).add(group_of.get(id(n), -1 - id(n)))
    root_ids = {id(r) for r in roots}
    ops: list[Drawn] = []
    for n in nodes:
        if id(n) not in group_of:
            ops.append(_drawn(n, id(n) in backward))
        elif id(n) in last:  # a group is drawn where its last member is: everything it makes exists by then
            k = last[id(n)]
            group = members[k]
            made = {id(v) for m in group for v in m.outputs}
            inputs = _unique(
                v for m in group for v in m.inputs if id(v) not in made and not _hidden(v, k, consumers)
            )
            inputs.sort(key=lambda v: not v.type.is_float)  # the values first, then labels (U⁽²⁾, y)
            outputs = [v for m in group for v in m.outputs
                       if id(v) in root_ids or consumers.get(id(v), set()) - {k}]  # fmt: skip
            is_backward = all(id(m) in backward for m in group)
            ops.append(Drawn(labels[k], labels[k], inputs, outputs, is_backward, size=len(group)))
    return ops


def _hidden(v: Variable, group: int, consumers: dict[int, set[int]]) -> bool:
    """A constant only the group reads is part of it (the −1 of a negation, a one-hot depth)."""
    return isinstance(v, Constant) and consumers.get(id(v), set()) == {group}


def _names(scene: Scene, forward_roots: list[Variable], grads, aliases: dict[int, str]) -> dict[int, str]:
    """Book names: the user's names made pretty, u⁽ⁱ⁾ for unnamed values in topological order, ∇_W J and
    dz/dw for gradients, constants by value."""
    names: dict[int, str] = {}
    for v in scene.leaves:
        if isinstance(v, Constant):
            names[id(v)] = constant_text(v)
        else:
            names[id(v)] = pretty(v.name) if v.name else "?"
    scalar_outs = [r for r in forward_roots if r.type.ndim == 0]
    cost = scalar_outs[0] if scalar_outs else (forward_roots[0] if forward_roots else None)
    grad_wrt = _match_wrt(grads, forward_roots)
    updated = {id(value): var for var, value in scene.updates}
    # The user's names first: a made-up u⁽ⁱ⁾ or J never repeats one of them (a value named u1 is u⁽¹⁾).
    given = [aliases.get(id(v)) or v.name for op in scene.ops for v in op.outputs]
    taken = set(names.values()) | {pretty(name) for name in given if name}
    count = 0
    for op in scene.ops:
        for v in op.outputs:
            if id(v) in grad_wrt or id(v) in names:
                continue
            if v.name or id(v) in aliases:
                names[id(v)] = pretty(aliases.get(id(v)) or v.name)
            elif id(v) in updated:  # the new value of a parameter (an update), as in W ← W − εg
                names[id(v)] = "new " + (pretty(updated[id(v)].name or "") or "value")
            elif v is cost and len(scalar_outs) == 1 and not cost.name and "J" not in taken:
                names[id(v)] = "J"
            else:
                count += 1
                while "u" + f"({count})".translate(SUPERSCRIPT) in taken:
                    count += 1
                names[id(v)] = "u" + f"({count})".translate(SUPERSCRIPT)
    cost_name = plain(names.get(id(cost), "J")) if cost is not None else "J"
    for _, g in grads:
        w = grad_wrt.get(id(g))
        if w is None or id(g) in names and g.name:
            continue
        scalar = cost is not None and cost.type.ndim == 0 and w.type.ndim == 0
        wrt_name = names.get(id(w)) or (pretty(w.name) if w.name else "?")
        names[id(g)] = gradient_name(cost_name, plain(wrt_name), scalar)
    return names


def _match_wrt(grads, forward_roots: list[Variable]) -> dict[int, Variable]:
    """id(gradient) -> the variable it is the gradient of: given as pairs, or, for a gradient given alone,
    the forward graph's one leaf (input or parameter) of its type. Where that is ambiguous (w and x both of
    shape (3,), or gc.grad(z, [y, x, w]) of scalars, some not leaves at all) a guess could name a gradient
    wrongly, so it is not named after a variable: the user can say whose it is with {wrt: gradient}."""
    found: dict[int, Variable] = {}
    alone = [g for w, g in grads if w is None]  # the graph walk is needed only to guess whose gradient it is
    leaves = graph_inputs(forward_roots) if alone and forward_roots else []
    given = {id(w) for w, _ in grads if w is not None}
    candidates = [v for v in leaves if not isinstance(v, Constant) and id(v) not in given]
    for w, g in grads:
        if w is None:
            fits = [c for c in candidates if _same_type(c, g)]
            rivals = [h for h in alone if _same_type(h, g)]
            w = fits[0] if len(fits) == 1 and len(rivals) == 1 else None
        if w is not None:
            found[id(g)] = w
    return found


def _same_type(a: Variable, b: Variable) -> bool:
    return a.type.dtype == b.type.dtype and same_shape(a.type.shape, b.type.shape)
