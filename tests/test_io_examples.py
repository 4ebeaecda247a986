"""Every example's model, saved and loaded on every backend: training steps and predictions bit for bit (the
loaded step moves its own parameters exactly as the original moves its), and the book's figures draw the same
after a round trip."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import graphc as gc

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def example(name: str):
    spec = importlib.util.spec_from_file_location(f"io_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def xor(backend, rng):
    ex = example("xor")
    x, y = gc.matrix("x", ("n", 2)), gc.vector("y")
    params = W, c, w, b = [
        gc.shared(rng.uniform(-1, 1, s), name=n) for n, s in zip("Wcwb", [(2, 2), 2, 2, ()], strict=True)
    ]
    J = gc.nn.mse(ex.xor_net(x, W, c, w, b), y)
    step = gc.function([x, y], J, updates=gc.optim.adam(J, params, lr=0.05), backend=backend)
    return {"step": step, "predict": gc.function([x], ex.xor_net(x, W, c, w, b), backend=backend)}, (
        ex.X,
        ex.Y,
    )


def classifier(x, y, J, logits, params, backend):
    step = gc.function([x, y], J, updates=gc.optim.adam(J, params, lr=0.003), backend=backend)
    return {"step": step, "predict": gc.function([x], gc.argmax(logits, axis=1), backend=backend)}


def mlp_digits(backend, rng):
    x, y, J, logits, params, _ = example("mlp_digits").mlp(0)
    batch = (rng.random((6, 64)).astype(np.float32), rng.integers(0, 10, 6))
    return classifier(x, y, J, logits, params, backend), batch


def cnn_digits(backend, rng):
    x, y, J, logits, params = example("cnn_digits").cnn(np.random.default_rng(0))
    batch = (rng.random((5, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 5))
    return classifier(x, y, J, logits, params, backend), batch


def rnn_sequence(backend, rng):
    ex = example("rnn_sequence")
    step, evaluate = ex.build(5, 4, 1.0, np.random.default_rng(0), 1.0, backend)
    return {"step": step, "evaluate": evaluate}, ex.adding_problem(6, 5, rng)


def regularization(backend, rng):
    """Dropout: the loaded step draws the same masks from its own copy of the random counter."""
    ex = example("regularization")
    layers = [
        gc.nn.Dense(64, 16, rng=rng, dtype="float32", name="l0"),
        gc.nn.Dense(16, 10, rng=rng, name="l1"),
    ]
    x, y = gc.matrix("x", ("n", 64), dtype="float32"), gc.vector("y", dtype="int64")
    mode = gc.nn.Mode(training=True, seed=1)
    J = gc.nn.softmax_cross_entropy(ex.model(x, layers, mode, dropout=True), y) + 1e-3 * gc.nn.l2_penalty(
        [layer.W for layer in layers]
    )
    params = [p for layer in layers for p in layer.params]
    step = gc.function([x, y], J, updates={**gc.optim.adam(J, params), **mode.updates}, backend=backend)
    return {"step": step}, (rng.random((6, 64)).astype(np.float32), rng.integers(0, 10, 6))


def quickstart(backend, rng):
    q = example("quickstart")
    updates = {q.w: q.w - q.learning_rate * q.gw, q.b: q.b - q.learning_rate * q.gb}
    step = gc.function([q.x, q.t], q.loss, updates=updates, backend=backend)
    return {"step": step, "predict": gc.function([q.x], q.p > 0.5, backend=backend)}, (q.X, q.T)


def results(r) -> list:
    return list(r) if isinstance(r, tuple) else [r]


MODELS = [xor, mlp_digits, cnn_digits, rnn_sequence, regularization, quickstart]


@pytest.mark.parametrize("build", MODELS, ids=[m.__name__ for m in MODELS])
def test_an_example_model_round_trips(build, backend, tmp_path) -> None:
    functions, batch = build(backend, np.random.default_rng(0))
    loaded = gc.load(gc.save(tmp_path / "model.gcz", functions))
    assert set(loaded) == set(functions)
    for _ in range(2):  # the steps move each side's own shared variables
        for name, f in functions.items():
            args = batch if len(f.fgraph.inputs) == len(batch) else batch[:1]
            want, got = f(*args), loaded[name](*args)
            for a, b in zip(results(got), results(want), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=name)
    shared = {id(v): v for f in loaded.values() for v in f.fgraph.shared}
    original = {id(v): v for f in functions.values() for v in f.fgraph.shared}
    assert len(shared) == len(original)  # shared between the loaded functions as between the originals
    for a, b in zip(shared.values(), original.values(), strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_the_book_figures_draw_the_same_after_a_round_trip(tmp_path) -> None:
    figures = example("book_figures").FIGURES
    for name, build in figures.items():
        graph, options = build()
        loaded = gc.load(gc.save(tmp_path / f"{name}.gcz", graph))
        if isinstance(graph, gc.Function):
            assert gc.viz.to_dot(loaded, **options) == gc.viz.to_dot(graph, **options), name
        else:
            outputs = graph if isinstance(graph, list) else [graph]
            assert gc.viz.to_dot(loaded.outputs) == gc.viz.to_dot(outputs), name
