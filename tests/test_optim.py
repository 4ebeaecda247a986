"""Each optimiser against a hand-written NumPy version of the book's pseudocode, for several steps."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.special

import graphc as gc

RNG = np.random.default_rng(42)
A = RNG.standard_normal((12, 4))
Y = (RNG.random(12) < 0.5).astype(np.float64)
W0 = RNG.standard_normal(4) * 0.5
STEPS = 6


def cost_graph(w):
    """Logistic regression plus 0.05‖w‖² (non-quadratic: the gradient changes every step)."""
    z = gc.constant(A) @ w
    return gc.sum(gc.softplus(z) - gc.constant(Y) * z) + 0.05 * gc.sum(w * w)


def np_grad(w):
    return A.T @ (scipy.special.expit(A @ w) - Y) + 0.1 * w


def run_graphc(make_updates, backend="numpy", steps=STEPS):
    w = gc.shared(W0.copy(), name="w")
    J = cost_graph(w)
    step = gc.function([], J, updates=make_updates(J, w), backend=backend)
    trajectory = []
    for _ in range(steps):
        step()
        trajectory.append(w.get_value())
    return np.array(trajectory)


def book_sgd(lr, lr_end=None, tau=None):
    w, out = W0.copy(), []
    for k in range(STEPS):
        eps = lr if tau is None else ((1 - k / tau) * lr + (k / tau) * lr_end if k <= tau else lr_end)
        w = w - eps * np_grad(w)
        out.append(w)
    return np.array(out)


def book_momentum(lr, alpha, nesterov=False):
    w, v, out = W0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = np_grad(w + alpha * v) if nesterov else np_grad(w)  # Alg. 8.3: interim point θ + αv
        v = alpha * v - lr * g
        w = w + v
        out.append(w)
    return np.array(out)


def book_adagrad(lr, delta=1e-7):
    w, r, out = W0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = np_grad(w)
        r = r + g * g
        w = w - lr / (delta + np.sqrt(r)) * g
        out.append(w)
    return np.array(out)


def book_rmsprop(lr, rho, delta=1e-6):
    w, r, out = W0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = np_grad(w)
        r = rho * r + (1 - rho) * g * g
        w = w - lr / (delta + np.sqrt(r)) * g
        out.append(w)
    return np.array(out)


def book_adam(lr=0.001, rho1=0.9, rho2=0.999, delta=1e-8):
    w, s, r, out = W0.copy(), np.zeros(4), np.zeros(4), []
    for t in range(1, STEPS + 1):
        g = np_grad(w)
        s = rho1 * s + (1 - rho1) * g
        r = rho2 * r + (1 - rho2) * g * g
        w = w - lr * (s / (1 - rho1**t)) / (delta + np.sqrt(r / (1 - rho2**t)))
        out.append(w)
    return np.array(out)


CASES = [
    ("sgd", lambda J, w: gc.optim.sgd(J, [w], lr=0.1), book_sgd(0.1)),
    ("sgd_decay", lambda J, w: gc.optim.sgd(J, [w], lr=0.2, lr_end=0.02, tau=3), book_sgd(0.2, 0.02, 3)),
    ("momentum", lambda J, w: gc.optim.momentum(J, [w], lr=0.05, alpha=0.9), book_momentum(0.05, 0.9)),
    ("nesterov", lambda J, w: gc.optim.nesterov(J, [w], lr=0.05, alpha=0.9), book_momentum(0.05, 0.9, True)),
    ("adagrad", lambda J, w: gc.optim.adagrad(J, [w], lr=0.1), book_adagrad(0.1)),
    ("rmsprop", lambda J, w: gc.optim.rmsprop(J, [w], lr=0.01, rho=0.9), book_rmsprop(0.01, 0.9)),
    ("adam", lambda J, w: gc.optim.adam(J, [w]), book_adam()),
    ("adam_lr", lambda J, w: gc.optim.adam(J, [w], lr=0.05, rho1=0.8, rho2=0.99), book_adam(0.05, 0.8, 0.99)),
]


@pytest.mark.parametrize("name, make, expected", CASES, ids=[c[0] for c in CASES])
def test_matches_book_pseudocode(backend, name, make, expected):
    np.testing.assert_allclose(run_graphc(make, backend), expected, rtol=1e-10, atol=1e-12)


def test_nesterov_differs_from_momentum():
    assert not np.allclose(book_momentum(0.05, 0.9), book_momentum(0.05, 0.9, True))


def test_clipping_by_norm_and_value():
    def by_norm(J, w):
        return gc.optim.sgd(gc.optim.clip_by_norm(gc.grad(J, [w]), 0.5), [w], lr=0.1)

    def by_value(J, w):
        return gc.optim.sgd(gc.optim.clip_by_value(gc.grad(J, [w]), 0.3), [w], lr=0.1)

    w1, w2, expect1, expect2 = W0.copy(), W0.copy(), [], []
    for _ in range(STEPS):
        g = np_grad(w1)
        norm = np.linalg.norm(g)
        w1 = w1 - 0.1 * (g * 0.5 / norm if norm > 0.5 else g)
        expect1.append(w1)
        w2 = w2 - 0.1 * np.clip(np_grad(w2), -0.3, 0.3)
        expect2.append(w2)
    np.testing.assert_allclose(run_graphc(by_norm), expect1, rtol=1e-10)
    np.testing.assert_allclose(run_graphc(by_value), expect2, rtol=1e-10)


def test_float32_parameters_stay_float32():
    w = gc.shared(W0.astype(np.float32), name="w")
    J = gc.sum(gc.softplus(gc.constant(A.astype(np.float32)) @ w))
    for make in (gc.optim.sgd, gc.optim.momentum, gc.optim.adagrad, gc.optim.rmsprop, gc.optim.adam):
        updates = make(J, [w])
        assert updates[w].type.dtype == np.float32, make.__name__
    updates = gc.optim.sgd(J, [w], lr=0.1, lr_end=0.01, tau=10)
    assert updates[w].type.dtype == np.float32


def test_newton_solves_a_quadratic_in_one_step():
    Q = RNG.standard_normal((4, 4))
    H = Q @ Q.T + np.eye(4)
    b = RNG.standard_normal(4)
    w = gc.shared(np.zeros(4), name="w")
    J = 0.5 * gc.sum(w * (gc.constant(H) @ w)) - gc.sum(gc.constant(b) * w)
    gc.optim.Newton(J, [w]).step()
    np.testing.assert_allclose(w.get_value(), np.linalg.solve(H, b), rtol=1e-10)
    w.set_value(np.ones(4))
    gc.optim.Newton(J, [w], damping=0.5).step()
    g = H @ np.ones(4) - b
    np.testing.assert_allclose(
        w.get_value(), np.ones(4) - np.linalg.solve(H + 0.5 * np.eye(4), g), rtol=1e-10
    )


def test_newton_on_logistic_regression_matches_numpy():
    w = gc.shared(W0.copy(), name="w")
    newton = gc.optim.Newton(cost_graph(w), [w])
    v = W0.copy()
    for _ in range(3):
        newton.step()
        p = scipy.special.expit(A @ v)
        H = A.T @ (A * (p * (1 - p))[:, None]) + 0.1 * np.eye(4)
        v = v - np.linalg.solve(H, np_grad(v))
        np.testing.assert_allclose(w.get_value(), v, rtol=1e-9)


@pytest.mark.parametrize("beta", ["fletcher-reeves", "polak-ribiere"])
def test_conjugate_gradient_against_numpy(beta):
    """On a quadratic with exact line search both β give the linear CG: exact in n steps."""
    Q = RNG.standard_normal((5, 5))
    H = Q @ Q.T + 0.5 * np.eye(5)
    b = RNG.standard_normal(5)
    w = gc.shared(np.zeros(5), name="w")
    J = 0.5 * gc.sum(w * (gc.constant(H) @ w)) - gc.sum(gc.constant(b) * w)
    cg = gc.optim.ConjugateGradient(J, [w], beta=beta)
    theta, rho, g_prev = np.zeros(5), None, None
    for _ in range(3):  # the book's Alg. 8.9 with the closed-form line search of a quadratic
        g = H @ theta - b
        if g_prev is None:
            rho = -g
        else:
            beta_k = (g @ g if beta == "fletcher-reeves" else (g - g_prev) @ g) / (g_prev @ g_prev)
            rho = -g + beta_k * rho
        theta = theta + (-(g @ rho) / (rho @ H @ rho)) * rho
        g_prev = g
        cg.step()
        np.testing.assert_allclose(w.get_value(), theta, rtol=1e-5, atol=1e-7)
    for _ in range(2):
        cg.step()
    np.testing.assert_allclose(w.get_value(), np.linalg.solve(H, b), rtol=1e-5)


def np_cost(w):
    z = A @ w
    return float(np.sum(np.logaddexp(0, z) - Y * z) + 0.05 * w @ w)


@pytest.mark.parametrize("beta", ["fletcher-reeves", "polak-ribiere"])
def test_conjugate_gradient_beta_on_a_non_quadratic(beta):
    """Off a quadratic, FR and PR differ (g ⟂ g_prev no longer holds): Alg. 8.9 by hand, fixed-ε line
    search so both sides take the same steps; the line search is handed ε ↦ J(θ + ερ)."""
    w = gc.shared(W0.copy(), name="w")
    seen = []

    def line_search(along):
        seen.append((along(0.0), along(0.03)))
        return 0.03

    cg = gc.optim.ConjugateGradient(cost_graph(w), [w], beta=beta, line_search=line_search)
    theta, rho, g_prev = W0.copy(), None, None
    for _ in range(STEPS):
        g = np_grad(theta)
        if g_prev is None:
            rho = -g  # β₁ = 0
        elif beta == "fletcher-reeves":
            rho = -g + (g @ g) / (g_prev @ g_prev) * rho
        else:
            rho = -g + ((g - g_prev) @ g) / (g_prev @ g_prev) * rho
        np.testing.assert_allclose(cg.step(), np_cost(theta), rtol=1e-12)
        np.testing.assert_allclose(seen[-1], [np_cost(theta), np_cost(theta + 0.03 * rho)], rtol=1e-12)
        theta, g_prev = theta + 0.03 * rho, g
        np.testing.assert_allclose(w.get_value(), theta, rtol=1e-10, atol=1e-12)


def test_fletcher_reeves_and_polak_ribiere_differ():
    paths = {}
    for beta in ("fletcher-reeves", "polak-ribiere"):
        w = gc.shared(W0.copy(), name="w")
        cg = gc.optim.ConjugateGradient(cost_graph(w), [w], beta=beta, line_search=lambda along: 0.03)
        paths[beta] = [(cg.step(), w.get_value())[1] for _ in range(4)]
    np.testing.assert_allclose(paths["fletcher-reeves"][0], paths["polak-ribiere"][0])  # β₁ = 0 for both
    assert not np.allclose(paths["fletcher-reeves"][-1], paths["polak-ribiere"][-1], rtol=1e-6)


def test_train_history_and_early_stopping_restores_best():
    """Alg. 7.1: a validation curve that improves then worsens; θ* from the best epoch is restored."""
    w = gc.shared(np.zeros(1), name="w")
    step = gc.function([], w[0], updates={w: w + 1})  # θ after epoch e is e + 1
    curve = iter([5.0, 3.0, 2.0, 2.5, 2.4, 2.6, 9.0, 9.0])
    stopper = gc.training.EarlyStopping([w], patience=3)
    history = gc.train(
        step, [()], epochs=8, validate=lambda: next(curve), early_stopping=stopper, progress=False
    )
    assert history.loss == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # the loss each step returned (before its update)
    assert history.val == [5.0, 3.0, 2.0, 2.5, 2.4, 2.6]
    assert history.best_epoch == 2 and history.stopped_epoch == 5
    assert w.get_value()[0] == 3.0  # the parameters right after epoch 2


def test_early_stopping_every_n_epochs():
    """Alg. 7.1 with n = 2: only every second epoch is an evaluation; patience counts evaluations."""
    w = gc.shared(np.zeros(1), name="w")
    step = gc.function([], w[0], updates={w: w + 1})
    curve = iter([5.0, 4.0, 3.0, 2.5, 2.0, 2.7, 1.0, 2.9, 3.0, 3.1])
    stopper = gc.training.EarlyStopping([w], patience=2, every=2)
    history = gc.train(
        step, [()], epochs=10, validate=lambda: next(curve), early_stopping=stopper, progress=False
    )
    # evaluated after epochs 1, 3, 5, 7 (4.0, 2.5, 2.7, 2.9): 2.0 and 1.0 fall between evaluations
    assert history.best_epoch == 3 and history.stopped_epoch == 7 and len(history.val) == 8
    assert w.get_value()[0] == 4.0


def test_history_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # an import of it now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(gc.GraphcError, match="History.plot needs matplotlib, which is not installed: pip"):
        gc.training.History(loss=[1.0]).plot()


def _fit(epochs: int, **options):
    w = gc.shared(np.zeros(4), name="w")
    x, y = gc.matrix("x", ("n", 4)), gc.vector("y")
    J = gc.nn.mse(x @ w, y)
    step = gc.function([x, y], J, updates=gc.optim.sgd(J, [w], lr=0.1))
    X = RNG.standard_normal((40, 4))
    Y = X @ np.array([1.0, -1.0, 0.5, 2.0])
    batches = gc.training.minibatches(X, Y, batch_size=8, rng=np.random.default_rng(0))
    return gc.train(step, batches, epochs=epochs, desc="fit", **options)


def test_train_logs_plain_lines_when_not_on_a_terminal(capsys):
    history = _fit(30)  # pytest captures stdout: not a terminal, as in a log file or CI
    assert len(history.loss) == 30 and history.loss[-1] < 1e-3 * history.loss[0]
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 30 and "\r" not in out and not err
    assert lines[0].startswith("fit epoch 1/30: loss ") and lines[-1].startswith("fit epoch 30/30: loss ")
    _fit(250, validate=lambda: 1.0, early_stopping=gc.training.EarlyStopping([], patience=3))
    lines = capsys.readouterr().out.splitlines()  # every 3rd of 250 epochs; the last one; why it stopped
    assert [line.split(":")[0] for line in lines] == ["fit epoch 3/250", "fit epoch 4/250", "fit"]
    assert lines[1].endswith("val 1.0000") and lines[2] == "fit: stopped early; best epoch 1, restored"


def test_train_shows_a_bar_on_a_terminal_and_in_jupyter(monkeypatch, capsys):
    from tqdm import notebook, std

    from graphc import notebook as display

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = display.progress_display(True, 30, "fit")
    assert type(shown.bar) is std.tqdm
    shown.close()
    _fit(5)
    assert "fit" in capsys.readouterr().err  # tqdm's bar, on stderr
    monkeypatch.setattr(display, "in_notebook", lambda: True)
    pytest.importorskip("ipywidgets")
    shown = display.progress_display(True, 30, "fit")
    assert type(shown.bar) is notebook.tqdm
    shown.close()
    assert type(display.progress_display(False, 30, "fit")) is display._Silent


def test_retraining_variants_of_early_stopping():
    w = gc.shared(np.zeros(1), name="w")
    step = gc.function([], w[0], updates={w: w + 1})
    stopped = gc.training.History(loss=[0.0] * 6, val=[3.0] * 6, best_epoch=2, stopped_epoch=5)
    w.set_value(np.array([10.0]))
    again = gc.training.retrain_for_best_steps(lambda: w.set_value(np.zeros(1)), step, [()], stopped)
    assert len(again.loss) == 3 and w.get_value()[0] == 3.0  # Alg. 7.2: i* + 1 = 3 epochs from the start
    more = gc.training.continue_until(step, [()], validate=lambda: 10.0 - w.get_value()[0], target=4.0)
    assert more.val[-1] <= 4.0 and w.get_value()[0] == 6.0  # Alg. 7.3: until validation ≤ the target


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    history = gc.training.History(loss=[3.0, 2.0, 1.5], val=[3.5, 2.5, 2.7], best_epoch=1)
    path = tmp_path / "curves.png"
    fig = history.plot(str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    (ax,) = fig.axes
    curves = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert curves["training loss"] == history.loss and curves["validation"] == history.val
    best = next(line for line in ax.get_lines() if line.get_label() == "best (restored)")
    assert list(best.get_xdata()) == [1, 1]
    assert gc.training.History(loss=[1.0, 0.5]).plot(ax=ax, label="run 2") is fig  # compare runs on one ax
    assert {line.get_label() for line in ax.get_lines()} >= {"run 2 training loss", "training loss"}
