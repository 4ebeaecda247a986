"""gc.scan and gc.cond: values and gradients against the unrolled graph and JAX's lax.scan on random bodies
(every backend, forward and reverse, captured weights, tuple carries, T = 0 and 1), grad of grad, the lazy
branch, bad input, nested loops, what the passes move out of a loop, and graph size independent of T.
Forward parity of single rows is in test_ops_control.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as gc
from graphc.ops import Op

H = 3


def weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(H, H)) * 0.6, rng.normal(size=(H, H)) * 0.6, rng.normal(size=(H,)) * 0.3]


# Random bodies, written once for graphc and jax.numpy (`m` is the module): carry (h, c), x, weights.
def body_elman(m, carry, x, w):
    h, c = carry
    h2 = m.tanh(h @ w[0] + x @ w[1] + w[2])
    return (h2, c + h2 * x), h2 * 2.0


def body_gated(m, carry, x, w):
    h, c = carry
    gate = 1.0 / (1.0 + m.exp(-(x @ w[0] + w[2])))
    c2 = gate * c + (1.0 - gate) * m.sin(h @ w[1])
    return (m.tanh(c2) * gate, c2), c2 * h


def body_product(m, carry, x, w):
    h, c = carry
    return (h * m.cos(x) + c @ w[0], c * 0.9 + x * w[2]), m.exp(h * 0.1) + c


BODIES = [body_elman, body_gated, body_product]


def build(body, reverse: bool):
    """(inputs, outputs): the scan's final carries and ys, a scalar cost, and its gradients."""
    xs, h0, c0 = gc.tensor("xs", ("T", 2, H)), gc.tensor("h0", (2, H)), gc.tensor("c0", (2, H))
    w = [gc.shared(v, name=f"w{k}") for k, v in enumerate(weights())]
    (h, c), ys = gc.scan(lambda carry, x: body(gc, carry, x, w), (h0, c0), xs, reverse=reverse)
    return (xs, h0, c0), w, (h, c, ys)


def unrolled(body, reverse: bool):
    xs, h0, c0 = gc.tensor("xs", (4, 2, H)), gc.tensor("h0", (2, H)), gc.tensor("c0", (2, H))
    w = [gc.shared(v, name=f"w{k}") for k, v in enumerate(weights())]
    carry, ys = (h0, c0), [None] * 4
    for t in reversed(range(4)) if reverse else range(4):
        carry, ys[t] = body(gc, carry, xs[t], w)
    return (xs, h0, c0), w, (*carry, gc.stack(ys))


def cost_and_grads(inputs, w, outs):
    h, c, ys = outs
    cost = (h * h).sum() + (c * 0.5).sum() + (ys * ys).sum() * 0.1
    return [h, c, ys, cost, *gc.grad(cost, [*inputs, *w], disconnected="zero")]


def data(steps: int):
    rng = np.random.default_rng(1)
    return [rng.normal(size=(steps, 2, H)), rng.normal(size=(2, H)), rng.normal(size=(2, H))]


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("body", BODIES, ids=[b.__name__ for b in BODIES])
def test_scan_agrees_with_the_unrolled_graph(body, reverse, backend) -> None:
    inputs, w, outs = build(body, reverse)
    f = gc.function(inputs, cost_and_grads(inputs, w, outs), backend=backend)
    u_inputs, u_w, u_outs = unrolled(body, reverse)
    want = gc.function(u_inputs, cost_and_grads(u_inputs, u_w, u_outs), backend="interp")(*data(4))
    for got, expected in zip(f(*data(4)), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps", [0, 1])
def test_no_step_and_one_step(steps, backend) -> None:
    """T = 0: the final carry is init, ys are empty (0, ...) and so is the gradient of xs; the gradient of
    init is the cost's own. T = 1 is one step."""
    inputs, w, outs = build(body_elman, False)
    got = gc.function(inputs, cost_and_grads(inputs, w, outs), backend=backend)(*data(steps))
    x, h0, c0 = data(steps)
    if steps == 0:
        np.testing.assert_array_equal(got[0], h0)
        assert got[2].shape == (0, 2, H) and got[4].shape == (0, 2, H)
        np.testing.assert_allclose(got[5], 2 * h0)  # d/dh0 of sum(h0²)
        assert all(not g.any() for g in got[7:])  # the weights are never used
    else:
        np.testing.assert_allclose(got[0], np.tanh(h0 @ weights()[0] + x[0] @ weights()[1] + weights()[2]))


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("body", BODIES, ids=[b.__name__ for b in BODIES])
def test_scan_agrees_with_jax(body, reverse) -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    inputs, w, outs = build(body, reverse)
    got = gc.function(inputs, cost_and_grads(inputs, w, outs), backend="numpy")(*data(5))

    def cost(x, h0, c0, *ws):
        (h, c), ys = jax.lax.scan(lambda carry, xt: body(jnp, carry, xt, ws), (h0, c0), x, reverse=reverse)
        return (h * h).sum() + (c * 0.5).sum() + (ys * ys).sum() * 0.1

    with jax.enable_x64(True):
        args = [jnp.asarray(a) for a in data(5) + weights()]
        value, grads = jax.value_and_grad(cost, argnums=tuple(range(6)))(*args)
    np.testing.assert_allclose(got[3], value, rtol=1e-10)
    for g, want in zip(got[4:], grads, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-9, atol=1e-12)


def test_hessian_vector_product_through_a_recurrence(backend) -> None:
    """grad of grad: the gradient of a backward scan is another scan; it agrees with the unrolled graph."""
    results = []
    for make in (build, unrolled):
        inputs, w, outs = make(body_gated, False)
        cost = cost_and_grads(inputs, w, outs)[3]
        g = gc.grad(cost, w[0])
        v = gc.tensor("v", (H, H))
        hvp = gc.grad((g * v).sum(), [w[0], inputs[1]])
        f = gc.function([*inputs, v], hvp, backend=backend if make is build else "interp")
        results.append(f(*data(4), np.random.default_rng(2).normal(size=(H, H))))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_cond_runs_only_the_branch_taken_and_differentiates_it(backend) -> None:
    """The untaken branch would fail its data check (a label out of range) if it ran."""
    x, labels = gc.vector("x", 3), gc.vector("labels", 3, "int64")
    w = gc.shared(np.array([1.0, -2.0, 0.5]), name="w")
    y = gc.cond(
        x.sum() > 0,
        lambda v, lab: (v * w).sum() + gc.one_hot(lab, 3).sum(),
        lambda v, lab: gc.sin(v).sum() * w.sum(),
        x,
        labels,
    )
    f = gc.function([x, labels], [y, *gc.grad(y, [x, w])], backend=backend)
    bad = np.array([0, 5, 1])
    a = np.array([-1.0, 0.5, -0.2])
    value, gx, gw = f(a, bad)  # the false branch: labels are never read
    np.testing.assert_allclose([value, *gx, *gw], [np.sin(a).sum() * -0.5, *np.cos(a) * -0.5,
                                                   *[np.sin(a).sum()] * 3])  # fmt: skip
    value, gx, gw = f(-a, np.array([0, 2, 1]))
    np.testing.assert_allclose([value, *gx, *gw], [(-a * w.get_value()).sum() + 3, *w.get_value(), *-a])
    with pytest.raises(gc.GraphcError, match="out of range"):
        f(-a, bad)


def test_nested_scans_and_their_gradients(backend) -> None:
    """A scan inside a scan's step (each row of a matrix sequence scanned on its own) against the unrolled."""
    xs = gc.tensor("xs", ("T", "S", 2))
    w = gc.shared(np.array([0.5, -0.3]), name="w")

    def outer(c, x):
        inner, rows = gc.scan(lambda d, z: (gc.tanh(d * z + w), d), c, x)
        return inner * 0.5, rows.sum()

    c, ys = gc.scan(outer, gc.constant(np.ones(2)), xs)
    cost = c.sum() + ys.sum()
    got = gc.function([xs], [cost, *gc.grad(cost, [xs, w])], backend=backend)
    arrays = np.random.default_rng(3).normal(size=(3, 4, 2))
    c, total = gc.constant(np.ones(2)), 0.0
    for t in range(3):
        d, rows = c, []
        for s in range(4):
            rows.append(d)
            d = gc.tanh(d * gc.constant(arrays[t, s]) + w)
        c, total = d * 0.5, total + gc.stack(rows).sum()
    want_cost = c.sum() + total
    want = gc.function([], [want_cost, gc.grad(want_cost, w)], backend="interp")()
    values = got(arrays)
    np.testing.assert_allclose(values[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(values[2], want[1], rtol=1e-10)


# --- bad input ----------------------------------------------------------------------------------------------
def test_check_numerics_names_the_operation_inside_the_loop(backend) -> None:
    xs, h0 = gc.tensor("xs", ("T", 3)), gc.vector("h0")
    h, ys = gc.scan(lambda h, x: (gc.log(h + x), h), h0, xs)  # the line the error must name
    f = gc.function([xs, h0], ys.sum() + h.sum(), backend=backend, check_numerics=True)
    assert np.isfinite(f(np.ones((4, 3)), np.ones(3)))
    with pytest.raises(gc.NumericsError, match=r"^log made a NaN .*\n  built at .*test_scan.py"):
        f(np.full((4, 3), -5.0), np.ones(3))


def test_a_carry_that_changes_type_is_refused_at_its_line() -> None:
    xs, h0 = gc.tensor("xs", ("T", 3)), gc.tensor("h0", (3,), "float32")
    with pytest.raises(gc.DTypeError, match=r"(?s)carry 0 as .*float64.*h0 \(float32.*test_scan.py:\d+"):
        gc.scan(lambda h, x: (h + x, None), h0, xs)  # xs is float64: h + x is too
    with pytest.raises(gc.ShapeError, match=r"keep its dtype and shape\n  built at .*test_scan.py"):
        gc.scan(lambda h, x: (gc.stack([h, h]), None), gc.tensor("c", (3,)), xs)
    with pytest.raises(gc.GraphcError, match="must return \\(new_carry, y\\)"):
        gc.scan(lambda h, x: h + x, gc.tensor("c", (3,)), xs)


def test_sequences_of_different_lengths_are_refused() -> None:
    a, b = gc.tensor("a", (4, 2)), gc.tensor("b", (5, 2))
    with pytest.raises(gc.ShapeError, match=r"a \(float64 \(4, 2\)\) has 4 steps but b .* 5"):
        gc.scan(lambda c, x: (c + x[0] + x[1], None), gc.constant(np.zeros(2)), (a, b))
    a, b = gc.tensor("a", ("T", 2)), gc.tensor("b", ("S", 2))  # two names are two sizes
    with pytest.raises(
        gc.ShapeError, match=r"a .* has T steps but b .* S: .* same length; T vs S \(two names"
    ):
        gc.scan(lambda c, x: (c + x[0] * x[1], c), gc.constant(np.zeros(2)), (a, b))
    a, b = gc.tensor("a", ("T", 2)), gc.tensor("b", (None, 2))  # unnamed: checked at each call
    _, ys = gc.scan(lambda c, x: (c + x[0] * x[1], c), gc.constant(np.zeros(2)), (a, b))
    f = gc.function([a, b], ys)
    assert f(np.ones((3, 2)), np.ones((3, 2))).shape == (3, 2)
    with pytest.raises(
        gc.ShapeError, match=r"scan of .* b .*: b.0 and T must be equal, but b.0 = 4 and T = 3"
    ):
        f(np.ones((3, 2)), np.ones((4, 2)))


def test_other_misuse_is_explained() -> None:
    with pytest.raises(gc.GraphcError, match="give xs to scan over, or length="):
        gc.scan(lambda c, _: (c, None), gc.constant(1.0))
    with pytest.raises(gc.DTypeError, match="predicate must be a bool scalar"):
        gc.cond(gc.scalar("p"), lambda: gc.constant(1.0), lambda: gc.constant(2.0))
    with pytest.raises(gc.ShapeError, match="branches return different types"):
        gc.cond(gc.scalar("p") > 0, lambda v: v, lambda v: gc.stack([v, v]), gc.scalar("x"))
    with pytest.raises(gc.GraphcError, match="makes a new input"):
        gc.scan(lambda c, x: (c + gc.scalar("oops"), None), gc.constant(1.0), gc.vector("xs"))
    inputs, w, outs = build(body_elman, False)
    pytest.importorskip("onnx")
    with pytest.raises(gc.GraphcError, match="scan is not supported"):
        gc.onnx.export(gc.function(inputs, outs[0]))


# --- what the passes do -------------------------------------------------------------------------------------
def body_nodes(f, op: Op) -> list:
    (scan,) = [n for n in f.optimized.nodes if n.op is Op.SCAN]
    return [n for n in scan.params["body"].nodes if n.op is op]


def test_invariant_work_and_the_input_projection_leave_the_loop() -> None:
    xs, h0 = gc.tensor("xs", ("T", "n", 4)), gc.tensor("h0", ("n", H))
    wx, wh = gc.shared(np.ones((4, H)), name="Wx"), gc.shared(np.ones((H, H)), name="Wh")
    b = gc.shared(np.ones(H), name="b")
    hT, _ = gc.scan(lambda h, x: (gc.tanh(x @ wx + h @ (wh * 2.0) + gc.exp(b)), None), h0, xs)
    f = gc.function([xs, h0], hT)
    outside = [n for n in f.optimized.nodes if n.op is Op.MATMUL]
    assert len(outside) == 1 and outside[0].outputs[0].type.ndim == 2  # ONE product over all steps
    assert len(body_nodes(f, Op.MATMUL)) == 1  # only h @ Wh stays in the loop
    assert not body_nodes(f, Op.EXP) and not body_nodes(f, Op.MUL)  # exp(b) and Wh * 2 are hoisted
    assert f.report().rows if hasattr(f.report(), "rows") else True
    x = np.random.default_rng(0).normal(size=(5, 2, 4))
    want = gc.function([xs, h0], hT, backend="interp", optimize="none")(x, np.zeros((2, H)))
    np.testing.assert_allclose(f(x, np.zeros((2, H))), want)


def test_pruned_outputs_and_a_backward_loop_that_recomputes_and_accumulates_outside() -> None:
    """Unread outputs go; the backward loop's recomputation h[t] @ W0 is lifted out (one product over the
    saved carries) and its accumulation dW0 += h[t]ᵀ g[t] sunk (one product after it)."""
    inputs, w, outs = build(body_elman, False)
    cost = (outs[0] ** 2).sum()
    f = gc.function(inputs, [cost, gc.grad(cost, w[0])])
    scans = [n for n in f.optimized.nodes if n.op is Op.SCAN]
    assert len(scans) == 2
    forward, backward = scans
    assert len(forward.outputs) == 2  # the final h and the saved h (c, ys and saved c are not needed)
    assert len(backward.outputs) == 2  # dh and dw0 (no gradient of the other weights, xs or c)
    inside = [n.op for n in backward.params["body"].nodes]
    assert inside.count(Op.MATMUL) == 1  # g @ w0.T: dh for the step before
    assert sum(n.op is Op.MATMUL for n in f.optimized.nodes) == 3  # x @ w1, h @ w0 lifted; Hᵀ G sunk


def test_graph_size_and_compile_do_not_depend_on_the_length() -> None:
    sizes = []
    for steps in (10, 10_000):
        xs = gc.tensor("xs", (steps, 2, H))
        inputs, w, outs = build(body_gated, False)
        (h, c), _ = gc.scan(lambda carry, x, w=w: body_gated(gc, carry, x, w), (inputs[1], inputs[2]), xs)
        f = gc.function([xs, inputs[1], inputs[2]], gc.grad((h * c).sum(), w[0]))
        sizes.append(len(f.optimized.nodes))
    assert sizes[0] == sizes[1]


# --- drawing ------------------------------------------------------------------------------------------------
def test_a_scan_draws_folded_with_a_delay_or_unrolled_step_by_step() -> None:
    """Fig. 10.2 (left): the cell once, h⁽ᵗ⁻¹⁾ -> h⁽ᵗ⁾ with a black square back; unroll=3: steps t = 1..3
    with x⁽¹⁾..x⁽³⁾ and h⁽¹⁾..h⁽³⁾, the weights drawn once; the backward scan is a red cluster."""
    xs, h0 = gc.tensor("xs", ("T", 2)), gc.tensor("h0", (3,))
    w = gc.shared(np.ones((3, 3)), name="W")
    u = gc.shared(np.ones((2, 3)), name="U")
    h_last, _ = gc.scan(lambda h, x: (gc.tanh(h @ w + x @ u), None), h0, xs)
    folded = gc.viz.to_dot(h_last)
    assert folded.count("shape=square") == 1 and "scan: one step" in folded
    assert all(name in folded for name in ("h⁽ᵗ⁻¹⁾", "h⁽ᵗ⁾", "x⁽ᵗ⁾", "[t]"))
    unrolled = gc.viz.to_dot(h_last, unroll=3)
    assert all(f'"t = {t}"' in unrolled for t in (1, 2, 3)) and "shape=square" not in unrolled
    assert all(f"{v}⁽{t}⁾" in unrolled for v in "xh" for t in "¹²³") and "…" in unrolled
    assert len(re.findall(r"label=W\b", unrolled)) == 1  # the weights are shared by every step
    backward = gc.viz.to_dot(h_last, grads=[(w, gc.grad(h_last.sum(), w))])
    assert "reverse scan: one step" in backward and "#c0392b" in backward
