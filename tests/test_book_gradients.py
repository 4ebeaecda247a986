"""Gradients of the book's examples (Goodfellow et al., §6.5, figs. 6.8-6.11) and the course's worked numbers,
against closed forms and a hand-written NumPy backprop (Alg. 6.4), on every backend, passes off and on."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.graph import toposort
from graphc.ops import Op
from graphc.testing import check_grad

OPTIMIZE = ["none", "fast"]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_8a_product(backend, optimize) -> None:
    x, y = gc.scalar("x"), gc.scalar("y")
    gx, gy = gc.grad(x * y, [x, y])
    out = gc.function([x, y], [gx, gy], backend=backend, optimize=optimize)(3.0, -2.0)
    np.testing.assert_allclose(out, [-2.0, 3.0])


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_8b_logistic_regression(backend, optimize, rng) -> None:
    """ŷ = σ(xᵀw + b) with u⁽¹⁾ = dot, u⁽²⁾ = +; the cross-entropy gradient is (ŷ - y)·x."""
    x, y = gc.tensor("X", ("n", 3)), gc.vector("y", "n")
    w, b = gc.vector("w", 3), gc.scalar("b")
    u1 = gc.dot(x, w)
    y_hat = gc.sigmoid(u1 + b)
    cost = -gc.mean(y * gc.log(y_hat) + (1.0 - y) * gc.log(1.0 - y_hat))
    gw, gb = gc.grad(cost, [w, b])
    xv, yv = rng.normal(size=(5, 3)), (rng.random(5) < 0.5).astype(float)
    wv, bv = rng.normal(size=3), 0.3
    out = gc.function([x, y, w, b], [gw, gb], backend=backend, optimize=optimize)(xv, yv, wv, bv)
    p = sigmoid(xv @ wv + bv)
    np.testing.assert_allclose(out[0], xv.T @ (p - yv) / 5, rtol=1e-12)
    np.testing.assert_allclose(out[1], np.mean(p - yv), rtol=1e-12)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_8c_relu_layer(backend, optimize, rng) -> None:
    """H = max{0, XW + b}; for J = Σ H ⊙ R: G = R ⊙ [U > 0], ∇W = XᵀG, ∇b = Σᵢ Gᵢ."""
    x, w, b = gc.tensor("X", (6, 4)), gc.tensor("W", (4, 3)), gc.vector("b", 3)
    r = rng.normal(size=(6, 3))
    h = gc.relu(x @ w + b)
    gw, gb = gc.grad(gc.sum(h * gc.constant(r)), [w, b])
    xv, wv, bv = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    out = gc.function([x, w, b], [gw, gb], backend=backend, optimize=optimize)(xv, wv, bv)
    g = r * (xv @ wv + bv > 0)
    np.testing.assert_allclose(out[0], xv.T @ g, rtol=1e-12)
    np.testing.assert_allclose(out[1], g.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_8d_linear_regression_with_weight_decay(backend, optimize, rng) -> None:
    """ŷ = Xw and the penalty λΣw²: w is used twice, and its two contributions are summed."""
    x, y, w = gc.tensor("X", ("n", 3)), gc.vector("y", "n"), gc.vector("w", 3)
    lam = 0.1
    cost = gc.mean((x @ w - y) ** 2) + lam * gc.sum(w**2)
    gw = gc.grad(cost, w)
    adds = [n for n in toposort([gw]) if n.op is Op.ADD]
    assert adds, "the two paths from w must meet in a sum"
    xv, yv, wv = rng.normal(size=(7, 3)), rng.normal(size=7), rng.normal(size=3)
    out = gc.function([x, y, w], gw, backend=backend, optimize=optimize)(xv, yv, wv)
    np.testing.assert_allclose(out, 2 * xv.T @ (xv @ wv - yv) / 7 + 2 * lam * wv, rtol=1e-12)


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_9_chain_reuses_forward_values(backend, optimize) -> None:
    """z = f(f(f(w))): dz/dw = f′(y) f′(x) f′(w) with x = f(w), y = f(x) stored, not recomputed."""
    w = gc.scalar("w")
    x = gc.tanh(w)
    y = gc.tanh(x)
    z = gc.tanh(y)
    gw = gc.grad(z, w)
    graph = toposort([z, gw])
    assert [n for n in graph if n.op is Op.TANH] == [x.owner, y.owner, z.owner]  # each f once
    backward = [n for n in graph if n not in (x.owner, y.owner, z.owner)]
    assert len(backward) <= 3 * 3  # f′ = 1 - out², times the incoming gradient: three nodes per f
    used = {id(v) for n in backward for v in n.inputs}
    assert {id(x), id(y), id(z)} <= used  # the backward pass reads the stored forward values
    f = gc.function([w], [z, gw], backend=backend, optimize=optimize)
    tanh_count = sum(1 for n in f.optimized.nodes if n.op is Op.TANH) + sum(
        1 for n in f.optimized.nodes if n.op is Op.FUSED for i in n.params["kernel"].instrs if i.op is Op.TANH
    )
    assert tanh_count == 3  # still once each after the passes
    wv = 0.7
    a = np.tanh(wv)
    b = np.tanh(a)
    np.testing.assert_allclose(f(wv)[1], (1 - np.tanh(b) ** 2) * (1 - b**2) * (1 - a**2), rtol=1e-14)


def test_fig_6_10_the_derivative_graph_is_differentiated_again(backend) -> None:
    w = gc.scalar("w")
    z = gc.exp(gc.exp(gc.exp(w)))
    d1 = gc.grad(z, w)
    d2 = gc.grad(d1, w)
    h = 1e-5
    f = gc.function([w], [d1, d2], backend=backend)
    np.testing.assert_allclose(f(0.1)[1], (f(0.1 + h)[0] - f(0.1 - h)[0]) / (2 * h), rtol=1e-7)


def _mlp_numpy(xv, labels, w1, w2, lam):
    """Alg. 6.3/6.4 by hand: forward, then g ← ∇ŷJ; g ← g ⊙ f′(a); ∇W = hᵀg + 2λW; g ← g Wᵀ."""
    n = len(xv)
    u1 = xv @ w1
    h = np.maximum(u1, 0)
    u2 = h @ w2
    s = np.exp(u2 - u2.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    t = np.eye(w2.shape[1])[labels]
    cost = -np.mean(np.sum(t * np.log(s), axis=1)) + lam * (np.sum(w1**2) + np.sum(w2**2))
    g = (s - t) / n  # softmax + cross-entropy: s - t
    gw2 = h.T @ g + 2 * lam * w2
    g = g @ w2.T
    g = g * (u1 > 0)  # relu′, 0 at 0
    gw1 = xv.T @ g + 2 * lam * w1
    return cost, gw1, gw2


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_fig_6_11_mlp_matches_hand_written_backprop(backend, optimize, rng) -> None:
    """U⁽¹⁾ = XW⁽¹⁾, H = relu(U⁽¹⁾), U⁽²⁾ = HW⁽²⁾, J = cross_entropy(U⁽²⁾, y) + λ(ΣW⁽¹⁾² + ΣW⁽²⁾²)."""
    x, labels = gc.tensor("X", ("n", 5)), gc.vector("y", "n", "int64")
    w1, w2 = gc.tensor("W1", (5, 4)), gc.tensor("W2", (4, 3))
    lam = 1e-2
    u1 = gc.matmul(x, w1)
    h = gc.relu(u1)
    u2 = gc.matmul(h, w2)
    j_mle = -gc.mean(gc.sum(gc.one_hot(labels, 3) * gc.log_softmax(u2), axis=1))
    cost = j_mle + lam * (gc.sum(gc.square(w1)) + gc.sum(gc.square(w2)))
    g1, g2 = gc.grad(cost, [w1, w2])
    xv, yv = rng.normal(size=(8, 5)), rng.integers(0, 3, 8)
    w1v, w2v = rng.normal(size=(5, 4)), rng.normal(size=(4, 3))
    out = gc.function([x, labels, w1, w2], [cost, g1, g2], backend=backend, optimize=optimize)(
        xv, yv, w1v, w2v
    )
    for got, want in zip(out, _mlp_numpy(xv, yv, w1v, w2v, lam), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    check_grad(
        (cost, [w1, w2]),
        {x: xv, labels: yv, w1: w1v, w2: w2v},
        backend=backend,
        optimize=optimize,
        max_entries=0,
    )


def test_course_two_two_two_sigmoid_network(backend) -> None:
    """The classic step-by-step example: E = Σ½(t - o)², η = 0.5, biases fixed; W's row i: unit i's inputs."""
    w1 = gc.shared(np.array([[0.15, 0.20], [0.25, 0.30]]), name="W1")
    w2 = gc.shared(np.array([[0.40, 0.45], [0.50, 0.55]]), name="W2")
    x, t = gc.vector("x", 2), gc.vector("t", 2)
    h = gc.sigmoid(w1 @ x + 0.35)
    o = gc.sigmoid(w2 @ h + 0.60)
    error = gc.sum(0.5 * (t - o) ** 2)
    g1, g2 = gc.grad(error, [w1, w2])
    step = gc.function([x, t], [error, g2], updates={w1: w1 - 0.5 * g1, w2: w2 - 0.5 * g2}, backend=backend)
    e, grad_w2 = step(np.array([0.05, 0.10]), np.array([0.01, 0.99]))
    np.testing.assert_allclose(e, 0.298371109, rtol=1e-9)
    np.testing.assert_allclose(grad_w2[0, 0], 0.082167041, rtol=1e-8)  # ∂E/∂w5
    np.testing.assert_allclose(
        w2.get_value(), [[0.35891648, 0.40866619], [0.51130127, 0.56137012]], atol=5e-9
    )
    np.testing.assert_allclose(
        w1.get_value(), [[0.14978072, 0.19956143], [0.24975114, 0.29950229]], atol=5e-9
    )
