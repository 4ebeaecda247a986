"""The examples run with their --quick settings and reach what they claim (in-process: no interpreter
start-up)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str) -> dict:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with threadpool_limits(1):
        return module.main(["--quick", *args])


def test_xor():
    out = run_example("xor")
    np.testing.assert_array_equal(out["hand"], [0, 1, 1, 0])
    assert out["linear_mse"] == pytest.approx(0.25)
    np.testing.assert_allclose(out["learned"], [0, 1, 1, 0], atol=0.02)


def test_mlp_digits_and_every_optimiser():
    out = run_example("mlp_digits")
    assert out["accuracy"] >= 0.95
    expected = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "cg (FR)", "cg (PR)"]
    assert list(out["table"]) == expected  # every optimiser of gc.optim but Newton (for small problems)
    for name, row in out["table"].items():
        assert row["accuracy"] >= 0.95, name
        assert np.isfinite(row["loss"]) and row["loss"] < 0.2, name


def test_cnn_digits():
    assert run_example("cnn_digits")["accuracy"] >= 0.97


def test_rnn_sequence():
    out = run_example("rnn_sequence")
    assert out["test_mse"] < 0.3 * out["baseline"]
    assert out["norms"][3.0] > 3 * out["norms"][1.0]  # a large recurrent gain explodes the gradient
    assert all(np.isfinite(out["clipped_losses"]))


def test_lstm_sequence():
    backend = "llvm" if importlib.util.find_spec("llvmlite") is not None else "numpy"
    accuracy = run_example("lstm_sequence", "--backend", backend)["accuracy"]  # ~10 s
    assert accuracy["lstm"] >= 0.9 and accuracy["rnn"] < 0.65


def test_seq2seq_attention(tmp_path):
    backend = "llvm" if importlib.util.find_spec("llvmlite") is not None else "numpy"
    plot = tmp_path / "attention.png"
    out = run_example("seq2seq_attention", "--backend", backend, "--plot", str(plot))  # ~15 s
    assert out["token_accuracy"] >= 0.95
    steps = out["weights"].shape[0]
    reversed_steps = np.arange(steps)[::-1]  # output t should look at input T-1-t
    assert out["weights"][np.arange(steps), :, reversed_steps].mean() > 3 / steps  # uniform would be 1/T
    assert (out["weights"].argmax(axis=2) == reversed_steps[:, None]).mean() > 0.5
    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_text_classifier():
    out = run_example("text_classifier")
    assert out["accuracy"] >= 0.9  # chance is 0.25: the embedding learned which ids mark each topic
    assert out["loss"][-1] < 0.2 * out["loss"][0]


def test_regularization(tmp_path):
    pytest.importorskip("matplotlib")
    curves = tmp_path / "curves.png"
    results = run_example("regularization", "--epochs", "100", "--plot", str(curves))["results"]  # ~5 s
    assert curves.read_bytes()[:4] == b"\x89PNG"
    early = results["early stopping"]["history"]
    assert early.best_epoch is not None and early.stopped_epoch is not None
    assert min(early.val) == pytest.approx(results["early stopping"]["val_loss"], rel=1e-5)  # θ* restored
    assert results["none"]["train_acc"] == 1.0  # the unregularised network overfits
    none_val = results["none"]["val_loss"]
    assert min(results["none"]["history"].val) < 0.9 * none_val  # its validation loss rose again
    for name in ("weight decay", "dropout", "early stopping"):
        assert results[name]["val_loss"] < 0.9 * none_val, name
    for r in results.values():
        assert r["test_acc"] > 0.85


@pytest.mark.skipif(importlib.util.find_spec("llvmlite") is None, reason="llvm backend unavailable")
def test_on_llvm():
    out = run_example("xor", "--backend", "llvm")
    np.testing.assert_array_equal(out["hand"], [0, 1, 1, 0])
    assert run_example("mlp_digits", "--backend", "llvm", "--no-table")["accuracy"] >= 0.95
    assert run_example("cnn_digits", "--backend", "llvm")["accuracy"] >= 0.97
    out = run_example("rnn_sequence", "--backend", "llvm")
    assert out["test_mse"] < 0.3 * out["baseline"]
    assert run_example("text_classifier", "--backend", "llvm")["accuracy"] >= 0.9


@pytest.mark.parametrize("name", ["xor", "rnn_sequence"])
def test_on_the_interpreter(name):
    """The reference interpreter runs the examples too (the small ones: it is the slow backend)."""
    out = run_example(name, "--backend", "interp")
    if name == "xor":
        np.testing.assert_array_equal(out["hand"], [0, 1, 1, 0])
    else:
        assert out["test_mse"] < 0.3 * out["baseline"]
