"""gc.nn: units, losses, initialisers, dropout/noise, normalisation, RNN — forward values and gradients."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.special

import graphc as gc
from graphc.testing import check_grad

# (name, builder, NumPy reference); inputs are kept away from the kinks at 0
UNITS = [
    ("sigmoid", gc.nn.sigmoid, scipy.special.expit),
    ("tanh", gc.nn.tanh, np.tanh),
    ("relu", gc.nn.relu, lambda x: np.maximum(x, 0)),
    ("leaky", gc.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    ("leaky0.1", lambda x: gc.nn.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ("abs", gc.nn.abs_rectify, np.abs),
    ("elu", gc.nn.elu, lambda x: np.where(x >= 0, x, np.expm1(x))),
    ("elu2", lambda x: gc.nn.elu(x, 2.0), lambda x: np.where(x >= 0, x, 2 * np.expm1(x))),
    ("softplus", gc.nn.softplus, lambda x: np.log1p(np.exp(x))),
    ("hard_tanh", gc.nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    ("softsign", gc.nn.softsign, lambda x: x / (1 + np.abs(x))),
    ("softmax", gc.nn.softmax, lambda x: scipy.special.softmax(x, axis=-1)),
    ("log_softmax", gc.nn.log_softmax, lambda x: scipy.special.log_softmax(x, axis=-1)),
    ("maxout", lambda x: gc.nn.maxout(x, 3), lambda x: x.reshape(4, 2, 3).max(-1)),
]


def _away_from_kinks(rng, shape):
    x = rng.uniform(0.2, 2.5, shape) * rng.choice([-1, 1], shape)
    return x


@pytest.mark.parametrize("name, build, ref", UNITS, ids=[u[0] for u in UNITS])
def test_unit_forward(backend, rng, name, build, ref):
    xv = _away_from_kinks(rng, (4, 6))
    x = gc.matrix("x", ("n", 6))
    np.testing.assert_allclose(
        gc.function([x], build(x), backend=backend)(xv), ref(xv), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("name, build, ref", UNITS, ids=[u[0] for u in UNITS])
def test_unit_gradient(rng, name, build, ref):
    xv = _away_from_kinks(rng, (4, 6))
    if name == "maxout":
        xv = rng.permutation(24).reshape(4, 6) / 7.0  # distinct pieces: no ties
    check_grad(lambda x: gc.sum(build(x) * gc.tanh(build(x))), [xv])


def test_rectifier_subgradients_at_zero():
    x = gc.vector("x", 3)
    xs = np.zeros(3)
    for build, expected in [(gc.nn.relu, 0.0), (gc.nn.leaky_relu, 0.01), (gc.nn.abs_rectify, 0.0)]:
        g = gc.function([x], gc.grad(gc.sum(build(x)), x))(xs)
        np.testing.assert_array_equal(g, expected)


def test_softsign_derivative():
    x = gc.vector("x", 4)
    xv = np.array([-3.0, -0.5, 0.5, 2.0])
    g = gc.function([x], gc.grad(gc.sum(gc.nn.softsign(x)), x))(xv)
    np.testing.assert_allclose(g, 1 / (1 + np.abs(xv)) ** 2)


def test_elu_large_inputs_stay_finite():
    x = gc.vector("x", 2)
    f = gc.function([x], [gc.nn.elu(x), gc.grad(gc.sum(gc.nn.elu(x)), x)])
    y, g = f(np.array([800.0, -800.0]))
    np.testing.assert_allclose(y, [800.0, -1.0])
    np.testing.assert_allclose(g, [1.0, 0.0])


def test_prelu_learns_alpha(rng):
    xv = _away_from_kinks(rng, (5, 3))
    alpha = gc.shared(np.full(3, 0.25), name="alpha")
    x = gc.matrix("x", ("n", 3))
    check_grad((gc.sum(gc.nn.prelu(x, alpha) ** 2), [alpha]), {x: xv})
    check_grad(lambda v: gc.sum(gc.nn.prelu(v, alpha) ** 2), [xv])


def test_rbf_units(rng):
    xv, Wv, sv = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.uniform(0.5, 2, 5)
    x = gc.matrix("x", ("n", 3))
    out = gc.function([x], gc.nn.rbf(x, gc.constant(Wv), gc.constant(sv)))(xv)
    ref = np.exp(-(((xv[:, :, None] - Wv[None]) ** 2).sum(1)) / sv**2)
    np.testing.assert_allclose(out, ref)
    check_grad(lambda a, W, s: gc.sum(gc.nn.rbf(a, W, s)), [xv, Wv, sv])


def test_losses(backend, rng):
    z, yi, yf = gc.matrix("z", ("n", 5)), gc.vector("yi", dtype="int64"), gc.vector("yf")
    zv, labels = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    onehot = np.eye(5)[labels]
    t = gc.matrix("t", ("n", 5))
    f = gc.function(
        [z, yi, t, yf],
        [
            gc.nn.softmax_cross_entropy(z, yi),
            gc.nn.softmax_cross_entropy(z, t),
            gc.nn.cross_entropy(gc.nn.softmax(z), yi),
            gc.nn.binary_cross_entropy_with_logits(z[:, 0], yf),
            gc.nn.binary_cross_entropy(gc.nn.sigmoid(z[:, 0]), yf),
            gc.nn.mse(z[:, 0], yf),
            gc.nn.softmax_cross_entropy(z, yi, reduction="none"),
        ],
        backend=backend,
    )
    bits = (labels % 2).astype(np.float64)
    ce_i, ce_t, ce_p, bce_l, bce_p, mse, per = f(zv, labels, onehot, bits)
    ref = -(scipy.special.log_softmax(zv, axis=1) * onehot).sum(1)
    np.testing.assert_allclose([ce_i, ce_t, ce_p], ref.mean())
    np.testing.assert_allclose(per, ref)
    p = scipy.special.expit(zv[:, 0])
    ref_bce = -(bits * np.log(p) + (1 - bits) * np.log(1 - p)).mean()  # with the minus sign (erratum)
    np.testing.assert_allclose([bce_l, bce_p], ref_bce)
    np.testing.assert_allclose(mse, ((zv[:, 0] - bits) ** 2).mean())


LOSSES = [
    ("ce_labels", lambda z, t, y, b: gc.nn.softmax_cross_entropy(z, y)),
    ("ce_onehot", lambda z, t, y, b: gc.nn.softmax_cross_entropy(z, t)),
    ("ce_smoothed", lambda z, t, y, b: gc.nn.softmax_cross_entropy(z, gc.nn.label_smoothing(y, 5, 0.1))),
    ("ce_probs_sum", lambda z, t, y, b: gc.nn.cross_entropy(gc.nn.softmax(z), y, reduction="sum")),
    ("bce_logits", lambda z, t, y, b: gc.nn.binary_cross_entropy_with_logits(z[:, 1], b)),
    ("bce_probs", lambda z, t, y, b: gc.nn.binary_cross_entropy(gc.nn.sigmoid(z[:, 2]), b)),
    ("mse", lambda z, t, y, b: gc.nn.mse(z, t)),
    ("sse", lambda z, t, y, b: gc.nn.sum_squared_error(gc.nn.sigmoid(z), t)),
]


@pytest.mark.parametrize("name, build", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_gradients(rng, name, build):
    labels = rng.integers(0, 5, 6)
    z, t = gc.matrix("z", (6, 5)), gc.matrix("t", (6, 5))
    y, b = gc.vector("y", 6, dtype="int64"), gc.vector("b", 6)
    values = {z: rng.standard_normal((6, 5)), t: np.eye(5)[labels], y: labels, b: (labels % 2) * 1.0}
    cost = build(z, t, y, b)
    check_grad((cost, [z]), {v: values[v] for v in gc.graph.graph_inputs([cost]) if v in values})


def test_step_and_generalized_relu(backend):
    x = gc.vector("x")
    xv = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    step, absolute, leaky = gc.function(
        [x], [gc.nn.step(x), gc.nn.generalized_relu(x, -1.0), gc.nn.generalized_relu(x, 0.1)], backend=backend
    )(xv)
    np.testing.assert_array_equal(step, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(absolute, np.abs(xv))  # α = −1: absolute-value rectification
    np.testing.assert_allclose(leaky, np.where(xv > 0, xv, 0.1 * xv))


def test_softmax_jacobian():
    """∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ), the full Jacobian (never built by backprop, but derivable)."""
    z = gc.vector("z", 4)
    s = gc.nn.softmax(z)
    zv = np.array([0.3, -1.2, 2.0, 0.1])
    J, sv = gc.function([z], [gc.jacobian(s, z), s])(zv)
    np.testing.assert_allclose(J, np.diag(sv) - np.outer(sv, sv), atol=1e-15)


def test_norm_penalty_gradients():
    W, b = gc.shared(np.array([[1.5, -2.0], [0.0, 0.25]]), name="W"), gc.shared(np.ones(2), name="b")
    gl2, gl1 = gc.function(
        [], [gc.grad(gc.nn.l2_penalty([W]), W), gc.grad(gc.nn.l1_penalty([W]), W)]
    )()  # fmt: skip
    np.testing.assert_array_equal(gl2, W.get_value())  # ∇½‖w‖² = w
    np.testing.assert_array_equal(gl1, np.sign(W.get_value()))  # subgradient 0 at 0
    assert gc.function([], gc.nn.l2_penalty([W, b]))() == pytest.approx(0.5 * (6.3125 + 2))  # opt-in biases


def test_binary_cross_entropy_from_logits_is_stable():
    z, y = gc.vector("z"), gc.vector("y")
    J = gc.nn.binary_cross_entropy_with_logits(z, y, reduction="none")
    out, g = gc.function([z, y], [J, gc.grad(gc.sum(J), z)])(
        np.array([1000.0, -1000.0]), np.array([0.0, 0.0])
    )
    np.testing.assert_allclose(out, [1000.0, 0.0])
    np.testing.assert_allclose(g, [1.0, 0.0])


def test_initialisers(rng):
    W = gc.nn.init.uniform((400, 30), rng)
    assert np.abs(W).max() <= 1 / np.sqrt(400) and np.abs(W).max() > 0.9 / np.sqrt(400)
    G = gc.nn.init.glorot_uniform(100, 50, rng)
    bound = np.sqrt(6 / 150)
    assert np.abs(G).max() <= bound and np.abs(G).max() > 0.95 * bound
    Q = gc.nn.init.orthogonal((6, 4), rng, gain=2.0, dtype="float64")
    np.testing.assert_allclose(Q.T @ Q, 4 * np.eye(4), atol=1e-12)
    Q2 = gc.nn.init.orthogonal((3, 7), rng, dtype="float64")
    np.testing.assert_allclose(Q2 @ Q2.T, np.eye(3), atol=1e-12)
    S = gc.nn.init.sparse(20, 8, 3, rng)
    assert ((S != 0).sum(axis=0) == 3).all()
    assert gc.nn.init.normal((1000,), rng, std=0.5).std() == pytest.approx(0.5, rel=0.1)
    assert gc.nn.init.fans((8, 3, 5, 5)) == (75, 200)  # OIHW kernels: C·kh·kw in, O·kh·kw out
    K = gc.nn.init.uniform((8, 3, 5, 5), rng)
    assert np.abs(K).max() <= 1 / np.sqrt(75) and np.abs(K).max() > 0.95 / np.sqrt(75)
    assert gc.nn.init.zeros((3,)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(gc.InputError, match=r"sparse: k \(non-zeros per unit\) must be in 1..4 \(m\), got 5"):
        gc.nn.init.sparse(4, 2, 5, rng)


@pytest.mark.parametrize("init", ["glorot", "uniform", "orthogonal", "normal"])
def test_dense_initialisers_and_zero_bias(init):
    layer = gc.nn.Dense(40, 30, rng=np.random.default_rng(0), init=init, dtype="float32")
    W = layer.W.get_value()
    assert W.shape == (40, 30) and W.dtype == np.float32 and W.std() > 0
    assert not layer.b.get_value().any()
    bound = {"glorot": np.sqrt(6 / 70), "uniform": 1 / np.sqrt(40)}.get(init)
    if bound is not None:
        assert np.abs(W).max() <= bound
    if init == "orthogonal":
        np.testing.assert_allclose(W.T @ W, np.eye(30), atol=1e-5)


def test_a_float32_model_stays_float32():
    """Layers and initialisers make float32 parameters by default: nothing upcasts a float32 model."""
    rng = np.random.default_rng(0)
    x = gc.matrix("x", ("n", 4), dtype="float32")
    dense, bn, ln = gc.nn.Dense(4, 4, rng=rng), gc.nn.BatchNorm(4), gc.nn.LayerNorm(4)
    train = gc.nn.Mode(training=True)
    h = ln(bn(dense(x), train))
    hs, _ = gc.nn.SimpleRNN(4, 3, rng=rng)(gc.stack([h, h], axis=1))
    assert h.dtype == np.float32 and hs.dtype == np.float32
    params = dense.params + bn.params + ln.params + [bn.running_mean, bn.running_var]
    assert {p.dtype for p in params} == {np.dtype(np.float32)}
    for value in (gc.nn.init.uniform((3, 2), rng), gc.nn.init.glorot_uniform(3, 2, rng),
                  gc.nn.init.normal((3, 2), rng), gc.nn.init.orthogonal((3, 2), rng),
                  gc.nn.init.sparse(3, 2, 1, rng), gc.nn.init.zeros((2,))):  # fmt: skip
        assert value.dtype == np.float32
    step = gc.function([x], gc.sum(h), updates=train.updates)  # running statistics keep their dtype
    step(np.ones((2, 4), np.float32))
    assert gc.nn.Dense(4, 2, dtype="float64").W.dtype == np.float64


def test_dense_and_weights_only_penalties():
    layer = gc.nn.Dense(3, 2, rng=np.random.default_rng(1), name="d")
    layer.b.set_value(np.array([5.0, -5.0]))
    x = gc.matrix("x", ("n", 3))
    out = gc.function([x], [layer(x), gc.nn.l2_penalty(layer.weights), gc.nn.l1_penalty(layer.weights)])
    y, l2, l1 = out(np.ones((1, 3)))
    W = layer.W.get_value()
    np.testing.assert_allclose(y, np.ones((1, 3)) @ W + [5.0, -5.0])
    assert l2 == pytest.approx(0.5 * (W**2).sum()) and l1 == pytest.approx(np.abs(W).sum())  # no biases


def test_weight_decay_update_form():
    """With J + α·½‖w‖², SGD gives w ← (1 − εα)w − ε∇J."""
    w = gc.shared(np.array([1.0, -2.0]), name="w")
    x = gc.vector("x", 2)
    J = gc.sum(w * x)
    eps, alpha = 0.1, 0.5
    step = gc.function([x], J, updates=gc.optim.sgd(J + alpha * gc.nn.l2_penalty([w]), [w], lr=eps))
    step(np.array([3.0, 4.0]))
    np.testing.assert_allclose(
        w.get_value(), (1 - eps * alpha) * np.array([1.0, -2.0]) - eps * np.array([3.0, 4.0])
    )


def test_dropout_train_and_eval(backend):
    x = gc.matrix("x", ("n", 200))
    train, test = gc.nn.Mode(training=True, seed=3), gc.nn.Mode(training=False)
    f = gc.function([x], gc.nn.dropout(x, 0.8, train), updates=train.updates, backend=backend)
    g = gc.function([x], gc.nn.dropout(x, 0.8, test), backend=backend)
    ones = np.ones((50, 200))
    a, b = f(ones), f(ones)
    assert set(np.unique(a)) == {0.0, 1.25}  # inverted scaling: kept units × 1/keep
    assert (a > 0).mean() == pytest.approx(0.8, abs=0.02) and a.mean() == pytest.approx(1.0, abs=0.03)
    assert not np.array_equal(a, b)  # the counter advanced: a fresh mask
    np.testing.assert_array_equal(g(ones), ones)
    weight = gc.function([x], gc.nn.dropout(x, 0.5, test, scaling="weight"), backend=backend)
    np.testing.assert_array_equal(weight(ones), 0.5 * ones)
    train_w = gc.nn.Mode(training=True, seed=4)
    unscaled = gc.function([x], gc.nn.dropout(x, 0.5, train_w, scaling="weight"), updates=train_w.updates,
                           backend=backend)(ones)  # fmt: skip
    assert set(np.unique(unscaled)) == {0.0, 1.0}  # weight scaling: kept units unscaled in training


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_masks_are_the_same_on_every_backend(dtype):
    x = gc.matrix("x", ("n", 7), dtype=dtype)
    masks = []
    backends = ["interp", "numpy"] + (["llvm"] if importlib.util.find_spec("llvmlite") else [])
    for backend in backends:
        mode = gc.nn.Mode(training=True, seed=11)
        f = gc.function([x], gc.nn.dropout(x, 0.5, mode), updates=mode.updates, backend=backend)
        masks.append([f(np.ones((5, 7), dtype)) for _ in range(3)])
    for other in masks[1:]:
        for a, b in zip(masks[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_dropout_gradient_with_fixed_mask(rng):
    mask = rng.random((4, 5)) < 0.5
    xv = rng.standard_normal((4, 5))
    check_grad(lambda v: gc.sum(gc.tanh(gc.nn.dropout_with_mask(v, gc.constant(mask), 0.5)) ** 2), [xv])
    x = gc.matrix("x", (4, 5))
    g = gc.function([x], gc.grad(gc.sum(gc.nn.dropout_with_mask(x, gc.constant(mask), 0.5)), x))(xv)
    np.testing.assert_array_equal(g, mask / 0.5)


def test_gaussian_and_weight_noise():
    x = gc.matrix("x", ("n", 100))
    mode = gc.nn.Mode(training=True, seed=5)
    f = gc.function([x], gc.nn.gaussian_noise(x, 0.5, mode), updates=mode.updates)
    noise = f(np.zeros((100, 100)))
    assert noise.mean() == pytest.approx(0.0, abs=0.02) and noise.std() == pytest.approx(0.5, rel=0.03)
    W = gc.shared(np.zeros((50, 50)), name="W")
    noisy = gc.function([], gc.nn.weight_noise(W, 0.04, mode), updates=mode.updates)()
    assert noisy.std() == pytest.approx(0.2, rel=0.05)
    assert gc.nn.gaussian_noise(x, 0.5, gc.nn.Mode(training=False)) is x


def test_batch_norm_train_and_eval(backend, rng):
    bn = gc.nn.BatchNorm(3, momentum=0.5, name="bn")
    bn.gamma.set_value(np.array([1.0, 2.0, 3.0]))
    bn.beta.set_value(np.array([0.0, 1.0, -1.0]))
    train, test = gc.nn.Mode(training=True), gc.nn.Mode(training=False)
    x = gc.matrix("x", ("n", 3))
    f_train = gc.function([x], bn(x, train), updates=train.updates, backend=backend)
    f_test = gc.function([x], bn(x, test), backend=backend)
    xv = rng.standard_normal((8, 3)) * 4 + 2
    y = f_train(xv)
    mu, var = xv.mean(0), xv.var(0)  # 1/N
    np.testing.assert_allclose(y, (xv - mu) / np.sqrt(var + 1e-5) * [1, 2, 3] + [0, 1, -1])
    np.testing.assert_allclose(bn.running_mean.get_value(), 0.5 * mu)
    np.testing.assert_allclose(bn.running_var.get_value(), 0.5 + 0.5 * var)
    rm, rv = bn.running_mean.get_value(), bn.running_var.get_value()
    np.testing.assert_allclose(f_test(xv), (xv - rm) / np.sqrt(rv + 1e-5) * [1, 2, 3] + [0, 1, -1])
    check_grad((gc.sum(gc.tanh(bn(x, gc.nn.Mode(training=True)))), [bn.gamma, bn.beta]), {x: xv})
    check_grad(lambda v: gc.sum(gc.nn.batch_norm(v, 1.5, 0.2) ** 3), [xv])


def test_batch_norm_nchw_and_layer_norm(rng):
    bn = gc.nn.BatchNorm(2)
    x = gc.tensor("x", ("n", 2, 3, 3))
    xv = rng.standard_normal((4, 2, 3, 3))
    y = gc.function([x], bn(x, gc.nn.Mode()))(xv)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    ln = gc.nn.LayerNorm(5)
    h = gc.matrix("h", ("n", 5))
    hv = rng.standard_normal((3, 5))
    out = gc.function([h], ln(h))(hv)
    np.testing.assert_allclose(
        out, (hv - hv.mean(1, keepdims=True)) / np.sqrt(hv.var(1, keepdims=True) + 1e-5)
    )
    check_grad(lambda v: gc.sum(gc.nn.layer_norm(v, 2.0, 0.5) ** 3), [hv])


def test_rnn_forward_and_bptt_gradient(backend, rng):
    rnn = gc.nn.SimpleRNN(3, 4, rng=rng)
    xs = gc.tensor("xs", ("n", 5, 3))
    hs, last = rnn(xs)
    xv = rng.standard_normal((2, 5, 3))
    out, out_last = gc.function([xs], [hs, last], backend=backend)(xv)
    h = np.zeros((2, 4))
    Wx, Wh, b = (p.get_value() for p in rnn.params)
    for t in range(5):
        h = np.tanh(xv[:, t] @ Wx + h @ Wh + b)
        np.testing.assert_allclose(out[:, t], h)
    np.testing.assert_allclose(out_last, h)
    check_grad((gc.sum(last**2), rnn.params), {xs: xv}, backend=backend)


def test_rnn_exploding_gradients_are_clipped(rng):
    rnn = gc.nn.SimpleRNN(2, 6, rng=rng, gain=3.0)
    xs = gc.tensor("xs", ("n", 30, 2))
    hs, _ = rnn(xs)
    J = gc.sum(hs[:, 0, :] * 0) + gc.sum(hs[:, -1, :] ** 2)
    grads = gc.grad(J, rnn.params)
    clipped = gc.optim.clip_by_norm(grads, 1.0)
    f = gc.function([xs], [*grads, *clipped])
    out = f(rng.standard_normal((4, 30, 2)) * 0.01)
    raw_norm = np.sqrt(sum((g**2).sum() for g in out[:3]))
    clipped_norm = np.sqrt(sum((g**2).sum() for g in out[3:]))
    assert clipped_norm == pytest.approx(min(1.0, raw_norm), rel=1e-9)


def test_confusion_matrix_and_binary_metrics(backend):
    pred, true = gc.vector("pred", dtype="int64"), gc.vector("true", dtype="int64")
    cm = gc.nn.confusion_matrix(pred, true, 2)
    m = gc.nn.binary_metrics(cm)
    names = ["accuracy", "tpr", "tnr", "ppv", "npv"]
    f = gc.function([pred, true], [cm] + [m[k] for k in names], backend=backend)
    p = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 1])
    t = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 1])
    cmv, *values = f(p, t)
    tp, tn, fp, fn = 4, 3, 2, 1
    np.testing.assert_array_equal(cmv, [[tn, fp], [fn, tp]])
    np.testing.assert_allclose(
        values, [7 / 10, tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)]
    )
