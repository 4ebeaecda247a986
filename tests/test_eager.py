"""gc.symbol_to_number: numeric backprop (Alg. 6.2) step by step, equal to gc.grad's symbolic result."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc


def _mlp(rng):
    """Fig. 6.11 with biases: broadcasting, relu, softmax cross-entropy, and W used twice (weight decay)."""
    x = gc.tensor("X", ("n", 4))
    y = gc.tensor("y", ("n",), "int64")
    w1 = gc.shared(rng.normal(size=(4, 5)), name="W1")
    b1 = gc.shared(rng.normal(size=5), name="b1")
    w2 = gc.shared(rng.normal(size=(5, 3)), name="W2")
    logits = gc.relu(x @ w1 + b1) @ w2
    cost = gc.nn.softmax_cross_entropy(logits, y).mean() + 0.01 * ((w1**2).sum() + (w2**2).sum())
    return x, y, [w1, b1, w2], cost


def test_equals_the_compiled_symbol_to_symbol_gradient(rng, backend) -> None:
    x, y, params, cost = _mlp(rng)
    data = {x: rng.normal(size=(6, 4)), y: rng.integers(0, 3, 6)}
    trace = gc.symbol_to_number(cost, params, data)
    want = gc.function([x, y], gc.grad(cost, params), backend=backend)(*data.values())
    for p, g in zip(params, want, strict=True):
        np.testing.assert_allclose(trace.grads[p], g, rtol=1e-10, atol=1e-12)
    assert float(trace.values[cost]) == pytest.approx(float(gc.evaluate(cost, data)))


def test_fan_out_contributions_are_summed_step_by_step(rng) -> None:
    """Fig. 6.8 (d): w feeds both the prediction and the penalty, so grad_table[w] gets two contributions."""
    x, w = gc.vector("x"), gc.vector("w")
    cost = (gc.dot(x, w) - 1.0) ** 2 + 0.1 * (w * w).sum()
    xv, wv = rng.normal(size=3), rng.normal(size=3)
    trace = gc.symbol_to_number(cost, w, {x: xv, w: wv})
    into_w = [s for s in trace.steps if s.target is w]
    assert len(into_w) == 3  # dot, and both factors of w * w
    np.testing.assert_allclose(into_w[-1].total, sum(s.contribution for s in into_w))
    np.testing.assert_allclose(trace.grads[w], 2 * (xv @ wv - 1) * xv + 0.2 * wv, rtol=1e-12)


def test_the_printout_reads_like_the_algorithms() -> None:
    w = gc.vector("w")
    cost = gc.sum(gc.tanh(w) ** 2)
    text = str(gc.symbol_to_number(cost, [w], {w: np.array([0.5, -1.0])}))
    lines = text.splitlines()
    assert lines[0] == "forward (Alg. 6.1):"
    assert lines[1].startswith("  u⁽¹⁾ = tanh(w) = [ 0.462117, -0.761594]")
    assert "backward (Alg. 6.2)" in lines[4] and lines[5] == "  grad_table[u⁽³⁾] = 1"
    assert lines[-1].startswith("  grad_table[w] += tanh's VJP of grad_table[u⁽¹⁾] = [ 0.726862, -0.6397")


def test_only_values_on_a_path_from_wrt_get_entries(rng) -> None:
    a, b = gc.vector("a"), gc.vector("b")
    cost = (gc.exp(a) * gc.stop_gradient(b)).sum() + (b * b).sum()
    trace = gc.symbol_to_number(cost, [a], {a: np.zeros(2), b: np.ones(2)})
    assert b not in trace.table and a in trace.table
    np.testing.assert_allclose(trace.grads[a], np.ones(2))


def test_bad_input_is_a_clear_error() -> None:
    x = gc.tensor("x", ("n",))
    y = gc.tensor("y", ("n",))
    cost = (x * y).sum()
    with pytest.raises(gc.InputError, match="no value given for the input y"):
        gc.symbol_to_number(cost, x, {x: np.ones(3)})
    with pytest.raises(gc.ShapeError, match="dimension 0 should be 3"):
        gc.symbol_to_number(cost, x, {x: np.ones(3), y: np.ones(4)})
    with pytest.raises(gc.GraphcError, match="float scalar"):
        gc.symbol_to_number(x * y, x, {x: np.ones(3), y: np.ones(3)})
    with pytest.raises(gc.DTypeError, match="complex128"):
        gc.symbol_to_number(cost, x, {x: np.ones(3, complex), y: np.ones(3)})
