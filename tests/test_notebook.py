"""graphc in Jupyter: graphs, compiled functions and reports show as drawings and tables (bounded, never
raising); the course notebook in docs/ runs from top to bottom."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc import notebook

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


def _model():
    x, W = gc.matrix("x", ("n", 3)), gc.shared(np.ones((3, 2)), name="W")
    J = gc.nn.mse(gc.tanh(x @ W), 0.0)
    (gW,) = gc.grad(J, [W])
    return x, J, gc.function([x], J, updates={W: W - 0.1 * gW})


@needs_dot
def test_graphs_and_functions_show_as_svg() -> None:
    x, J, step = _model()
    for obj in (J, step.fgraph, step):
        bundle = obj._repr_mimebundle_()
        assert bundle["text/plain"] == repr(obj)
        svg = bundle["image/svg+xml"]
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
        assert 'font-family="DejaVu Serif, serif"' in svg  # the portable form (graphc.viz.svg)
    assert "tanh" in J._repr_mimebundle_()["image/svg+xml"]


def test_text_only_without_dot_or_when_drawing_fails(monkeypatch) -> None:
    _, J, step = _model()
    monkeypatch.setattr(notebook.shutil, "which", lambda name: None)
    assert J._repr_mimebundle_() == {"text/plain": repr(J)}
    monkeypatch.setattr(notebook.shutil, "which", lambda name: "/usr/bin/dot")

    def broken(*args, **kwargs):
        raise RuntimeError("dot crashed")

    monkeypatch.setattr(gc.viz, "to_svg", broken)
    assert step._repr_mimebundle_() == {"text/plain": repr(step)}  # a repr never raises


@needs_dot
def test_a_huge_graph_is_drawn_bounded() -> None:
    y = gc.vector("x")
    for _ in range(2000):
        y = gc.tanh(y) * 0.5
    svg = y._repr_mimebundle_()["image/svg+xml"]
    assert svg.count('class="node') <= 2 * notebook.DEPTHS[0] + 2  # the top levels only, the rest elided
    assert "dashed" in svg or "stroke-dasharray" in svg


def test_report_is_text_and_an_html_table() -> None:
    _, _, step = _model()
    report = step.report()
    assert isinstance(report, str) and report.splitlines()[0].startswith("canonicalize")
    table = report._repr_html_()
    assert table.startswith("<table>") and table.count("<tr>") == 1 + len(step.reports)
    assert "<td>fusion</td>" in table


@needs_dot
def test_the_course_notebook_runs(tmp_path, monkeypatch) -> None:
    """docs/course.ipynb from top to bottom in a real kernel of this interpreter: its asserts check the
    course's worked numbers; drawings, report table, progress bars and training curves are displayed."""
    for module in ("nbclient", "nbformat", "ipykernel", "sklearn", "matplotlib"):
        pytest.importorskip(module)
    import nbclient
    import nbformat

    kernel = tmp_path / "jupyter" / "kernels" / "graphc-test"
    kernel.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernel / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python", "display_name": "t"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook_path = Path(__file__).resolve().parents[1] / "docs" / "course.ipynb"
    nb = nbformat.read(notebook_path, as_version=4)
    nbclient.NotebookClient(
        nb, kernel_name="graphc-test", timeout=180, resources={"metadata": {"path": tmp_path}}
    ).execute()
    shown = [
        kind
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        for kind in out.get("data", {})
    ]
    assert shown.count("image/svg+xml") >= 4  # E, its backward graph, the MLP, the fused step
    assert "text/html" in shown and shown.count("image/png") == 2  # the pass report; two training curves
