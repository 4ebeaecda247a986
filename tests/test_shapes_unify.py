"""Shapes that unify: a size the user did not name is anonymous and its input's own (x.0); sizes an op needs
equal unify (the result takes the most specific) and the equality is checked at call time, naming both
sizes. The Theano-style lines a new user types first build and run on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.testing import check_grad


def line_of(fn) -> str:
    return f"{__file__}:{fn.__code__.co_firstlineno}"


# --- the first lines a Theano user types ------------------------------------------------------------------
def test_two_matrices_multiply(backend: str, rng) -> None:
    x, W = gc.matrix("x"), gc.matrix("W")
    y = x @ W
    assert str(y.type) == "float64(x.0, W.1)"
    f = gc.function([x, W], y, backend=backend)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(f(a, b), a @ b)
    with pytest.raises(gc.ShapeError) as info:
        f(a, rng.normal(size=(5, 4)))
    message = str(info.value)
    assert "matmul of x (float64 (x.0, x.1)) and W (float64 (W.0, W.1))" in message
    assert "x.1 and W.0 must be equal, but x.1 = 3 and W.0 = 5 at this call" in message
    assert message.endswith(f"{__file__}:{test_two_matrices_multiply.__code__.co_firstlineno + 2}")


def test_a_matrix_times_a_shared_value(backend: str) -> None:
    x = gc.matrix("x")
    W = gc.shared(np.arange(12.0).reshape(3, 4), name="W")
    y = x @ W
    assert y.shape == (y.shape[0], 4) and str(y.shape[0]) == "x.0"  # a number beats an anonymous size
    f = gc.function([x], y, backend=backend)
    np.testing.assert_allclose(f(np.ones((2, 3))), np.ones((2, 3)) @ W.get_value())
    with pytest.raises(gc.ShapeError, match=r"x.1 must be 3, but it is 5 at this call"):
        f(np.ones((2, 5)))


def test_a_training_step_on_unnamed_inputs(backend: str, rng) -> None:
    """An MLP step built from gc.matrix/gc.vector with no sizes named: it trains, and a call with a wrong
    size raises before any work and changes no shared variable."""
    x, t = gc.matrix("x"), gc.vector("t")
    W = gc.shared(rng.normal(size=(3, 4)) * 0.5, name="W")
    b = gc.shared(np.zeros(4), name="b")
    v = gc.shared(rng.normal(size=4) * 0.5, name="v")
    y = gc.tanh(x @ W + b) @ v
    loss = ((y - t) ** 2).mean()
    grads = gc.grad(loss, [W, b, v])
    step = gc.function(
        [x, t], loss, updates={p: p - 0.1 * g for p, g in zip([W, b, v], grads, strict=True)}, backend=backend
    )
    X, T = rng.normal(size=(8, 3)), rng.normal(size=8)
    losses = [float(step(X, T)) for _ in range(30)]
    assert losses[-1] < losses[0]
    before = W.get_value()
    with pytest.raises(gc.ShapeError, match=r"t.0 must be 8|x.0 and t.0 must be equal"):
        step(X, T[:5])
    np.testing.assert_array_equal(W.get_value(), before)


def test_gradients_through_unified_sizes_pass_the_finite_difference_check(backend: str, rng) -> None:
    x, W = gc.matrix("x"), gc.matrix("W")
    b = gc.vector("b")
    cost = gc.sum(gc.tanh(x @ W + b) ** 2)
    values = {x: rng.normal(size=(2, 3)), W: rng.normal(size=(3, 4)), b: rng.normal(size=4)}
    check_grad((cost, [x, W, b]), values, backend=backend)


# --- which size the result takes ----------------------------------------------------------------------------
def test_the_most_specific_size_wins() -> None:
    named = gc.tensor("x", ("n", None))
    other = gc.tensor("y", (None, 4))
    assert (named + other).shape[0] == named.shape[0]  # a user's name beats an anonymous size
    assert (named + other).shape[1] == 4  # a number beats both
    a, b = gc.vector("a"), gc.vector("b")
    assert (a + b).shape == a.shape  # two anonymous sizes: the first stands for both


def test_two_different_names_are_two_sizes() -> None:
    x, W = gc.tensor("x", ("batch", "features")), gc.tensor("W", ("hidden", "out"))
    with pytest.raises(gc.ShapeError, match=r"inner dimensions features vs hidden \(two names are two sizes"):
        x @ W
    with pytest.raises(gc.ShapeError, match="3 vs 4"):  # and two numbers, as before
        gc.tensor("a", (3,)) + gc.tensor("b", (4,))


def test_a_size_is_never_taken_to_be_one(backend: str) -> None:
    """NumPy would broadcast a (1,) against a (4,): two sizes the graph unified must be equal."""
    x, y = gc.vector("x"), gc.vector("y")
    f = gc.function([x, y], x * y, backend=backend)
    with pytest.raises(gc.ShapeError, match="x.0 and y.0 must be equal"):
        f(np.ones(4), np.ones(1))
    g = gc.function([x], x + np.ones(1), backend=backend)  # a literal 1 still broadcasts
    np.testing.assert_array_equal(g(np.zeros(3)), np.ones(3))


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda a, b: gc.concatenate([a, b], axis=0), "a.1 and b.1"),
        (lambda a, b: gc.stack([a, b]), "a.0 and b.0"),
        (lambda a, b: gc.where(a > 0, a, b), "a.0 and b.0"),
    ],
    ids=["concatenate", "stack", "where"],
)
def test_concatenate_stack_and_where_unify(backend: str, build, expected: str) -> None:
    a, b = gc.matrix("a"), gc.matrix("b")
    out = build(a, b)
    f = gc.function([a, b], out, backend=backend)
    p, q = np.arange(6.0).reshape(2, 3) - 2, np.ones((2, 3))
    np.testing.assert_array_equal(f(p, q), gc.evaluate(out, {a: p, b: q}))
    with pytest.raises(gc.ShapeError, match=f"{expected} must be equal"):
        f(p, np.ones((3, 4)))


def test_a_derived_size_is_checked_on_every_call(backend: str) -> None:
    """x[1:] has n - 1 elements: adding y ties y's size to that expression, checked when called."""
    x, y = gc.tensor("x", ("n",)), gc.vector("y")
    z = x[1:] + y
    assert str(z.shape[0]) == "n - 1"
    f = gc.function([x, y], z, backend=backend)
    np.testing.assert_array_equal(f(np.arange(4.0), np.ones(3)), np.arange(1.0, 4.0) + 1)
    with pytest.raises(gc.ShapeError, match="n - 1 and y.0 must be equal, but n - 1 = 3 and y.0 = 4"):
        f(np.arange(4.0), np.ones(4))


def test_an_update_may_take_its_value_from_an_unnamed_input(backend: str) -> None:
    v = gc.shared(np.zeros(3), name="v")
    x = gc.vector("x")
    f = gc.function([x], [], updates={v: x * 2}, backend=backend)
    f(np.ones(3))
    np.testing.assert_array_equal(v.get_value(), [2.0, 2.0, 2.0])
    with pytest.raises(gc.ShapeError, match=r"the update of v .*x.0 must be 3, but it is 4"):
        f(np.ones(4))
    np.testing.assert_array_equal(v.get_value(), [2.0, 2.0, 2.0])


def test_two_inputs_of_one_name_keep_their_own_sizes(backend: str) -> None:
    """Anonymous sizes print alike (x.0) but are two sizes; the numpy source spells them apart."""
    a, b = gc.vector("x"), gc.vector("x")
    f = gc.function([a, b], [a.reshape((1, -1)), b.reshape((-1, 1))], backend=backend)
    p, q = f(np.ones(2), np.ones(3))
    assert p.shape == (1, 2) and q.shape == (3, 1)


# --- Jacobians and Hessians ---------------------------------------------------------------------------------
def test_a_hessian_where_the_graph_ties_the_size_to_a_number(backend: str, rng) -> None:
    v = gc.vector("v")
    y = gc.tanh(v) * gc.shared(np.arange(1.0, 4.0))  # ties v.0 to 3
    H = gc.hessian(gc.sum(y**2), v)
    assert H.shape == (3, 3)
    f = gc.function([v], H, backend=backend)
    point = rng.normal(size=3)
    # d²/dv² of Σ cᵢ² tanh(vᵢ)²: diagonal 2cᵢ²(sech⁴ - 2 tanh² sech²)
    t, s2 = np.tanh(point), 1 / np.cosh(point) ** 2
    np.testing.assert_allclose(f(point), np.diag(2 * np.arange(1.0, 4.0) ** 2 * (s2**2 - 2 * t**2 * s2)))


def test_a_hessian_of_a_size_known_only_at_call_time_says_how_to_fix_it() -> None:
    v = gc.vector("v")
    with pytest.raises(gc.ShapeError) as info:
        gc.hessian(gc.sum(gc.tanh(v) ** 2), v)
    message = str(info.value)
    assert message.startswith("hessian: ")
    assert "v.0 is axis 0 of v: give it a number, e.g. gc.vector('v', 3)" in message
    assert "gc.hessian_vector_product works at any size" in message
    with pytest.raises(gc.ShapeError, match="n is a named size: put its number in the inputs' shapes"):
        gc.jacobian(gc.tanh(gc.tensor("x", ("n",))), gc.tensor("x", ("n",)))


def test_a_hessian_vector_product_at_any_size(backend: str, rng) -> None:
    w, d = gc.vector("w"), gc.vector("d")
    Hd = gc.hessian_vector_product(gc.sum(w**3), w, d)
    f = gc.function([w, d], Hd, backend=backend)
    point, direction = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(f(point, direction), 6 * point * direction)


def test_symbol_to_number_checks_the_sizes_too() -> None:
    x, y = gc.vector("x"), gc.vector("y")
    with pytest.raises(gc.ShapeError, match="x.0 and y.0 must be equal"):
        gc.symbol_to_number(gc.sum(x * y), x, {x: np.ones(3), y: np.ones(1)})


def test_integer_labels_need_the_number_of_classes_as_a_number() -> None:
    z, y = gc.matrix("z"), gc.vector("y", dtype="int64")
    with pytest.raises(
        gc.ShapeError, match=r"the number of classes \(the last axis of z .*\) must be a number"
    ):
        gc.nn.softmax_cross_entropy(z, y)
    with pytest.raises(gc.ShapeError, match="one_hot: depth must be a number known when the graph is built"):
        gc.one_hot(y, z.shape[1])
    loss = gc.nn.softmax_cross_entropy(gc.matrix("z", (None, 3)), y)  # the fix the message gives
    assert loss.type.ndim == 0


def test_anonymous_sizes_survive_saving(tmp_path) -> None:
    """A file numbers each anonymous size: two inputs named alike keep two sizes, and the loaded function
    checks what the saved one checked."""
    a, b = gc.matrix("x"), gc.matrix("x")
    f = gc.function([a, b], a @ b)
    g = gc.load(gc.save(tmp_path / "f.gcz", f))
    np.testing.assert_array_equal(g(np.ones((2, 3)), np.ones((3, 4))), f(np.ones((2, 3)), np.ones((3, 4))))
    loaded_a, loaded_b = g.fgraph.inputs
    assert [str(d) for d in loaded_a.shape] == [str(d) for d in loaded_b.shape] == ["x.0", "x.1"]
    assert loaded_a.shape[0] != loaded_b.shape[0]  # both print as x.0: two sizes
    with pytest.raises(gc.ShapeError, match="x.1 and x.0 must be equal, but x.1 = 3 and x.0 = 5"):
        g(np.ones((2, 3)), np.ones((5, 4)))
