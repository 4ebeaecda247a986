"""A Scene as graphviz DOT: the book's style (values as circles, operations on the arrows, inputs at the
bottom) and the ops style (operations as boxes, values with dtype and shape).
Knows graphviz and the Scene only."""

from __future__ import annotations

import html

import graphviz

from graphc.types import shape_str

from .names import dot_text, html_label, plain
from .scene import Drawn, Scene

FONT = "DejaVu Serif"
MONO = "DejaVu Sans Mono"
BACKWARD_COLOR = "#c0392b"
BACKWARD_FILL = "#fdecea"
LEAF_FILL = "#ececec"

KIND_ATTRS = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": LEAF_FILL},
    "parameter": {"shape": "ellipse", "style": "filled", "fillcolor": LEAF_FILL, "peripheries": "2"},
    "constant": {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "fontsize": "11",
                 "height": "0.3", "width": "0.3", "fontname": FONT},
    "output": {"shape": "ellipse", "style": "filled,bold", "fillcolor": "white", "penwidth": "2.2"},
    "gradient": {"shape": "ellipse", "style": "filled,bold", "fillcolor": "white", "penwidth": "2.2"},
    "value": {"shape": "ellipse", "style": "filled", "fillcolor": "white"},
    "elided": {"shape": "ellipse", "style": "dashed"},
}  # fmt: skip
KIND_WORDS = {
    "input": "grey ellipse: input",
    "parameter": "double ring: parameter (shared)",
    "constant": "box: constant",
    "output": "bold: output",
    "gradient": "bold red: gradient",
    "elided": "dashed: not drawn (max_depth)",
}


def emit(scene: Scene, style: str, title: str | None = None, legend: bool | None = None, dpi=None) -> str:
    book = style == "book"
    g = graphviz.Digraph("graphc")
    g.attr(rankdir="BT" if book else "TB", nodesep="0.3", ranksep="0.4", fontname=FONT)
    if dpi is not None:
        g.attr(dpi=str(dpi))
    if title:
        g.attr(label=dot_text(title), labelloc="t", fontsize="16")
    g.attr("node", fontname=f"{FONT} Italic" if book else FONT, fontsize="14", height="0.42", width="0.42",
           margin="0.04,0.02")  # fmt: skip
    g.attr("edge", fontname=FONT, fontsize="12", arrowsize="0.7")
    ids: dict[int, str] = {}
    depth = _depths(scene)
    for v in scene.leaves:
        _variable(g, scene, v, ids, book)
    bodies = [_body_cluster(k, cluster) for k, cluster in enumerate(scene.clusters)]
    for k, op in enumerate(scene.ops):
        where = g if op.cluster is None else bodies[op.cluster]
        if op.hidden:
            for v in op.outputs:
                _variable(where, scene, v, ids, book)
        elif op.kernel is not None:
            with where.subgraph(name=f"cluster_{k}") as c:
                c.attr(label="fused kernel", style="dashed,rounded", color="#7f8c8d", fontname=MONO,
                       fontsize="10")  # fmt: skip
                _operation(c, g, scene, op, k, ids, book, depth)
                body = "\\l".join(line.replace("\\", "\\\\") for line in op.kernel) + "\\l"
                c.node(
                    f"kernel{k}",
                    body,
                    shape="note",
                    fontname=MONO,
                    fontsize="10",
                    margin="0.2,0.06",
                    **{"class": "kernel"},
                )
        else:
            _operation(where, g, scene, op, k, ids, book, depth)
    _links(g, bodies, scene, ids)
    for row in scene.rows:  # an unrolled loop's steps from left to right: x⁽¹⁾, x⁽²⁾, ... on one rank
        g.attr(newrank="true")
        with g.subgraph() as same:
            same.attr(rank="same")
            for v in row:
                same.node(ids[id(v)])
        for a, b in zip(row, row[1:], strict=False):
            g.edge(ids[id(a)], ids[id(b)], style="invis")
    for k in reversed(range(len(bodies))):  # a nested body is complete before it goes into its parent's
        parent = scene.clusters[k].parent
        if parent is not None:
            bodies[parent].subgraph(bodies[k])
    for k, cluster in enumerate(scene.clusters):  # in order: an unrolled loop's steps from left to right
        if cluster.parent is None:
            g.subgraph(bodies[k])
    for var, value in scene.updates:
        if id(var) in ids and id(value) in ids:
            g.edge(ids[id(value)], ids[id(var)], label=f"{dot_text(plain(scene.names.get(id(var), '?')))} ←",
                   style="dashed", color=BACKWARD_COLOR, fontcolor=BACKWARD_COLOR, constraint="false",
                   **{"class": "update"})  # fmt: skip
    if legend or (legend is None and scene.has_backward):
        _legend(g, scene)
    return g.source


def _body_cluster(k: int, cluster) -> graphviz.Digraph:
    """A loop body (or one step of it) as a dashed box labelled like the book's figures."""
    body = graphviz.Digraph(name=f"cluster_loop{k}")
    colour = BACKWARD_COLOR if cluster.backward else "#34495e"
    body.attr(label=dot_text(cluster.label), style="dashed,rounded", color=colour, fontcolor=colour,
              fontname=FONT, fontsize="11")  # fmt: skip
    return body


def _links(g, bodies: list, scene: Scene, ids: dict[int, str]) -> None:
    """The edges into, out of and around loop bodies; a delay is an edge through a small black square."""
    for k, link in enumerate(scene.links):
        if id(link.src) not in ids or id(link.dst) not in ids:
            continue
        src, dst = ids[id(link.src)], ids[id(link.dst)]
        colour = BACKWARD_COLOR if id(link.dst) in scene.backward_vars else "#34495e"
        if link.delay:
            square = f"delay{k}"
            bodies[link.cluster].node(square, "", shape="square", style="filled", fillcolor="black",
                                      color="black", width="0.1", height="0.1", fixedsize="true",
                                      **{"class": "delay"})  # fmt: skip
            g.edge(src, square, arrowhead="none", constraint="false", color=colour, **{"class": "delay"})
            g.edge(square, dst, constraint="false", color=colour, **{"class": "delay"})
        else:
            label = {"label": f" {dot_text(link.label)} "} if link.label else {}
            g.edge(src, dst, style="dashed", color=colour, fontcolor=colour, **label, **{"class": "loop"})


def _variable(g, scene: Scene, v, ids: dict[int, str], book: bool) -> None:
    vid = f"v{len(ids)}"
    ids[id(v)] = vid
    kind = scene.kinds.get(id(v), "value")
    backward = id(v) in scene.backward_vars
    name = scene.names.get(id(v), "?")
    attrs = dict(KIND_ATTRS[kind])
    if backward:
        attrs.update(color=BACKWARD_COLOR, fontcolor=BACKWARD_COLOR)
        if kind != "constant":
            attrs["fillcolor"] = BACKWARD_FILL
    attrs["class"] = f"{'backward' if backward else 'forward'} {kind}"
    attrs["tooltip"] = f"{dot_text(plain(name))}: {v.type.dtype.name}{shape_str(v.type.shape)}"
    if book:
        label = html_label(name)
    else:
        text = html_label(name)
        text = text[1:-1] if text.startswith("<") else html.escape(text)
        kind_font = 'POINT-SIZE="10" FACE="' + MONO + '"'
        label = (
            f"<{text}<BR/><FONT {kind_font}>{v.type.dtype.name}{html.escape(shape_str(v.type.shape))}</FONT>>"
        )
    g.node(vid, label, **attrs)


def _depths(scene: Scene) -> dict[int, int]:
    """id(value) -> the longest path of operations from the leaves to it (ops are in topological order)."""
    depth: dict[int, int] = {}
    for op in scene.ops:
        d = 1 + max((depth.get(id(v), 0) for v in op.inputs), default=0)
        for v in op.outputs:
            depth[id(v)] = d
    return depth


def _label_arrow(op: Drawn, depth: dict[int, int]) -> int:
    """Which input's arrow carries the operation's name: one from the deepest inputs (dot ranks it just below
    the value made, so the name sits beside that value, as in the book, not halfway along a long arrow from
    a leaf such as λ drawn far away), the middle one of them when several are as deep."""
    levels = [depth.get(id(v), 0) for v in op.inputs]
    deepest = [i for i, d in enumerate(levels) if d == max(levels)]
    return deepest[(len(deepest) - 1) // 2]


def _operation(
    g, top, scene: Scene, op: Drawn, k: int, ids: dict[int, str], book: bool, depth: dict[int, int]
) -> None:
    """Nodes go into `g` (a fused kernel's cluster), edges into `top`: an edge written inside a cluster would
    pull its other end (an input) into the cluster too."""
    for v in op.outputs:
        _variable(g, scene, v, ids, book)
    colour = {"color": BACKWARD_COLOR, "fontcolor": BACKWARD_COLOR} if op.backward else {}
    cls = {"class": "backward" if op.backward else "forward"}
    sources = [ids[id(v)] for v in op.inputs]
    if book and not op.as_box:
        out = ids[id(op.outputs[0])]
        if not sources:  # an op with no inputs (random numbers): its name on the value itself
            g.node(out, xlabel=dot_text(op.label))
        label_at = _label_arrow(op, depth) if sources else 0
        for i, (src, v) in enumerate(zip(sources, op.inputs, strict=True)):
            extra = {"label": f" {dot_text(op.label)} "} if i == label_at else {}
            top.edge(src, out, **extra, **colour, **cls, **_between_steps(scene, op, v))
        return
    box = f"op{k}"
    text = dot_text(op.label if book else op.box)
    if op.size > 1:
        text = f"{text}\\n({op.size} ops)"
    fill = BACKWARD_FILL if op.backward else "#f7f7f7"
    g.node(box, text, shape="box", style="rounded,filled", fillcolor=fill, fontname=FONT, fontsize="12",
           **colour, **{"class": f"op {cls['class']}"})  # fmt: skip
    several = len(sources) > 1 and not book
    for i, src in enumerate(sources):
        # A kernel's inputs are named v0, v1, ... in its body; other ops' inputs are numbered in ops style.
        label = {"label": f"v{i}"} if op.kernel is not None else {"label": str(i)} if several else {}
        top.edge(src, box, **label, **colour, **cls, **_between_steps(scene, op, op.inputs[i]))
    for v in op.outputs:
        top.edge(box, ids[id(v)], **colour, **cls)


def _between_steps(scene: Scene, op: Drawn, v) -> dict:
    """An unrolled loop's steps go left to right and up (fig. 10.3): an edge from another step is loose."""
    home = scene.home.get(id(v))
    if op.cluster is None or home is None or home == op.cluster or not scene.clusters[op.cluster].step:
        return {}
    return {"weight": "0"}


def _legend(g, scene: Scene) -> None:
    present = [k for k in KIND_WORDS if k in set(scene.kinds.values())]
    rows = [
        '<TR><TD BGCOLOR="white">forward</TD>'
        f'<TD BGCOLOR="{BACKWARD_FILL}"><FONT COLOR="{BACKWARD_COLOR}">backward (gradient)</FONT></TD></TR>'
    ]
    rows += [f'<TR><TD COLSPAN="2" ALIGN="LEFT">{html.escape(KIND_WORDS[k])}</TD></TR>' for k in present]
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"
    g.node("legend", f"<{table}>", shape="plaintext", fontname=FONT, fontsize="10", **{"class": "legend"})
