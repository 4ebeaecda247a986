"""gc.viz: draw any graph as the book does (figs. 6.8–6.11) or op by op, forward and backward, at any stage of
a compiled function. Owns the drawing API; knows the core and reads a Function through its public attributes,
never imports graphc.passes or graphc.codegen.

    >>> import graphc as gc
    >>> x, w = gc.vector("x", 3), gc.vector("w", 3)
    >>> y_hat = gc.sigmoid(gc.dot(x, w) + gc.scalar("b")); y_hat.name = "y_hat"
    >>> print(gc.viz.to_dot(y_hat).count("->"))    # x, w -> u⁽¹⁾ (dot); u⁽¹⁾, b -> u⁽²⁾ (+); u⁽²⁾ -> ŷ (σ)
    5
    >>> svg = gc.viz.to_svg(y_hat)                   # gc.viz.render(y_hat, path="fig_6_8b.svg") writes it

FORMATS lists the file formats render() writes besides DOT source: svg, png, pdf.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import graphviz

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Variable

from .draw import emit
from .scene import build_scene
from .svg import portable

__all__ = ["to_dot", "to_svg", "render", "stage_graph", "FORMATS"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)


FORMATS = ("svg", "png", "pdf")
INSTALL_HINT = (
    "drawing to a file needs graphviz's `dot` program, which is not installed: install Debian's graphviz "
    "package (`apt-get install graphviz`; on macOS `brew install graphviz`). gc.viz.to_dot works without it"
)


def to_dot(
    graph,
    grads=None,
    style: str = "book",
    stage=None,
    collapse=None,
    max_depth: int | None = None,
    max_nodes: int | None = 2000,
    title: str | None = None,
    legend: bool | None = None,
    dpi: int | None = None,
    unroll: int | None = None,
) -> str:
    """DOT source for `graph`: a Variable, a list of them, a FunctionGraph, or a compiled Function.

    grads: gradient Variables to draw with the forward graph, coloured as the backward graph (fig. 6.10):
      {wrt: gradient} / [(wrt, gradient)] say whose gradient each is — named ∇_W J, or dz/dw for scalars; a
      gradient given alone (a list) is named so only when exactly one input or parameter of the forward graph
      has its type and dtype (otherwise it is drawn as a gradient named u⁽ⁱ⁾, never after a guessed variable).
      For a Function, its update values count as backward.
    style: "book" (values as circles named x, W⁽¹⁾, u⁽¹⁾, ŷ, J; operations written on the arrows) or "ops"
      (operations as boxes, values with dtype and shape, like PyTensor's pydotprint).
    stage: for a Function: None/"input" (as given), "optimized"/"final", or a pass name ("fusion",
      "after fusion", "cse", ...) from f.stages, or its index; fused kernels are drawn as clusters.
    collapse: "backward" (the whole backward graph as one box), or {value: "label"}: the subgraph that makes
      value alone (one call of a composite such as gc.nn.softmax_cross_entropy) drawn as one operation.
    max_depth: draw only the operations within this many levels of the outputs (the rest is elided).
    max_nodes: refuse (with advice) to draw more operations than this; None draws anything.
    unroll: a scan is drawn folded (fig. 10.2 left: its body once, a black square on the edge that feeds the
      new carry back); unroll=k draws its first k steps instead (fig. 10.2 right, 10.3).

    >>> x = gc.vector("x")
    >>> print(gc.viz.to_dot(gc.tanh(x)).splitlines()[0])
    digraph graphc {
    """
    if style not in ("book", "ops"):
        raise GraphcError(f"gc.viz: style must be 'book' or 'ops', not {style!r}")
    outputs, pairs, updates, aliases = _resolve(graph, grads, stage)
    scene = build_scene(outputs, pairs, updates, collapse, max_depth, max_nodes, aliases, unroll)
    return emit(scene, style, title=title, legend=legend, dpi=dpi)


def render(graph, path: str | Path, **options) -> Path:
    """Draw `graph` (anything to_dot takes, with the same options) into `path`: .svg, .png or .pdf by its
    extension (.dot/.gv writes the DOT source). Needs graphviz's `dot` program (except for .dot/.gv).

    >>> import tempfile, pathlib
    >>> x = gc.vector("x")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = gc.viz.render(gc.tanh(x), pathlib.Path(folder) / "tanh.svg")
    ...     path.read_text().count("<svg")
    1
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt in ("dot", "gv"):
        path.write_text(to_dot(graph, **options), encoding="utf-8")
        return path
    if fmt not in FORMATS:
        raise GraphcError(
            f"gc.viz.render: cannot tell the format from {path.name!r}; use .svg, .png, .pdf or .dot"
        )
    if fmt == "png":
        options.setdefault("dpi", 110)
    if fmt == "svg":
        path.write_text(to_svg(graph, **options), encoding="utf-8")
    else:
        path.write_bytes(_pipe(to_dot(graph, **options), fmt, "gc.viz.render"))
    return path


def to_svg(graph, **options) -> str:
    """The drawing as SVG text (anything to_dot takes, with the same options), made to read the same in a
    browser as in graphviz (graphc.viz.svg). Needs graphviz's `dot` program.

    >>> x = gc.vector("x")
    >>> "<svg" in gc.viz.to_svg(gc.tanh(x))
    True
    """
    return portable(_pipe(to_dot(graph, **options), "svg", "gc.viz.to_svg").decode("utf-8"))


def _pipe(source: str, fmt: str, what: str) -> bytes:
    if _dot_binary() is None:
        raise GraphcError(f"{what}: {INSTALL_HINT}")
    try:
        return graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise GraphcError(f"{what}: {INSTALL_HINT}") from exc
    except graphviz.CalledProcessError as exc:
        raise GraphcError(f"{what}: dot failed on the drawing: {exc.stderr!r}") from exc


def _dot_binary() -> str | None:
    return shutil.which("dot")


# --- what to draw -------------------------------------------------------------------------------------------
def _resolve(graph, grads, stage):
    """(outputs, [(wrt or None, gradient)], updates, {id(value): name}) for whatever the user handed us."""
    if isinstance(graph, Variable):
        if stage is not None:
            raise GraphcError(
                "gc.viz: stage= applies to a compiled Function (gc.function), not to a Variable"
            )
        return [graph], _grad_pairs(grads), [], {}
    if isinstance(graph, FunctionGraph):
        return list(graph.outputs), _grad_pairs(grads), list(graph.updates), {}
    if hasattr(graph, "fgraph") and hasattr(graph, "optimized"):
        return _function_stage(graph, grads, stage)
    if isinstance(graph, Sequence) and not isinstance(graph, str):
        items = list(graph)
        if items and all(isinstance(v, Variable) for v in items):
            if stage is not None:
                raise GraphcError("gc.viz: stage= applies to a compiled Function (gc.function)")
            return items, _grad_pairs(grads), [], {}
    raise GraphcError(
        f"gc.viz: cannot draw {type(graph).__name__}; give a Variable, a list of them, or a Function"
    )


def _grad_pairs(grads) -> list[tuple[Variable | None, Variable]]:
    if grads is None:
        return []
    if isinstance(grads, Variable):
        return [(None, grads)]
    items = list(grads.items()) if isinstance(grads, Mapping) else list(grads)
    pairs: list[tuple[Variable | None, Variable]] = []
    for item in items:
        if isinstance(item, Variable):
            pairs.append((None, item))
        elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, Variable) for v in item):
            pairs.append(item)
        else:
            raise GraphcError(f"gc.viz: grads holds Variables or (wrt, gradient) pairs, not {item!r}")
    return pairs


def stage_graph(function, stage=None) -> FunctionGraph:
    """The graph of a compiled Function at `stage` (see to_dot), looked up in f.stages by pass name.

    >>> x = gc.vector("x")
    >>> f = gc.function([x], (gc.tanh(x) * 2).sum())
    >>> [node.op.value for node in gc.viz.stage_graph(f, "fusion").nodes]
    ['fused']
    """
    if stage is None or stage in ("input", "given", "as given", "original"):
        return function.fgraph
    if stage in ("optimized", "optimised", "final", "output"):
        return function.optimized
    stages = list(getattr(function, "stages", None) or [("input", function.fgraph)])
    if isinstance(stage, int):
        if not -len(stages) <= stage < len(stages):
            raise GraphcError(f"gc.viz: stage {stage} is out of range: the function has {len(stages)} stages")
        return stages[stage][1]
    want = _stage_key(str(stage))
    for name, fg in stages:
        if _stage_key(name) == want:
            return fg
    close = [(name, fg) for name, fg in stages if _stage_key(name).startswith(want)]
    if len(close) == 1:
        return close[0][1]
    names = ", ".join(repr(name) for name, _ in stages)
    raise GraphcError(f"gc.viz: no stage {stage!r}; this function's stages are {names}, 'optimized'")


def _stage_key(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    for prefix in ("after_", "before_"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _function_stage(function, grads, stage):
    """The Function's graph at `stage`. Gradients given as the user's Variables are found among the compiled
    function's outputs by position, so they stay marked (and outputs keep their names) in every stage; update
    values count as backward."""
    fg = stage_graph(function, stage)
    given_roots = function.fgraph.roots
    pairs = []
    for wrt, g in _grad_pairs(grads):
        k = next((k for k, r in enumerate(given_roots) if r is g), None)
        if k is None:
            raise GraphcError(f"gc.viz: the gradient {g!r} is not an output of the function")
        pairs.append((wrt, fg.roots[k]))
    # Passes rebuild nodes, and a rebuilt value has no name: the k-th output keeps the name the user gave it.
    aliases = {id(new): old.name for old, new in zip(given_roots, fg.roots, strict=True) if old.name}
    return list(fg.outputs), pairs, list(fg.updates), aliases
