"""The worked numbers of COURSE.md, computed by graphc graphs on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

IMAGE = np.array(
    [
        [35, 40, 41, 45, 50],
        [40, 40, 42, 46, 52],
        [42, 46, 50, 55, 55],
        [48, 52, 56, 58, 60],
        [56, 60, 65, 70, 75],
    ],
    dtype=np.float64,
)
KERNEL = np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=np.float64)
POOL = np.array([[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], dtype=np.float64)


def test_convolution_worked_example(backend):
    x, w = gc.tensor("x", ("n", 1, 5, 5)), gc.tensor("w", (1, 1, 3, 3))
    f = gc.function(
        [x, w],
        [gc.nn.conv2d(x, w), gc.nn.conv2d(x, w, flip=True), gc.nn.conv2d(x, w, padding="same")],
        backend=backend,
    )
    cross, true_conv, same = f(IMAGE[None, None], KERNEL[None, None])
    np.testing.assert_array_equal(cross[0, 0], [[40, 41, 45], [40, 42, 46], [46, 50, 55]])
    np.testing.assert_array_equal(true_conv[0, 0], [[46, 50, 55], [52, 56, 58], [60, 65, 70]])
    assert same[0, 0, 2, 2] == 42  # the kernel centred on the pixel 50 picks the pixel above it
    assert cross[0, 0, 1, 1] == 42 and true_conv[0, 0, 1, 1] != 42  # 42 separates the two conventions


def test_pooling_worked_examples(backend):
    x = gc.tensor("x", ("n", 1, 4, 4))
    f = gc.function(
        [x],
        [gc.nn.max_pool2d(x, 2), gc.nn.avg_pool2d(x, 2), gc.nn.max_pool2d(x, 2, stride=1)],
        backend=backend,
    )
    mx, avg, overlap = f(POOL[None, None])
    np.testing.assert_array_equal(mx[0, 0], [[12, 9], [18, 7]])
    np.testing.assert_array_equal(avg[0, 0], [[9.25, 7.25], [12.25, 4.5]])
    np.testing.assert_array_equal(overlap[0, 0], [[12, 12, 9], [18, 13, 9], [18, 15, 7]])


def test_edge_detector_shape():
    x, w = gc.tensor("x", (1, 1, 280, 320)), gc.tensor("w", (1, 1, 1, 2))
    y = gc.nn.conv2d(x, w)
    assert y.type.shape == (1, 1, 280, 319)
    img = np.random.default_rng(0).standard_normal((1, 1, 280, 320))
    out = gc.function([x, w], y)(img, np.array([[[[-1.0, 1.0]]]]))
    np.testing.assert_allclose(out, img[..., 1:] - img[..., :-1])


def test_matrix_product(backend):
    a, b = gc.matrix("a", (3, 3)), gc.matrix("b", (3, 3))
    out = gc.function([a, b], a @ b, backend=backend)(
        np.array([[2.0, 5, 2], [1, 0, -2], [3, 1, 1]]), np.array([[-2.0, 1, 0], [-2, 2, 1], [0, 0, 3]])
    )
    np.testing.assert_array_equal(out, [[-14, 12, 11], [-2, 1, -6], [-8, 5, 4]])  # erratum: not 14 at (0, 0)


def test_xor_hand_solution_and_best_linear_model(backend):
    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    x = gc.matrix("x", ("n", 2))
    W, c = gc.constant(np.ones((2, 2))), gc.constant(np.array([0.0, -1.0]))
    w, b = gc.constant(np.array([1.0, -2.0])), 0.0
    xor = gc.function([x], gc.nn.relu(x @ W + c) @ w + b, backend=backend)(X)
    np.testing.assert_array_equal(xor, [0, 1, 1, 0])
    y = gc.vector("y")
    linear = gc.nn.mse(x @ gc.constant(np.zeros(2)) + 0.5, y)
    assert gc.function([x, y], linear, backend=backend)(X, np.array([0.0, 1, 1, 0])) == pytest.approx(0.25)


def test_step_by_step_backprop_example(backend):
    """The classic 2-2-2 sigmoid net: E, ∂E/∂w5 and both weight matrices after one step, to 8 digits."""
    W1 = gc.shared(np.array([[0.15, 0.20], [0.25, 0.30]]), name="W1")  # row i = inputs of unit i
    W2 = gc.shared(np.array([[0.40, 0.45], [0.50, 0.55]]), name="W2")
    x, t = gc.vector("x", 2), gc.vector("t", 2)
    h = gc.nn.sigmoid(W1 @ x + 0.35)
    o = gc.nn.sigmoid(W2 @ h + 0.60)
    E = gc.nn.sum_squared_error(o, t)
    g1, g2 = gc.grad(E, [W1, W2])
    step = gc.function([x, t], [E, g2], updates={W1: W1 - 0.5 * g1, W2: W2 - 0.5 * g2}, backend=backend)
    err, grad2 = step(np.array([0.05, 0.10]), np.array([0.01, 0.99]))
    assert round(float(err), 9) == 0.298371109
    assert round(float(grad2[0, 0]), 9) == 0.082167041
    np.testing.assert_allclose(
        W2.get_value(), [[0.35891648, 0.40866619], [0.51130127, 0.56137012]], atol=5e-9
    )
    np.testing.assert_allclose(
        W1.get_value(), [[0.14978072, 0.19956143], [0.24975114, 0.29950229]], atol=5e-9
    )


def test_label_smoothing_numbers(backend):
    y = gc.vector("y", dtype="int64")
    soft = gc.function([y], gc.nn.label_smoothing(y, k=10, eps=0.1), backend=backend)(np.array([3]))
    assert soft[0, 3] == pytest.approx(0.9)
    np.testing.assert_allclose(np.delete(soft[0], 3), 0.1 / 9)
    assert soft[0, 0] == pytest.approx(0.0111111, abs=1e-7)
    assert soft.sum() == pytest.approx(1.0)


def test_adam_first_step_moves_about_epsilon(backend):
    w = gc.shared(np.array([1.0, -3.0, 10.0]), name="w")
    x = gc.vector("x", 3)
    J = gc.sum(w * x)  # constant gradient x
    step = gc.function([x], J, updates=gc.optim.adam(J, [w]), backend=backend)
    step(np.array([0.5, -20.0, 1e-3]))
    np.testing.assert_allclose(w.get_value() - [1.0, -3.0, 10.0], [-0.001, 0.001, -0.001], rtol=1e-4)


def test_momentum_terminal_velocity():
    w = gc.shared(np.zeros(1), name="w")
    x = gc.vector("x", 1)
    J = gc.sum(w * x)
    updates = gc.optim.momentum(J, [w], lr=0.1, alpha=0.9)
    (v,) = [k for k in updates if k is not w]
    step = gc.function([x], J, updates=updates)
    for _ in range(300):
        step(np.array([2.0]))
    assert v.get_value()[0] == pytest.approx(-0.1 * 2.0 / (1 - 0.9))  # εg/(1−α)


def test_similarity_dot_products(backend):
    X = gc.vector("X", 3)
    M = gc.constant(np.array([[0.3, 0.3, 0.3], [0.6, 0.2, 0.6], [-0.5, -0.3, -0.7]]))
    np.testing.assert_allclose(
        gc.function([X], M @ X, backend=backend)(np.array([0.5, 0.3, 0.7])), [0.45, 0.78, -0.83]
    )


def test_softmax_cross_entropy_gradient_is_s_minus_t():
    z, y = gc.matrix("z", (1, 4)), gc.vector("y", 1, dtype="int64")
    J = gc.nn.softmax_cross_entropy(z, y, reduction="sum")
    f = gc.function([z, y], [gc.grad(J, z), gc.nn.softmax(z)])
    zv = np.array([[0.2, -1.0, 3.0, 0.5]])
    g, s = f(zv, np.array([2]))
    np.testing.assert_allclose(g, s - np.eye(4)[[2]])
