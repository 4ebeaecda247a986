"""The gc.grad driver: API, fan-out, broadcasting, dtypes, disconnection, known_grads, stop_gradient,
higher order (Jacobian, Hessian, Hessian-vector product), graph size, deep graphs, sympy-derived rules,
check_grad."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc.graph import apply, toposort
from graphc.ops import SCALAR_DEFS, Op
from graphc.passes import vjp_rules
from graphc.passes.vjp_rules import HAND_WRITTEN, VJP_RULES, derived_rule
from graphc.testing import GradientCheckError, check_grad


def run(inputs, outputs, *args, backend="numpy", optimize="fast"):
    return gc.function(inputs, outputs, backend=backend, optimize=optimize)(*args)


# --- API ----------------------------------------------------------------------------------------------------
def test_single_variable_gives_a_variable_and_a_list_gives_a_list() -> None:
    x, y = gc.vector("x", 3), gc.vector("y", 3)
    cost = gc.sum(x * y)
    assert isinstance(gc.grad(cost, x), gc.Variable)
    gx, gy = gc.grad(cost, [x, y])
    a, b = np.array([1.0, 2, 3]), np.array([4.0, 5, 6])
    np.testing.assert_allclose(run([x, y], [gx, gy], a, b), [b, a])


def test_fan_out_contributions_are_summed(backend) -> None:
    x = gc.vector("x", 3)
    cost = gc.sum(x * x + gc.sin(x) + 3.0 * x)  # x used four times
    a = np.array([0.1, -0.5, 2.0])
    np.testing.assert_allclose(run([x], gc.grad(cost, x), a, backend=backend), 2 * a + np.cos(a) + 3)


def test_broadcasting_is_summed_away(backend) -> None:
    x, b, s = gc.tensor("x", (2, 3)), gc.tensor("b", (3,)), gc.scalar("s")
    gb, gs = gc.grad(gc.sum((x + b) * s), [b, s])
    assert gb.type.shape == (3,) and gs.type.shape == ()
    xv = np.arange(6.0).reshape(2, 3)
    out = run([x, b, s], [gb, gs], xv, np.ones(3), 2.0, backend=backend)
    np.testing.assert_allclose(out[0], [4.0, 4.0, 4.0])
    np.testing.assert_allclose(out[1], np.sum(xv + 1))


def test_symbolic_sizes(backend) -> None:
    x = gc.tensor("x", ("n", 3))
    cost = gc.mean(x[1:] ** 2) + gc.sum(gc.concatenate([x, x[-1:]], axis=0)) + 3.0 * gc.sum(x[-1, 1:])
    gx = gc.grad(cost, x)
    for n in (2, 5):
        xv = np.arange(3.0 * n).reshape(n, 3)
        want = np.ones_like(xv)
        want[1:] += 2 * xv[1:] / ((n - 1) * 3)
        want[-1] += 1
        want[-1, 1:] += 3
        np.testing.assert_allclose(run([x], gx, xv, backend=backend), want)


def test_float32_gradients_stay_float32() -> None:
    w = gc.shared(np.ones((3, 2), np.float32), name="W")
    x = gc.tensor("x", ("n", 3), "float32")
    gw = gc.grad(gc.mean(gc.tanh(x @ w) ** 2) + 1e-3 * gc.sum(w * w), w)
    assert gw.type.dtype == np.float32
    assert all(n.outputs[0].type.dtype != np.float64 for n in toposort([gw]))


def test_mixed_dtypes_cast_back_to_each_input() -> None:
    x, y = gc.vector("x", 2, "float32"), gc.vector("y", 2, "float64")
    gx, gy = gc.grad(gc.sum(x * y), [x, y])
    assert gx.type.dtype == np.float32 and gy.type.dtype == np.float64


def test_gradient_with_respect_to_an_intermediate_value() -> None:
    x = gc.vector("x", 3)
    h = gc.tanh(x)
    gh, gx = gc.grad(gc.sum(h * h), [h, x])
    a = np.array([0.3, -0.2, 0.9])
    out = run([x], [gh, gx], a)
    np.testing.assert_allclose(out[0], 2 * np.tanh(a))
    np.testing.assert_allclose(out[1], 2 * np.tanh(a) * (1 - np.tanh(a) ** 2))


def test_backward_nodes_point_at_the_forward_line() -> None:
    x = gc.vector("x", 3)
    y = gc.tanh(x)
    line = y.owner.origin
    gx = gc.grad(gc.sum(y), x)
    assert gx.owner.origin == line


# --- errors -------------------------------------------------------------------------------------------------
def test_non_scalar_cost_suggests_jacobian() -> None:
    x = gc.vector("x", 3)
    with pytest.raises(gc.GraphcError, match=r"must be a scalar.*float64 \(3,\).*gc\.jacobian"):
        gc.grad(gc.tanh(x), x)


@pytest.mark.parametrize("wrt", [1.0, np.ones(3), [None], "x"], ids=["float", "array", "list", "str"])
def test_wrt_that_is_not_a_variable_is_a_clear_error(wrt) -> None:
    x = gc.vector("x", 3)
    cost = gc.sum(x * x)
    for name, call in [
        ("grad", lambda: gc.grad(cost, wrt)),
        ("jacobian", lambda: gc.jacobian(x * 2.0, wrt)),
        ("hessian", lambda: gc.hessian(cost, wrt)),
        ("hessian_vector_product", lambda: gc.hessian_vector_product(cost, wrt, [np.ones(3)])),
    ]:
        with pytest.raises(gc.GraphcError, match=rf"^{name}: wrt must be graph Variables.*, got \w+"):
            call()


def test_disconnected_raises_naming_the_variable_or_gives_zero() -> None:
    x, y = gc.vector("x", 3), gc.vector("unused", 3)
    cost = gc.sum(x * 2.0)
    with pytest.raises(gc.GraphError, match=r"unused \(float64 \(3,\)\) is disconnected.*does not depend"):
        gc.grad(cost, [x, y])
    gx, gy = gc.grad(cost, [x, y], disconnected="zero")
    np.testing.assert_array_equal(run([x, y], gy, np.ones(3), np.ones(3)), np.zeros(3))
    with pytest.raises(gc.GraphcError, match="disconnected must be"):
        gc.grad(cost, x, disconnected="ignore")


def test_paths_through_integer_values_carry_no_gradient() -> None:
    x = gc.vector("x", 4)
    cost = gc.sum(gc.cast(gc.argmax(x), "float64") * 1.0 + gc.cast(x > 0.0, "float64"))
    with pytest.raises(gc.GraphError, match="only through values that carry no gradient"):
        gc.grad(cost, x)
    assert gc.grad(cost, x, disconnected="zero").owner.op is Op.BROADCAST_TO


def test_integer_wrt_is_disconnected() -> None:
    n, x = gc.vector("n", 3, "int64"), gc.vector("x", 3)
    cost = gc.sum(x * n)
    with pytest.raises(
        gc.GraphError, match=r"n \(int64 \(3,\)\).*integer and boolean values carry no gradient"
    ):
        gc.grad(cost, n)
    gn = gc.grad(cost, n, disconnected="zero")
    assert gn.type.dtype == np.float64
    np.testing.assert_allclose(run([x, n], gc.grad(cost, x), np.ones(3), np.array([1, 2, 3])), [1, 2, 3])


def test_integer_cost_is_an_error() -> None:
    n = gc.vector("n", 3, "int64")
    with pytest.raises(gc.DTypeError, match="not a float value"):
        gc.grad(gc.sum(n), n)


def test_fused_nodes_cannot_be_differentiated() -> None:
    x = gc.vector("x", 3)
    f = gc.function([x], gc.sum(gc.exp(x) * 2.0 + 1.0))
    (fused,) = [n for n in f.optimized.nodes if n.op is Op.FUSED]
    with pytest.raises(gc.GraphcError, match="cannot differentiate a fused kernel.*then compile"):
        gc.grad(gc.sum(fused.outputs[0]), x)


# --- known_grads and stop_gradient --------------------------------------------------------------------------
def test_known_grads_start_from_given_output_gradients(backend) -> None:
    x = gc.vector("x", 3)
    y = gc.exp(x)
    v = gc.vector("v", 3)
    gx = gc.grad(None, x, known_grads={y: v})  # a vector-Jacobian product
    a, b = np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(run([x, v], gx, a, b, backend=backend), b * np.exp(a))
    both = gc.grad(gc.sum(y), x, known_grads={y: v})  # added to the cost's own gradient
    np.testing.assert_allclose(run([x, v], both, a, b), (b + 1) * np.exp(a))
    with pytest.raises(gc.ShapeError, match="must have the shape"):
        gc.grad(None, x, known_grads={y: gc.vector("w", 2)})


def test_stop_gradient(backend) -> None:
    x = gc.vector("x", 3)
    cost = gc.sum(x * gc.stop_gradient(x))  # d/dx = stop(x), not 2x
    a = np.array([1.0, 2.0, 3.0])
    value, gx = run([x], [cost, gc.grad(cost, x)], a, backend=backend)
    np.testing.assert_allclose(value, 14.0)
    np.testing.assert_allclose(gx, a)
    with pytest.raises(gc.GraphError, match="stop_gradient"):
        gc.grad(gc.sum(gc.stop_gradient(x)), x)
    n = gc.vector("n", 3, "int64")
    assert gc.stop_gradient(n) is n


# --- higher order -------------------------------------------------------------------------------------------
def test_grad_of_grad_of_tanh_is_the_second_derivative(backend) -> None:
    x = gc.vector("x", 5)
    d1 = gc.grad(gc.sum(gc.tanh(x)), x)
    d2 = gc.grad(gc.sum(d1), x)
    d3 = gc.grad(gc.sum(d2), x)
    a = np.linspace(-2, 2, 5)
    t = np.tanh(a)
    out = run([x], [d1, d2, d3], a, backend=backend)
    np.testing.assert_allclose(out[0], 1 - t**2)
    np.testing.assert_allclose(out[1], -2 * t * (1 - t**2))
    np.testing.assert_allclose(out[2], -2 * (1 - t**2) ** 2 + 4 * t**2 * (1 - t**2))


def test_hessian_of_a_quadratic_form_is_exact(backend, rng) -> None:
    a = rng.normal(size=(4, 4))
    b = rng.normal(size=4)
    x = gc.vector("x", 4)
    cost = 0.5 * gc.dot(x, gc.constant(a) @ x) + gc.dot(gc.constant(b), x)
    h = gc.hessian(cost, x)
    assert h.type.shape == (4, 4)
    for xv in (np.zeros(4), rng.normal(size=4)):
        np.testing.assert_allclose(run([x], h, xv, backend=backend), 0.5 * (a + a.T), rtol=1e-14, atol=1e-14)


def test_hessian_vector_product_equals_hessian_times_v(backend, rng) -> None:
    w = gc.tensor("w", (2, 3))
    v = gc.tensor("v", (2, 3))
    cost = gc.sum(gc.tanh(w) ** 3) + gc.sum(gc.exp(w[0] * w[1]))
    hv = gc.hessian_vector_product(cost, w, v)
    h = gc.hessian(cost, w)
    assert h.type.shape == (2, 3, 2, 3)
    wv, vv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    hv_value, h_value = run([w, v], [hv, h], wv, vv, backend=backend)
    np.testing.assert_allclose(hv_value, np.tensordot(h_value, vv, axes=2), rtol=1e-12)


def test_hessian_vector_product_builds_no_hessian() -> None:
    x, v = gc.vector("x", 20), gc.vector("v", 20)
    cost = gc.sum(gc.tanh(x) ** 3)
    hv_nodes = len(toposort([gc.hessian_vector_product(cost, x, v)]))
    h_nodes = len(toposort([gc.hessian(cost, x)]))
    assert hv_nodes <= 10 * len(toposort([cost])) and 10 * hv_nodes < h_nodes  # H costs 20 backward passes


def test_hessian_vector_product_of_a_linear_cost_is_zero() -> None:
    x = gc.vector("x", 3)
    hv = gc.hessian_vector_product(gc.sum(3.0 * x), x, np.ones(3))
    np.testing.assert_array_equal(run([x], hv, np.ones(3)), np.zeros(3))


def test_jacobian_of_a_vector_function(backend) -> None:
    x = gc.vector("x", 3)
    y = gc.softmax(x)
    j = gc.jacobian(y, x)
    a = np.array([0.1, 0.5, -0.3])
    s = np.exp(a) / np.exp(a).sum()
    np.testing.assert_allclose(run([x], j, a, backend=backend), np.diag(s) - np.outer(s, s), atol=1e-15)
    m = gc.tensor("m", (2, 2))
    jm, jx = gc.jacobian(m @ x[:2], [m, x])
    assert jm.type.shape == (2, 2, 2) and jx.type.shape == (2, 3)
    mv = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(run([m, x], jx, mv, a), np.hstack([mv, np.zeros((2, 1))]))


def test_hessian_list_gives_blocks() -> None:
    x, y = gc.scalar("x"), gc.scalar("y")
    blocks = gc.hessian(x * x * y, [x, y])
    out = run([x, y], [b for row in blocks for b in row], 3.0, 5.0)
    np.testing.assert_allclose(out, [10.0, 6.0, 6.0, 0.0])


# --- graph size, sharing and depth --------------------------------------------------------------------------
def _mlp(depth: int, width: int = 8):
    x = gc.tensor("x", ("n", width))
    params, h = [], x
    for i in range(depth):
        w = gc.shared(np.eye(width) * 0.9, name=f"W{i}")
        b = gc.shared(np.zeros(width), name=f"b{i}")
        params += [w, b]
        h = gc.tanh(h @ w + b)
    return x, params, gc.mean(h * h)


def test_backward_graph_is_a_small_multiple_of_the_forward_graph() -> None:
    x, params, cost = _mlp(50)
    forward = len(toposort([cost]))
    grads = gc.grad(cost, params)
    total = len(toposort([cost, *grads]))
    assert total - forward <= 4 * forward, (forward, total)
    forward_nodes = {id(n) for n in toposort([cost])}
    tanh_in_backward = [n for n in toposort(grads) if n.op is Op.TANH and id(n) not in forward_nodes]
    assert not tanh_in_backward  # forward values are reused, never recomputed


def test_deep_chain_differentiates_without_recursion() -> None:
    x = gc.scalar("x")
    y = x
    for _ in range(10_000):
        y = gc.sin(y) * 0.5 + 0.25
    gx = gc.grad(y, x)
    value = run([x], gx, 0.3, backend="numpy", optimize="none")
    # by hand: the chain rule along the same iteration
    v, d = 0.3, 1.0
    for _ in range(10_000):
        d *= 0.5 * np.cos(v)
        v = np.sin(v) * 0.5 + 0.25
    np.testing.assert_allclose(value, d, rtol=1e-10, atol=1e-300)


def test_only_nodes_between_wrt_and_cost_are_differentiated() -> None:
    x, c = gc.vector("x", 3), gc.vector("c", 3)
    unrelated = gc.exp(gc.sin(c) * gc.cos(c))  # no path from x: Alg. 6.5 prunes it
    gx = gc.grad(gc.sum(x * unrelated), x)
    backward = [n for n in toposort([gx]) if n not in toposort([unrelated])]
    assert {n.op for n in backward} <= {Op.MUL, Op.BROADCAST_TO, Op.RESHAPE}
    assert len(backward) <= 3


# --- sympy-derived rules and user elementwise functions -----------------------------------------------------
@pytest.mark.parametrize("op", sorted(HAND_WRITTEN, key=lambda o: o.value), ids=lambda o: o.value)
def test_hand_written_rules_agree_with_sympy(op: Op, rng) -> None:
    symbols, _ = SCALAR_DEFS[op]
    xs = [gc.tensor(f"x{i}", (6,)) for i in range(len(symbols))]
    out = apply(op, xs)
    g = gc.tensor("g", (6,))
    hand = VJP_RULES[op](g, out, *xs)
    derived = derived_rule(op)(g, out, *xs)
    low = 0.2 if op in (Op.LOG, Op.SQRT, Op.POW, Op.DIV) else -2.0
    values = [rng.uniform(low, 2.0, 6) for _ in xs]
    values = [np.sign(v) * np.maximum(np.abs(v), 0.1) for v in values]
    gv = rng.normal(size=6)
    for h, d in zip(hand, derived, strict=True):
        if h is None:
            continue
        a, b = run([*xs, g], [h, d], *values, gv, optimize="none")
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_user_elementwise_function_gets_a_derived_gradient(backend) -> None:
    swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    x = gc.vector("x", 4)
    d1 = gc.grad(gc.sum(swish(x)), x)
    d2 = gc.grad(gc.sum(d1), x)  # partials of partials: sympy again
    a = np.array([-1.5, -0.1, 0.4, 2.0])
    s = 1 / (1 + np.exp(-a))
    out = run([x], [d1, d2], a, backend=backend)
    np.testing.assert_allclose(out[0], s + a * s * (1 - s))
    np.testing.assert_allclose(out[1], 2 * s * (1 - s) + a * s * (1 - s) * (1 - 2 * s))


def test_the_derivative_of_a_step_is_zero(backend) -> None:
    """sympy's derivative of Heaviside is DiracDelta, which no backend can evaluate: it is taken as 0, also
    in second derivatives (DiracDelta(x, 1)). A derivative that is 0 everywhere carries no gradient, as for
    gc.sign: asking for one says so, or gives zeros with disconnected="zero"."""
    step = gc.elementwise("step", lambda x: sympy.Heaviside(x) + sympy.sign(x))
    ramp = gc.elementwise("ramp", lambda x: x * sympy.Heaviside(x))
    x = gc.vector("x", 4)
    with pytest.raises(gc.GraphError, match="disconnected"):
        gc.grad(gc.sum(step(x)), x)
    d_step = gc.grad(gc.sum(step(x)), x, disconnected="zero")
    d_ramp = gc.grad(gc.sum(ramp(x)), x)
    dd_ramp = gc.grad(gc.sum(d_ramp), x, disconnected="zero")
    a = np.array([-1.5, -0.1, 0.4, 2.0])
    got = run([x], [d_step, d_ramp, dd_ramp], a, backend=backend)
    np.testing.assert_array_equal(got[0], np.zeros(4))
    np.testing.assert_array_equal(got[1], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(got[2], np.zeros(4))
    assert step.partial(0).expr == 0 and "DiracDelta" not in str(ramp.partial(0).partial(0).expr)


def test_max_ties_share_the_gradient_evenly_and_relu_is_zero_at_zero() -> None:
    x = gc.vector("x", 4)
    a = np.array([1.0, 3.0, 3.0, 0.0])
    gmax = gc.grad(gc.max(x), x)
    gmaximum = gc.grad(gc.sum(gc.maximum(x, 3.0)), x)
    grelu = gc.grad(gc.sum(gc.relu(x)), x)
    gabs = gc.grad(gc.sum(gc.abs(x)), x)
    out = run([x], [gmax, gmaximum, grelu, gabs], a, optimize="none")
    np.testing.assert_allclose(out[0], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(out[1], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(out[2], [1, 1, 1, 0])
    np.testing.assert_allclose(out[3], [1, 1, 1, 0])


def test_prod_gradient_is_exact_with_zeros(backend) -> None:
    x = gc.tensor("x", (3, 3))
    gx = gc.grad(gc.sum(gc.prod(x, axis=1)), x)
    a = np.array([[2.0, 3.0, 4.0], [0.0, 3.0, 4.0], [0.0, 0.0, 5.0]])
    want = np.array([[12.0, 8.0, 6.0], [12.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(run([x], gx, a, backend=backend), want)


# --- check_grad itself --------------------------------------------------------------------------------------
def test_check_grad_reports_the_worst_entry(monkeypatch) -> None:
    monkeypatch.setitem(VJP_RULES, Op.EXP, lambda g, out, x: (g * out * 1.01,))  # a wrong rule: 1% off
    x = np.array([[0.1, 0.2], [0.3, 2.0]])
    with pytest.raises(
        GradientCheckError, match=r"gradient of w\[1, 1\] is wrong: symbolic 7\.46.*numeric 7\.38"
    ):
        check_grad(lambda w: gc.sum(gc.exp(w)), [x])
    with pytest.raises(AssertionError):  # also an AssertionError, as pytest users expect
        check_grad(lambda w: gc.sum(gc.exp(w)), [x], max_entries=0)


def test_check_grad_on_an_existing_graph_with_shared_and_integer_inputs() -> None:
    w = gc.shared(np.array([[0.5, -0.2], [0.1, 0.3], [0.0, 0.7]]), name="W")
    x = gc.tensor("x", ("n", 3))
    labels = gc.vector("labels", "n", "int64")
    cost = -gc.mean(gc.sum(gc.one_hot(labels, 2) * gc.log_softmax(x @ w), axis=1))
    result = check_grad((cost, [w]), {x: np.ones((4, 3)) * [1.0, 2.0, 3.0], labels: np.array([0, 1, 1, 0])})
    assert result.entries_checked == 6 and result.max_error < 1e-8
    np.testing.assert_array_equal(w.get_value(), [[0.5, -0.2], [0.1, 0.3], [0.0, 0.7]])  # restored


def test_check_grad_float32_graph() -> None:
    x = gc.vector("x", 3, "float32")
    check_grad((gc.sum(gc.tanh(x) * x), [x]), [np.array([0.1, 0.5, -1.0], np.float32)])


def test_rule_table_reads_like_the_math() -> None:
    assert vjp_rules.VJP_RULES[Op.EXP].__code__.co_argcount == 3  # (g, out, x)
    assert set(SCALAR_DEFS) <= set(VJP_RULES)


def test_derived_fallback_rule_differentiates(monkeypatch) -> None:
    monkeypatch.setitem(VJP_RULES, Op.SOFTPLUS, derived_rule(Op.SOFTPLUS))  # as if no hand-written row
    x = gc.vector("x", 5)
    assert Op.SCALAR_FN in {n.op for n in toposort([gc.grad(gc.sum(gc.softplus(x)), x)])}
    check_grad(lambda x: gc.sum(gc.softplus(x) * gc.tanh(x)), [np.linspace(-2, 2, 5)])


@pytest.mark.parametrize("shape", [(), (3,)])
def test_jacobian_of_an_integer_value_is_a_dtype_error_whatever_its_shape(shape) -> None:
    x = gc.tensor("x", (3,))
    y = gc.cast(x, "int64") if shape else gc.argmax(x)
    with pytest.raises(gc.DTypeError, match="not a float value"):
        gc.jacobian(y, x)
