"""The stabilising rules (graphc.passes.stabilize): finite results and gradients at logits of ±1000 on every
backend, accuracy near zero, and no rewrite of a lookalike."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from pass_helpers import fired_in

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.passes.stabilize import stabilize

LOGITS = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, 1000.0]])


def _log_softmax64(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _softplus64(z):
    return np.logaddexp(0.0, z)


def _by_hand(z):
    e = gc.exp(z)
    return gc.log(e / e.sum(axis=-1, keepdims=True))


STABLE = [
    ("local_log_softmax", lambda z: gc.log(gc.softmax(z)), _log_softmax64),
    ("local_softmax_by_hand", _by_hand, _log_softmax64),
    ("local_log_sigmoid", lambda z: gc.log(gc.sigmoid(z)), lambda z: -_softplus64(-z)),
    ("local_one_minus_sigmoid", lambda z: gc.log(1.0 - gc.sigmoid(z)), lambda z: -_softplus64(z)),
    (
        "local_log_sum_exp",
        lambda z: gc.log(gc.sum(gc.exp(z), axis=1)),
        lambda z: np.logaddexp.reduce(z, axis=1),
    ),
    ("local_log1p_exp", lambda z: gc.log(1.0 + gc.exp(z)), _softplus64),
    ("local_log1p_minus_sigmoid", lambda z: gc.log1p(-gc.sigmoid(z)), lambda z: -_softplus64(z)),
]


@pytest.mark.parametrize("rule, build, ref", STABLE, ids=[s[0] for s in STABLE])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_stable_at_plus_minus_1000(rule, build, ref, dtype, backend):
    z = gc.tensor("z", (2, 3), dtype=dtype)
    out = build(z)
    f = gc.function([z], out, backend=backend)
    assert rule in fired_in(f), f.report()
    got = f(LOGITS.astype(dtype))
    assert got.dtype == np.dtype(dtype) and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref(LOGITS), rtol=1e-6 if dtype == "float32" else 1e-12)
    with np.errstate(all="ignore"):
        plain = gc.function([z], out, backend=backend, optimize="none")(LOGITS.astype(dtype))
    assert not np.all(np.isfinite(plain))  # the unoptimised form really does overflow


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_stable_at_plus_minus_1000(dtype, backend):
    """The gradients of log(softmax) cross-entropy and of log(sigmoid), as gc.grad writes them, divide by an
    underflowed softmax/sigmoid; stabilize cancels the division: softmax - y and 1 - sigmoid, finite."""
    z = gc.tensor("z", (2, 3), dtype=dtype)
    y = gc.tensor("y", (2, 3), dtype=dtype)
    (g_ce,) = gc.grad(-gc.sum(y * gc.log(gc.softmax(z))), [z])
    (g_ls,) = gc.grad(gc.sum(gc.log(gc.sigmoid(z))), [z])
    f = gc.function([z, y], [g_ce, g_ls], backend=backend)
    assert {"local_softmax_grad_cancel", "local_mul_div_cancel"} <= set(fired_in(f))
    labels = np.eye(3)[[1, 0]]
    got_ce, got_ls = f(LOGITS.astype(dtype), labels.astype(dtype))
    softmax = np.exp(_log_softmax64(LOGITS))
    np.testing.assert_allclose(got_ce, softmax * labels.sum(axis=1, keepdims=True) - labels, atol=1e-6)
    np.testing.assert_allclose(got_ls, 1.0 - scipy.special.expit(LOGITS), atol=1e-6)
    with np.errstate(all="ignore"):
        plain = gc.function([z, y], [g_ce, g_ls], backend=backend, optimize="none")
        assert not any(np.all(np.isfinite(p)) for p in plain(LOGITS.astype(dtype), labels.astype(dtype)))


def test_division_cancels_only_for_positive_ops():
    x = gc.vector("x")
    assert stabilize(FunctionGraph([x], [(2.0 / x) * x]))[1] == {}  # x may be 0: 2/0*0 is NaN, keep it
    assert stabilize(FunctionGraph([x], [(2.0 / gc.exp(x)) * gc.exp(x)]))[1] == {}  # two exp nodes: not one s
    e = gc.exp(x)
    assert stabilize(FunctionGraph([x], [(2.0 / e) * e]))[1] == {"local_mul_div_cancel": 1}


def test_log1p_and_expm1_are_accurate_near_zero(backend):
    x = gc.vector("x")
    f = gc.function([x], [gc.log(1.0 + x), gc.exp(x) - 1.0], backend=backend)
    assert {"local_log_one_plus", "local_expm1"} <= set(fired_in(f))
    tiny = np.array([1e-18, -3e-17, 2e-12])
    a, b = f(tiny)
    np.testing.assert_allclose(a, np.log1p(tiny), rtol=1e-14)
    np.testing.assert_allclose(b, np.expm1(tiny), rtol=1e-14)


def test_one_minus_sigmoid_keeps_its_tiny_values(backend):
    x = gc.vector("x")
    f = gc.function([x], 1.0 - gc.sigmoid(x), backend=backend)
    assert "local_one_minus_sigmoid" in fired_in(f)
    z = np.array([40.0, 0.0, -40.0, 800.0])
    np.testing.assert_allclose(f(z), scipy.special.expit(-z), rtol=1e-14)  # 1 - 1 would give 0 at 40


def _s(x):
    return gc.softmax(x)


# (rule, build): an expression that looks like the rule's pattern but must not be rewritten by it
LOOKALIKES = [
    ("local_log_softmax", lambda x: gc.log(gc.softmax(x) + 1.0)),
    ("local_softmax_by_hand", lambda x: gc.exp(x) / gc.sum(gc.exp(x * 2.0), keepdims=True)),  # two exps
    ("local_softmax_by_hand", lambda x: (lambda e: e / gc.sum(e))(gc.exp(x))),  # no keepdims: a scalar
    ("local_log_sigmoid", lambda x: gc.log(gc.sigmoid(x) * 2.0)),
    ("local_log_one_plus", lambda x: gc.log(2.0 + x)),
    ("local_log_one_plus", lambda x: gc.log(gc.constant(np.ones((2, 3))) + x)),  # 1 makes the shape
    ("local_log_sum_exp", lambda x: gc.log(gc.sum(gc.exp(x) * 2.0))),
    ("local_log1p_exp", lambda x: gc.log1p(gc.exp(x) * 2.0)),
    ("local_log1p_minus_sigmoid", lambda x: gc.log1p(-gc.tanh(x))),
    ("local_expm1", lambda x: gc.exp(x) - 2.0),
    ("local_expm1", lambda x: gc.exp(x) + 1.0),
    ("local_one_minus_sigmoid", lambda x: 1.0 - gc.tanh(x)),
    ("local_one_minus_sigmoid", lambda x: 2.0 - gc.sigmoid(x)),
    ("local_mul_div_cancel", lambda x: (2.0 / x) * x),  # x may be 0: 2/0*0 is NaN, keep it
    ("local_mul_div_cancel", lambda x: (2.0 / gc.exp(x)) * gc.exp(x * 1.5)),
    ("local_softmax_grad_cancel", lambda x: _s(x) * (x / gc.sigmoid(x) - 1.0)),  # divides by another value
]


@pytest.mark.parametrize("rule, build", LOOKALIKES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(LOOKALIKES)])
def test_stabilize_rule_does_not_fire_on_a_lookalike(rule, build):
    x = gc.vector("x", 3)
    out = build(x)
    graph, fired = stabilize(FunctionGraph([x], [out]))
    assert rule not in fired, fired
    values = np.array([-1.5, 0.25, 2.0])
    want = gc.function([x], out, backend="interp", optimize="none")(values)
    np.testing.assert_allclose(gc.function([x], out)(values), want, rtol=1e-12)


def test_stabilize_does_not_fire_on_lookalikes():
    x = gc.vector("x")
    for y in (gc.log(2.0 + x), gc.exp(x) - 2.0, gc.log(gc.sum(gc.exp(x) * 2.0)), gc.log(1.0 - gc.tanh(x))):
        assert stabilize(FunctionGraph([x], [y]))[1] == {}
