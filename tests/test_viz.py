"""gc.viz: the book's figures 6.8-6.11 as DOT (nodes, edges, labels, forward/backward styling), compiled
stages with fused kernels as clusters, size guards on huge graphs, and rendered files (where `dot` exists)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
import graphc.viz as viz
from graphc.ops import Op

ROOT = Path(__file__).resolve().parents[1]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


def _load_figures():
    spec = importlib.util.spec_from_file_location("book_figures", ROOT / "examples" / "book_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIGS = _load_figures()

# --- a small DOT reader: the lines graphviz.Digraph writes -------------------------------------------------
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*?>(?=\s+\w+=|\]$)|[^\s\]]+)')


def _attrs(text: str) -> dict[str, str]:
    out = {}
    for key, value in ATTR.findall(text):
        if value.startswith('"'):
            value = value[1:-1]
        out[key] = value
    return out


def parse(dot: str):
    nodes, edges = {}, []
    for line in dot.splitlines():
        line = line.strip()
        edge = re.match(r"^(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if edge:
            edges.append((edge[1], edge[2], _attrs(edge[3] or "")))
            continue
        node = re.match(r"^(\w+) \[(.*)\]$", line)
        if node and node[1] not in ("node", "edge", "graph"):
            nodes[node[1]] = _attrs(node[2])
    return nodes, edges


def text(label: str) -> str:
    """A label without HTML markup: <∇<SUB>W</SUB> J> -> ∇W J."""
    return re.sub(r"<[^<>]*>", "", label[1:-1]) if label.startswith("<") else label


def variables(nodes):
    return {k: v for k, v in nodes.items() if k.startswith("v")}


def labels(nodes) -> list[str]:
    return sorted(text(v["label"]) for v in variables(nodes).values())


def edge_labels(edges) -> list[str]:
    return sorted(a["label"].strip() for _, _, a in edges if "label" in a and a.get("class") != "update")


def draw(fig: str, **extra):
    graph, options = getattr(FIGS, fig)()
    return parse(viz.to_dot(graph, **{**options, **extra}))


def by_label(nodes, name: str) -> dict:
    (found,) = [v for v in variables(nodes).values() if text(v["label"]) == name]
    return found


# --- fig. 6.8 -----------------------------------------------------------------------------------------------
def test_fig_6_8a_product() -> None:
    nodes, edges = draw("fig_6_8a")
    assert labels(nodes) == sorted(["x", "y", "z"])
    assert len(edges) == 2 and edge_labels(edges) == ["×"]
    assert "output" in by_label(nodes, "z")["class"] and "input" in by_label(nodes, "x")["class"]


def test_fig_6_8b_logistic_regression() -> None:
    nodes, edges = draw("fig_6_8b")
    assert labels(nodes) == sorted(["b", "u⁽¹⁾", "u⁽²⁾", "w", "x", "ŷ"])
    assert len(edges) == 5 and edge_labels(edges) == ["+", "dot", "σ"]
    ids = {text(v["label"]): k for k, v in variables(nodes).items()}
    assert (ids["u⁽¹⁾"], ids["u⁽²⁾"]) in [(a, b) for a, b, _ in edges]


def test_fig_6_8c_relu_layer_parameters_are_double_rings() -> None:
    nodes, edges = draw("fig_6_8c")
    assert labels(nodes) == sorted(["H", "W", "X", "b", "u⁽¹⁾", "u⁽²⁾"])
    assert edge_labels(edges) == sorted(["+", "matmul", "relu"])
    for name in ("W", "b"):
        assert "parameter" in by_label(nodes, name)["class"] and by_label(nodes, name)["peripheries"] == "2"
    assert "peripheries" not in by_label(nodes, "X")


def test_fig_6_8d_weight_decay_uses_w_twice() -> None:
    nodes, edges = draw("fig_6_8d")
    assert labels(nodes) == sorted(["u⁽¹⁾", "u⁽²⁾", "u⁽³⁾", "w", "x", "ŷ", "λ"])
    assert edge_labels(edges) == sorted(["dot", "sqr", "sum", "×"])
    w = [k for k, v in nodes.items() if v.get("label") == "w"][0]
    assert len([e for e in edges if e[0] == w]) == 2  # ŷ = xᵀw and sqr(w): one arrow each, sqr reads w once
    lam = by_label(nodes, "λ")
    assert "constant" in lam["class"] and lam["shape"] == "box"
    assert sum("output" in v["class"] for v in variables(nodes).values()) == 2  # ŷ and the penalty


# --- figs. 6.9 / 6.10 ---------------------------------------------------------------------------------------
def test_fig_6_9_chain() -> None:
    nodes, edges = draw("fig_6_9")
    assert labels(nodes) == sorted(["w", "x", "y", "z"])
    assert edge_labels(edges) == sorted(["f", "f", "f"])
    assert "legend" not in nodes  # no backward graph: no legend


def test_fig_6_10_symbol_to_symbol_derivatives_are_backward_nodes() -> None:
    nodes, edges = draw("fig_6_10")
    grads = [v for v in variables(nodes).values() if "gradient" in v["class"]]
    assert sorted(text(v["label"]) for v in grads) == ["dz/dw", "dz/dx", "dz/dy"]
    for name in ("w", "x", "y", "z"):
        assert by_label(nodes, name)["class"].startswith("forward")
    backward = [v for v in variables(nodes).values() if v["class"].startswith("backward")]
    assert len(backward) == len(variables(nodes)) - 4  # everything but w, x, y, z is the derivative graph
    assert all(v["color"] == viz.draw.BACKWARD_COLOR for v in backward)
    assert edge_labels(edges).count("f′") == 3  # f′(y), f′(x), f′(w) read the stored forward values
    forward_edges = [a for _, _, a in edges if a["class"] == "forward"]
    assert sorted(a.get("label", "").strip() for a in forward_edges if "label" in a) == ["f", "f", "f"]
    assert "legend" in nodes and "backward" in nodes["legend"]["label"]


# --- fig. 6.11 ----------------------------------------------------------------------------------------------
def test_fig_6_11_forward_with_cross_entropy_collapsed() -> None:
    nodes, edges = draw("fig_6_11")
    assert {"U⁽¹⁾", "H", "U⁽²⁾", "JMLE", "J", "X", "y", "W⁽¹⁾", "W⁽²⁾", "λ"} <= set(labels(nodes))
    assert edge_labels(edges) == sorted(
        ["matmul", "matmul", "relu", "cross_entropy", "sqr", "sqr", "sum", "sum", "+", "+", "×"]
    )
    assert not any("backward" in a["class"] for a in nodes.values() if "class" in a)
    full, _ = draw("fig_6_11", collapse=None)  # uncollapsed: the composite's own values appear
    assert len(variables(full)) > len(variables(nodes))


def test_fig_6_11_backward_gradients_named_nabla() -> None:
    nodes, edges = draw("fig_6_11_backward")
    grads = {text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"]}
    assert grads == {"∇W⁽¹⁾ J", "∇W⁽²⁾ J", "∇U⁽²⁾ J", "∇H J", "∇U⁽¹⁾ J"}  # Alg. 6.4's g's, named
    forward_only, _ = draw("fig_6_11", collapse=None)
    forward = [v for v in variables(nodes).values() if v["class"].startswith("forward")]
    assert len(forward) == len(variables(forward_only))  # the forward graph is drawn unchanged
    backward_edges = [e for e in edges if e[2]["class"] == "backward"]
    assert len(backward_edges) > len(edges) // 2
    assert {"matmul", "transpose"} <= set(edge_labels(backward_edges))


def test_grads_as_a_list_are_matched_to_parameters_in_order() -> None:
    m = FIGS._mlp()
    W1, W2, J = m["W1"], m["W2"], m["J"]
    gW1, gW2 = gc.grad(J, [W1, W2])
    nodes, _ = parse(viz.to_dot(J, grads=[gW1, gW2]))
    assert {text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"]} == {
        "∇W⁽¹⁾ J",
        "∇W⁽²⁾ J",
    }


def test_collapse_backward_draws_one_operation() -> None:
    nodes, edges = draw("fig_6_11_backward", collapse="backward")
    backward_values = [v for v in variables(nodes).values() if v["class"].startswith("backward")]
    assert len(backward_values) == 5 and all(text(v["label"]).startswith("∇") for v in backward_values)
    boxes = [v for k, v in nodes.items() if k.startswith("op")]
    assert len(boxes) == 1 and "backward graph" in boxes[0]["label"]


def test_fig_6_11_compiled_after_fusion_shows_kernels_as_clusters() -> None:
    step, options = FIGS.fig_6_11_fused()
    dot = viz.to_dot(step, **options)
    nodes, edges = parse(dot)
    fused = [n for n in viz.stage_graph(step, "fusion").nodes if n.op is Op.FUSED]
    assert fused and dot.count("subgraph cluster_") == len(fused)
    kernels = [v for k, v in nodes.items() if k.startswith("kernel")]
    assert len(kernels) == len(fused) and all("return" in v["label"] for v in kernels)
    new = sorted(text(v["label"]).split("float")[0] for v in variables(nodes).values() if "new" in v["label"])
    assert new == sorted(["new W⁽¹⁾", "new W⁽²⁾"])
    assert len([e for e in edges if e[2].get("class") == "update"]) == 2
    assert any("float64(n, 5)" in text(v["label"]) for v in variables(nodes).values())  # ops style: types


def test_function_stages_by_name() -> None:
    step, _ = FIGS.fig_6_11_fused()
    assert viz.stage_graph(step) is step.fgraph
    assert viz.stage_graph(step, "optimized") is step.optimized
    names = [name for name, _ in step.stages]
    for name, fg in step.stages:
        assert viz.stage_graph(step, f"after {name}") is fg
    assert viz.stage_graph(step, -1) is step.stages[-1][1]
    with pytest.raises(gc.GraphcError, match=names[1]):
        viz.stage_graph(step, "no such pass")
    before = len(parse(viz.to_dot(step, style="ops"))[1])
    after = len(parse(viz.to_dot(step, stage="fusion", style="ops"))[1])
    assert after < before


def test_grads_of_a_function_are_found_in_every_stage() -> None:
    w = gc.scalar("w")
    z = gc.tanh(gc.tanh(w))
    z.name = "z"
    gw = gc.grad(z, w)
    f = gc.function([w], [z, gw])
    for stage in (None, "cse", "final"):
        nodes, _ = parse(viz.to_dot(f, grads={w: gw}, stage=stage))
        assert [text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"]] == ["dz/dw"]
    with pytest.raises(gc.GraphcError, match="not an output"):
        viz.to_dot(f, grads=[gc.grad(z * 2, w)])


def test_ops_style_boxes_every_operation() -> None:
    y_hat, _ = FIGS.fig_6_8b()
    nodes, edges = parse(viz.to_dot(y_hat, style="ops"))
    boxes = sorted(v["label"] for k, v in nodes.items() if k.startswith("op"))
    assert boxes == ["add", "matmul", "sigmoid"]
    assert len(edges) == 2 + 2 + 1 + 3  # inputs into each box, one arrow out of each
    assert "float64(3,)" in by_label_prefix(nodes, "x")


def by_label_prefix(nodes, name):
    return next(text(v["label"]) for v in variables(nodes).values() if text(v["label"]).startswith(name))


# --- large graphs -------------------------------------------------------------------------------------------
def _chain(n: int):
    x = gc.scalar("x")
    v = x
    for _ in range(n):
        v = gc.tanh(v)
    return v


def test_huge_graph_is_refused_quickly_with_advice_and_drawn_by_depth() -> None:
    z = _chain(100_000)
    start = time.perf_counter()
    with pytest.raises(gc.GraphcError, match="max_depth"):
        viz.to_dot(z)
    nodes, edges = parse(viz.to_dot(z, max_depth=3))
    assert time.perf_counter() - start < 10
    assert len(edges) == 3
    elided = [v for v in variables(nodes).values() if "elided" in v["class"]]
    assert len(elided) == 1 and elided[0]["style"] == "dashed"


def test_max_nodes_none_draws_everything() -> None:
    nodes, edges = parse(viz.to_dot(_chain(3000), max_nodes=None))
    assert len(edges) == 3000 and len(variables(nodes)) == 3001


def test_bad_arguments() -> None:
    x = gc.scalar("x")
    with pytest.raises(gc.GraphcError, match="style"):
        viz.to_dot(x * 2, style="fancy")
    with pytest.raises(gc.GraphcError, match="Function"):
        viz.to_dot(x * 2, stage="fusion")
    with pytest.raises(gc.GraphcError, match="collapse"):
        viz.to_dot(x * 2, collapse="forward")
    with pytest.raises(gc.GraphcError, match="max_depth"):
        viz.to_dot(x * 2, max_depth=0)
    with pytest.raises(gc.GraphcError, match="cannot draw"):
        viz.to_dot(42)


# --- rendering ----------------------------------------------------------------------------------------------
def test_render_without_dot_says_how_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(viz, "_dot_binary", lambda: None)
    z, _ = FIGS.fig_6_8a()
    with pytest.raises(gc.GraphcError, match=r"apt-get install graphviz"):
        viz.render(z, path=tmp_path / "z.svg")
    assert "digraph" in viz.render(z, path=tmp_path / "z.dot").read_text()  # DOT needs no binary
    with pytest.raises(gc.GraphcError, match=r"\.svg"):
        viz.render(z, path=tmp_path / "z.jpeg2000")


@needs_dot
def test_render_svg_png_pdf(tmp_path) -> None:
    graph, options = FIGS.fig_6_10()
    svg = viz.render(graph, path=tmp_path / "f.svg", **options)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "dz/dw" in svg.read_text()
    assert viz.render(graph, path=tmp_path / "f.png", **options).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.render(graph, path=tmp_path / "f.pdf", **options).read_bytes()[:5] == b"%PDF-"


@needs_dot
def test_book_figures_script_writes_every_figure(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert FIGS.main([]) == Path("book_figures")  # by default not into docs/figures (tracked files)
    for name in FIGS.FIGURES:
        assert (tmp_path / "book_figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        ET.parse(tmp_path / "book_figures" / f"{name}.svg")
    assert FIGS.main(["--out", str(tmp_path / "elsewhere")]) == tmp_path / "elsewhere"
    assert len(list((tmp_path / "elsewhere").glob("*.svg"))) == len(FIGS.FIGURES)


SVG = "{http://www.w3.org/2000/svg}"
CSS_FAMILIES = {"DejaVu Serif, serif", "DejaVu Sans Mono, monospace"}


def _check_portable_text(svg: str) -> list[tuple[str, str]]:
    """Every <text> names a CSS font family with a generic fallback (not a fontconfig style name such as
    'DejaVu Serif Italic', which browsers do not know) and no baseline-shift (browsers ignore it on <text>).
    Returns (subscript, its base) pairs: a subscript is set lower and smaller than the text before it."""
    assert "baseline-shift" not in svg and "Italic" not in svg
    pairs = []
    for group in ET.fromstring(svg).iter(f"{SVG}a"):
        texts = list(group.iter(f"{SVG}text"))
        for before, text in zip(texts, texts[1:], strict=False):
            assert text.get("font-family") in CSS_FAMILIES, text.attrib
            if float(text.get("font-size")) < float(before.get("font-size")):
                assert float(text.get("y")) > float(before.get("y")), (before.attrib, text.attrib)
                pairs.append((text.text, before.text))
    return pairs


@needs_dot
def test_svg_fonts_and_subscripts_read_outside_graphviz() -> None:
    graph, options = FIGS.fig_6_11_backward()
    for svg in (viz.to_svg(graph, **options), (ROOT / "docs/figures/fig_6_11_backward.svg").read_text()):
        subscripts = _check_portable_text(svg)
        assert ("MLE", "J") in subscripts and ("W⁽¹⁾", "∇") in subscripts  # J_MLE and ∇_W⁽¹⁾ J
    for path in (ROOT / "docs" / "figures").glob("*.svg"):
        _check_portable_text(path.read_text())


def test_committed_figures_exist() -> None:
    for name in FIGS.FIGURES:
        for ext in ("svg", "png"):
            assert (ROOT / "docs" / "figures" / f"{name}.{ext}").stat().st_size > 1000


def test_random_values_and_constants_are_drawn() -> None:
    c = gc.constant(np.arange(6.0).reshape(2, 3))
    nodes, _ = parse(viz.to_dot(gc.exp(c) + 1.5))
    assert {"const(2, 3)", "1.5"} <= set(labels(nodes))


# --- names and labels ---------------------------------------------------------------------------------------
def test_made_up_names_never_repeat_the_users() -> None:
    x = gc.scalar("x")
    u1 = gc.tanh(x)
    u1.name = "u1"  # drawn u⁽¹⁾: the unnamed values must not be called u⁽¹⁾ as well
    J = gc.scalar("J")
    z = gc.exp(u1) * 2 + u1 + J  # unnamed scalar output: not "J", the input's name
    names = labels(parse(viz.to_dot(z))[0])
    assert len(names) == len(set(names)), names
    assert {"u⁽¹⁾", "J", "x"} <= set(names) and names.count("J") == 1


def test_grads_given_alone_are_named_only_when_unambiguous() -> None:
    w, x, y, z = FIGS._chain()
    gy, gx, gw = gc.grad(
        z, [y, x, w]
    )  # three scalar gradients, one scalar leaf: no way to tell which is dz/dw
    nodes, _ = parse(viz.to_dot(z, grads=[gy, gx, gw]))
    grads = [text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"]]
    assert len(grads) == 3 and not any(g.startswith("dz/") for g in grads)
    nodes, _ = parse(viz.to_dot(z, grads={y: gy, x: gx, w: gw}))
    assert sorted(text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"]) == [
        "dz/dw",
        "dz/dx",
        "dz/dy",
    ]
    y_hat, _ = FIGS.fig_6_8b()  # x and w are both vectors of 3: ∇w ŷ is not guessed; b is the only scalar
    xs = {v.name: v for v in gc.graph.graph_inputs([y_hat])}
    gw, gb = gc.grad(y_hat, [xs["w"], xs["b"]])
    nodes, _ = parse(viz.to_dot(y_hat, grads=[gw, gb]))
    grads = sorted(text(v["label"]) for v in variables(nodes).values() if "gradient" in v["class"])
    assert "dŷ/db" in grads and not any("x" in g or "w" in g for g in grads)


MARKUP_NAMES = ["<b>", 'say "hi"', "a\\", "p&q", "back\\nslash"]


def test_names_with_markup_characters_are_drawn_as_written() -> None:
    import html

    inputs = [gc.scalar(name) for name in MARKUP_NAMES]
    total = inputs[0]
    for v in inputs[1:]:
        total = total + v
    fn = gc.elementwise("g\\h", lambda t: t * 2)  # an operation name with a backslash, on an arrow
    out = fn(total)
    dot = viz.to_dot(out, collapse={out: "my\\op"}, title="a\\b")
    nodes, edges = parse(dot)
    shown = {html.unescape(text(v["label"])) for v in variables(nodes).values()}
    assert set(MARKUP_NAMES) <= shown
    ops, _ = parse(viz.to_dot(out, style="ops"))
    shown = {html.unescape(text(v["label"])).split("float")[0] for v in variables(ops).values()}
    assert set(MARKUP_NAMES) <= shown
    assert '"a\\\\"' not in dot and "my\\\\op" in dot  # backslashes doubled: DOT shows one, no \\n escape
    if shutil.which("dot"):
        import graphviz

        for source in (dot, viz.to_dot(fn(total)), viz.to_dot(out, style="ops")):
            svg = html.unescape(graphviz.Source(source).pipe(format="svg").decode())
            assert all(f">{name}</text>" in svg for name in MARKUP_NAMES)


def test_operation_name_is_written_on_the_arrow_from_the_deepest_input() -> None:
    nodes, edges = draw("fig_6_8d")
    (times,) = [(a, b) for a, b, attrs in edges if attrs.get("label", "").strip() == "×"]
    assert text(nodes[times[0]]["label"]) == "u⁽²⁾"  # not λ, a leaf dot may place far below u⁽³⁾
    for fig in ("fig_6_11", "fig_6_11_backward", "fig_6_10"):
        nodes, edges = draw(fig)
        leaves = {
            k for k, v in nodes.items() if re.search(r"\b(input|parameter|constant)\b", v.get("class", ""))
        }
        tails: dict[str, list[str]] = {}
        for a, b, _ in edges:
            tails.setdefault(b, []).append(a)
        for a, b, attrs in edges:
            if "label" in attrs and a in leaves:  # only where every input is a leaf (z = x·y)
                assert all(t in leaves for t in tails[b]), (fig, attrs["label"])


def test_to_networkx_nodes_edges_and_attributes() -> None:
    nx = pytest.importorskip("networkx")
    x, W = gc.matrix("x", ("n", 3)), gc.shared(np.ones((3, 2)), name="W")
    h, line = gc.tanh(x @ W), sys._getframe().f_lineno
    J = gc.sum(h * h)
    (gW,) = gc.grad(J, [W])
    step = gc.function([x], J, updates={W: W - 0.1 * gW})
    G = gc.to_networkx(J)
    assert G.nodes[x]["kind"] == "input" and G.nodes[W]["kind"] == "shared" and G.nodes[W]["name"] == "W"
    tanh = h.owner
    assert G.nodes[tanh]["op"] == "tanh" and G.nodes[tanh]["type"] == h.type
    assert G.nodes[tanh]["origin"] == f"{__file__}:{line}"
    assert G.edges[tanh, J.owner.inputs[0].owner]["positions"] == [0, 1]  # h * h reads h twice
    assert G.graph["outputs"] == [J.owner] and nx.has_path(G, x, J.owner)
    fused = gc.to_networkx(step, stage="fusion")
    assert "fused" in {op for _, op in fused.nodes(data="op")} and len(fused.graph["updates"]) == 1
    assert fused.graph["updates"][0][0] is W and nx.is_directed_acyclic_graph(fused)
    with pytest.raises(gc.GraphcError, match="stage= applies to a compiled Function"):
        gc.to_networkx(J, stage="fusion")
    with pytest.raises(gc.GraphcError, match="expected a Variable"):
        gc.to_networkx(42)
