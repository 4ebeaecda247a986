"""The README stays true: its API tour runs as written, and its error example is what graphc prints."""

from __future__ import annotations

import pathlib
import re
import shutil

import numpy as np
import pytest

import graphc as gc

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_api_tour_runs(tmp_path, monkeypatch) -> None:
    if shutil.which("dot") is None:
        pytest.skip("the tour renders SVG files: needs graphviz's dot")
    (code,) = re.findall(r"```python\n(.*?)```", _section("The API in five minutes"), re.S)
    namespace: dict = {}  # as pasted: the tour defines everything it uses
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["loss"].dtype == np.float32 and np.isfinite(namespace["loss"])
    ops = [node.op.value for node in gc.graph.toposort([namespace["J"]])]
    assert ops.count("mean") == 1  # no mean(mean(...)) in the drawings
    assert (tmp_path / "mlp.svg").stat().st_size > 0 and (tmp_path / "fused.svg").stat().st_size > 0
    # the tour's symbol-to-number line, on the same graph (W and b have moved by one SGD step since)
    (line,) = re.findall(r"`(print\(gc\.symbol_to_number\(.*?\)\))`", README.replace("\n", " "), re.S)
    exec(line.replace("print", "trace = ", 1), namespace)  # noqa: S102 - our own README
    g = namespace
    want = gc.function([g["x"], g["t"]], [g["gW"], g["gb"]])(g["X"], g["T"])
    np.testing.assert_allclose(g["trace"].grads[g["W"]], want[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g["trace"].grads[g["b"]], want[1], rtol=1e-4, atol=1e-6)


def test_the_loops_example_runs(tmp_path, monkeypatch) -> None:
    if shutil.which("dot") is None:
        pytest.skip("the example renders an SVG file: needs graphviz's dot")
    (code,) = re.findall(r"```python\n(.*?)```", _section("Loops and branches in the graph"), re.S)
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["dW"].shape == (32, 32) and (tmp_path / "rnn.svg").stat().st_size > 0
    assert sum(node.op.value == "scan" for node in gc.graph.toposort([namespace["J"]])) == 1


def test_the_recurrent_example_runs() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", _section("Recurrent layers and attention"), re.S)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    g = namespace
    assert np.isfinite(g["loss"]) and [a.shape for a in g["g"]] == [(64, 8), (64, 16), (64,), (64,)] * 2
    assert g["hs"].type.shape[2] == 32 and g["last"].type.shape[1] == 16


def test_the_shapes_example_is_what_graphc_does() -> None:
    section = _section("Shapes")
    assert len(re.findall(r"^\d\. ", section, re.M)) == 3  # the rule in three lines
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    *lines, shown = code.strip().splitlines()
    namespace = {"gc": gc, "np": np}
    with pytest.raises(gc.ShapeError) as info:
        exec(compile("\n".join(lines), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert shown.startswith("# ShapeError: ")
    assert str(info.value).startswith(shown.removeprefix("# ShapeError: "))
    assert str(namespace["f"].fgraph.outputs[0].type) == "float64(x.0, W.1)"


def test_the_error_example_is_what_graphc_prints() -> None:
    (shown,) = re.findall(r"```\n(ShapeError: .*?)\n  built at", _section("Errors"), re.S)
    x = gc.tensor("x", ("n", 784), "float32")
    b = gc.tensor("b", (10,), "float32")
    with pytest.raises(gc.ShapeError) as info:
        x + b  # noqa: B018 - the error is the point
    assert f"ShapeError: {info.value}".startswith(shown)
