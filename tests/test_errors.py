"""Each kind of bad input gives a clear graphc error. Owns these checks; knows no backend internals.

Build-time errors name the variables, what was expected and what was given, and the user's file:line.
Call-time errors name the input and say what is wrong with it. Every message is asserted, not just the type.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import graphc as gc

HERE = re.escape(__file__)


def here() -> int:
    """The caller's line number: `value, line = build(), here()` records where `value` was built."""
    return sys._getframe(1).f_lineno


def raises_at_line(error: type, build, *fragments: str) -> str:
    """Run `build` (a one-line lambda), expect `error` whose message has every fragment and this file:line."""
    line = build.__code__.co_firstlineno
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert re.search(rf"built at {HERE}:{line}\b", message), f"no 'built at {__file__}:{line}' in {message!r}"
    assert isinstance(info.value, gc.GraphcError)
    return message


@pytest.fixture
def v():
    """A few named variables to build bad graphs from."""

    class Vars:
        x = gc.tensor("x", ("n", 784), "float32")
        b = gc.tensor("b", (10,), "float32")
        W = gc.tensor("W", (100, 10), "float32")
        y = gc.tensor("y", ("m",), "float64")
        z = gc.tensor("z", ("n",), "float64")
        i = gc.tensor("i", (4,), "int32")
        mask = gc.tensor("mask", (4,), "bool")

    return Vars


# -- build time: shapes -------------------------------------------------------------------------------------
def test_broadcast_mismatch(v) -> None:
    raises_at_line(gc.ShapeError, lambda: v.x + v.b, "x (float32 (n, 784))", "b (float32 (10,))", "784 vs 10")


def test_symbolic_broadcast_mismatch(v) -> None:
    # a named size is never assumed equal to another name (or to 1)
    raises_at_line(gc.ShapeError, lambda: v.y * v.z, "y (float64 (m,))", "z (float64 (n,))", "m vs n")


def test_matmul_inner_mismatch(v) -> None:
    raises_at_line(
        gc.ShapeError,
        lambda: v.x @ v.W,
        "matmul",
        "x (float32 (n, 784))",
        "W (float32 (100, 10))",
        "784 vs 100",
    )


def test_matmul_of_a_scalar(v) -> None:
    raises_at_line(
        gc.ShapeError, lambda: gc.matmul(gc.scalar("s"), v.W), "cannot multiply a scalar", "s (float64 ())"
    )


def test_reshape_sizes_differ(v) -> None:
    raises_at_line(
        gc.ShapeError, lambda: v.W.reshape(3, 7), "W (float32 (100, 10))", "(3, 7)", "sizes differ"
    )
    raises_at_line(
        gc.ShapeError, lambda: v.W.reshape(3, -1), "W (float32 (100, 10))", "(3, -1)", "do not divide"
    )
    raises_at_line(gc.ShapeError, lambda: v.W.reshape(-1, -1), "only one dimension can be -1")


def test_concatenate_and_stack_mismatch(v) -> None:
    raises_at_line(gc.ShapeError, lambda: gc.concatenate([v.W, v.b]), "b (float32 (10,))", "different ranks")
    raises_at_line(gc.ShapeError, lambda: gc.concatenate([v.W, v.W.T], axis=1), "differ in dimension 0")
    # stack is built from expand_dims and concatenate inside graphc; the error still points here
    raises_at_line(gc.ShapeError, lambda: gc.stack([v.W, v.W.T]), "differ in dimension")


def test_bad_axes_and_indices(v) -> None:
    raises_at_line(
        gc.ShapeError, lambda: v.x.sum(axis=2), "sum: axis 2 is out of range for x (float32 (n, 784))"
    )
    raises_at_line(gc.ShapeError, lambda: v.x.sum(axis=(1, -1)), "repeated axis")
    raises_at_line(gc.ShapeError, lambda: gc.softmax(v.b, axis=1), "softmax: axis 1 is out of range")
    raises_at_line(
        gc.ShapeError, lambda: gc.transpose(v.W, (0, 0)), "(0, 0) is not a permutation", "W (float32"
    )
    raises_at_line(
        gc.ShapeError, lambda: v.b[10], "index 10 is out of bounds for axis 0 of b (float32 (10,))"
    )
    raises_at_line(gc.ShapeError, lambda: v.b[1, 2], "too many indices (2) for b")
    raises_at_line(gc.ShapeError, lambda: v.b[[1, 20]], "index 20", "axis 0 of b (float32 (10,))")
    raises_at_line(gc.GraphcError, lambda: v.b[v.b > 0], "depends on the data", "gc.where")
    raises_at_line(
        gc.ShapeError, lambda: gc.squeeze(v.W, 0), "axis 0 of W (float32 (100, 10)) has size 100, not 1"
    )
    raises_at_line(gc.ShapeError, lambda: gc.broadcast_to(v.b, (3, 4)), "b (float32 (10,))", "10 vs 4")
    raises_at_line(
        gc.ShapeError, lambda: gc.dot(gc.tensor("t", (2, 2, 2)), v.W), "dot takes vectors and matrices"
    )


# -- build time: dtypes -------------------------------------------------------------------------------------
def test_dtype_mismatches(v) -> None:
    raises_at_line(gc.DTypeError, lambda: gc.where(v.z, v.z, v.z), "condition z (float64 (n,)) must be bool")
    raises_at_line(gc.DTypeError, lambda: v.mask & v.b[:4], "and takes bool or integer", "float32 (4,)")
    raises_at_line(gc.DTypeError, lambda: gc.softmax(v.i), "softmax needs a float input, got i (int32 (4,))")
    raises_at_line(gc.DTypeError, lambda: gc.logsumexp(v.i), "logsumexp needs a float input")
    raises_at_line(gc.DTypeError, lambda: gc.one_hot(v.z, 3), "labels must be integers, got z (float64 (n,))")
    raises_at_line(gc.DTypeError, lambda: v.mask @ v.mask, "bool operands are not supported")
    raises_at_line(gc.DTypeError, lambda: -v.mask, "neg cannot take mask (bool (4,))")
    raises_at_line(gc.DTypeError, lambda: v.i + 2**40, "1099511627776 does not fit i (int32 (4,))")
    raises_at_line(gc.DTypeError, lambda: gc.cast(v.i, "float16"), "cast of i (int32 (4,))", "float16")


def test_leaves_reject_bad_types() -> None:
    with pytest.raises(gc.DTypeError, match="unsupported dtype float16; graphc supports float32, float64"):
        gc.tensor("h", (2,), "float16")
    with pytest.raises(gc.DTypeError, match="unknown dtype 'floaty'"):
        gc.tensor("h", (2,), "floaty")
    with pytest.raises(gc.ShapeError, match="cannot be negative"):
        gc.tensor("h", (-1,))
    with pytest.raises(gc.ShapeError, match="must be an identifier"):
        gc.tensor("h", ("n m",))
    with pytest.raises(gc.GraphcError, match="cannot use str 'abc' as a graph value"):
        gc.exp("abc")


def test_symbolic_values_refuse_python_control_flow(v) -> None:
    with pytest.raises(gc.GraphcError, match="no truth value; use gc.where"):
        bool(v.z > 0)
    with pytest.raises(gc.GraphcError, match="cannot be iterated"):
        list(v.b)


# -- gc.function: bad graphs --------------------------------------------------------------------------------
def test_unknown_backend() -> None:
    x = gc.vector("x")
    with pytest.raises(gc.BackendError, match=r"unknown backend 'cuda'; choose one of 'interp', 'numpy'"):
        gc.function([x], x * 2, backend="cuda")


def test_unknown_optimize_level() -> None:
    x = gc.vector("x")
    with pytest.raises(gc.GraphcError, match="unknown optimize level 'turbo'"):
        gc.function([x], x * 2, optimize="turbo")


def test_update_of_a_non_shared_variable() -> None:
    x = gc.vector("x")
    with pytest.raises(
        gc.GraphError, match=r"only shared variables can be updated, not <Variable x.*use gc.shared"
    ):
        gc.function([x], x.sum(), updates={x: x + 1})


def test_update_with_wrong_dtype_or_shape() -> None:
    W = gc.shared(np.zeros((2, 3), np.float32), name="W")
    x = gc.tensor("x", (2, 3), "float64")
    new_W, line = W + x, here()
    with pytest.raises(gc.GraphError) as info:
        gc.function([x], x.sum(), updates={W: new_W})
    message = str(info.value)
    assert "W (float32 (2, 3)) has type float64(2, 3); it must keep float32(2, 3)" in message
    assert f"built at {__file__}:{line}" in message  # where the new value was built
    with pytest.raises(gc.GraphError, match=r"W \(float32 \(2, 3\)\) has type float32\(3,\)"):
        gc.function([x], x.sum(), updates={W: W.sum(axis=0)})
    with pytest.raises(gc.GraphError, match="'?W'? is updated twice"):
        gc.function([x], x.sum(), updates=[(W, W * 2), (W, W * 3)])


def test_outputs_depending_on_a_missing_input() -> None:
    x, y = gc.vector("x"), gc.vector("y")
    with pytest.raises(gc.InputError, match=r"depend on input <Variable y: .*not among the inputs \['x'\]"):
        gc.function([x], x + y)


def test_bad_inputs_list() -> None:
    x = gc.vector("x")
    W = gc.shared(np.zeros(3), name="W")
    with pytest.raises(gc.InputError, match="appears twice in the inputs"):
        gc.function([x, x], x * 2)
    with pytest.raises(gc.InputError, match="cannot be an input.*shared variables are read implicitly"):
        gc.function([x, W], x * W.sum())
    with pytest.raises(gc.InputError, match="cannot be an input"):
        gc.function([x * 2], x * 2)
    with pytest.raises(gc.InputError, match="inputs must be symbolic Variables"):
        gc.function([np.zeros(3)], x * 2)


def test_size_that_no_input_gives() -> None:
    x = gc.tensor("x", (3,))
    y, line = gc.broadcast_to(x, ("m", 3)), here()
    with pytest.raises(gc.ShapeError) as info:
        gc.function([x], y.sum())
    message = str(info.value)
    assert "broadcast_to makes a value of shape (m, 3), but no input's shape gives the size m" in message
    assert f"built at {__file__}:{line}" in message


def test_cycle_is_reported() -> None:
    # Nodes are immutable through the API; a cycle needs deliberate surgery, and is still reported clearly.
    x = gc.vector("x")
    a = gc.exp(x)
    b = a * 2.0
    a.owner.inputs = (b,)
    with pytest.raises(gc.GraphError, match="the graph has a cycle through <Node"):
        gc.function([x], b)


# -- call time ----------------------------------------------------------------------------------------------
@pytest.fixture
def f2(backend: str):
    x = gc.tensor("x", ("n", 3), "float32")
    y = gc.tensor("y", ("n",), "float32")
    return gc.function([x, y], (x.sum(axis=1) * y).sum(), backend=backend)


def test_call_arity(f2) -> None:
    with pytest.raises(gc.InputError, match=r"expected 2 inputs \(x, y\), got 1"):
        f2(np.zeros((2, 3), np.float32))
    with pytest.raises(gc.InputError, match=r"expected 2 inputs \(x, y\), got 3"):
        f2(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32))


def test_call_dtype(f2) -> None:
    with pytest.raises(
        gc.DTypeError, match=r"x: expected float32, got float64; converting would lose precision"
    ):
        f2(np.zeros((2, 3)), np.zeros(2, np.float32))
    with pytest.raises(gc.DTypeError, match="y: expected float32, got int64"):
        f2(np.zeros((2, 3), np.float32), np.zeros(2, np.int64))
    with pytest.raises(gc.DTypeError, match="y: expected float32, got str32 values"):
        f2(np.zeros((2, 3), np.float32), ["a", "b"])
    with pytest.raises(gc.DTypeError, match="y: expected float32, got object values"):
        f2(np.zeros((2, 3), np.float32), [object(), object()])


def test_call_python_ints_must_fit(backend: str) -> None:
    i = gc.vector("i", 3, "int32")
    f = gc.function([i], i * 2, backend=backend)
    np.testing.assert_array_equal(f([-(2**31), 0, 2**31 - 1]), np.array([0, 0, -2], np.int32))  # int32 math
    with pytest.raises(gc.DTypeError, match="i: the value 1099511627776 does not fit in int32"):
        f([1, 2, 2**40])  # would have wrapped to 0
    with pytest.raises(gc.DTypeError, match="i: the value -2147483649 does not fit in int32"):
        f([-(2**31) - 1, 0, 0])
    n = gc.scalar("n", "int64")
    with pytest.raises(gc.DTypeError, match="does not fit in int64"):
        gc.function([n], n, backend=backend)(2**64 - 1)


def test_call_rank_and_fixed_sizes(f2) -> None:
    with pytest.raises(
        gc.ShapeError, match=r"x: expected 2 dimensions with shape \(n, 3\), got shape \(6,\)"
    ):
        f2(np.zeros(6, np.float32), np.zeros(2, np.float32))
    with pytest.raises(
        gc.ShapeError, match=r"x: expected shape \(n, 3\), got \(2, 4\) \(dimension 1 is 4, not 3\)"
    ):
        f2(np.zeros((2, 4), np.float32), np.zeros(2, np.float32))


def test_call_symbolic_sizes_must_agree(f2) -> None:
    with pytest.raises(gc.ShapeError, match=r"y: dimension 0 is 'n' = 5, but 'n' = 2 from an earlier input"):
        f2(np.zeros((2, 3), np.float32), np.zeros(5, np.float32))
    square = gc.tensor("sq", ("k", "k"))
    g = gc.function([square], square.T + square)
    np.testing.assert_array_equal(g(np.eye(3)), 2 * np.eye(3))
    with pytest.raises(gc.ShapeError, match=r"sq: dimension 1 is 'k' = 3, but 'k' = 2"):
        g(np.zeros((2, 3)))


def test_errors_leave_the_function_usable(f2) -> None:
    with pytest.raises(gc.ShapeError):
        f2(np.zeros((2, 3), np.float32), np.zeros(5, np.float32))
    assert f2(np.ones((2, 3), np.float32), np.ones(2, np.float32)) == 6.0


def test_set_value_checks() -> None:
    W = gc.shared(np.zeros((2, 3), np.float32), name="W")
    with pytest.raises(gc.ShapeError, match=r"set_value of W: expected shape \(2, 3\), got \(3, 2\)"):
        W.set_value(np.zeros((3, 2), np.float32))
    W.set_value(np.ones((2, 3)))  # float64 -> float32 is the same kind: accepted, stored as float32
    assert W.get_value().dtype == np.float32
    counts = gc.shared(np.zeros(3, np.int64), name="counts")
    with pytest.raises(gc.DTypeError, match="set_value of counts: expected int64, got float64"):
        counts.set_value(np.ones(3))


def test_symbolic_indexing_needs_a_large_enough_size(backend: str) -> None:
    # x[:3] has 3 rows and x[2:] has n - 2 by its type; a call with a smaller n is refused before running
    x = gc.tensor("x", ("n", 2))
    head, line = x[:3], here()
    f = gc.function([x], [head.sum(), x[2:].sum(), x[-4].sum()], backend=backend)
    assert [float(r) for r in f(np.ones((4, 2)))] == [6.0, 4.0, 2.0]
    with pytest.raises(gc.ShapeError) as info:
        f(np.ones((2, 2)))
    message = str(info.value)
    assert "getitem of x (float64 (n, 2)): axis 0 has n = 2, so the slice has 2, not 3" in message
    assert f"built at {__file__}:{line}" in message
    with pytest.raises(
        IndexError, match="axis 0 has n = 3, so index -4 is out of bounds"
    ):  # also a ShapeError
        f(np.ones((3, 2)))


def test_a_slice_bound_that_is_a_size_must_fit_a_static_axis(backend: str) -> None:
    """x[:n] of a 5-element x has n elements by its type (gradients slice so): n = 7 at a call is refused."""
    x, y = gc.vector("x", 5), gc.vector("y", "n")
    f = gc.function([x, y], x[: gc.types.symbol("n")] * y, backend=backend)
    np.testing.assert_array_equal(f(np.arange(5.0), np.ones(3)), [0.0, 1.0, 2.0])
    with pytest.raises(gc.ShapeError, match="axis 0 has 5, so the slice has 5, not n"):
        f(np.arange(5.0), np.ones(7))


# -- gc.nn, gc.optim, gc.train: bad arguments are graphc errors too, at the user's line ----------------------
x4, img = gc.tensor("x", ("n", 4), "float32"), gc.tensor("img", ("n", 2, 5, 5))
k3, seq = gc.tensor("k", (1, 3, 3, 3)), gc.tensor("seq", ("n", "T", 3))
labels, w2, RNG = gc.vector("t", dtype="int64"), gc.shared(np.zeros(2), name="w"), np.random.default_rng(0)
History, stopper = gc.training.History, gc.training.EarlyStopping([w2])
USER_LAYER = [  # (error, the bad call on one line, what its message must say)
    (gc.InputError, lambda: gc.nn.dropout(x4, 1.5, gc.nn.Mode()), "dropout: keep", "(0, 1], got 1.5"),
    (gc.InputError, lambda: gc.nn.dropout(x4, 0.5, gc.nn.Mode(), "x"), "'inverted' or 'weight', got 'x'"),
    (gc.InputError, lambda: gc.nn.mse(x4, x4, reduction="avg"), "'mean', 'sum' or 'none', got 'avg'"),
    (gc.InputError, lambda: gc.nn.l2_penalty([]), "l2_penalty: weights must hold", "got []"),
    (gc.InputError, lambda: gc.nn.label_smoothing(labels, 1), "k (the number of classes)", "got 1"),
    (gc.ShapeError, lambda: gc.nn.maxout(x4, 3), "maxout of x (float32 (n, 4))", "k = 3, got 4"),
    (gc.InputError, lambda: gc.nn.maxout(x4, 0), "maxout: k (pieces per unit)", "got 0"),
    (gc.ShapeError, lambda: gc.nn.conv2d(img, k3), "img (float64 (n, 2, 5, 5)) must have 3 channels", "k ("),
    (gc.ShapeError, lambda: gc.nn.conv2d(x4, k3), "conv2d: the input must be NCHW", "x (float32 (n, 4))"),
    (gc.ShapeError, lambda: gc.nn.conv1d(img, k3), "conv1d: the input must be (n, channels, length)"),
    (gc.ShapeError, lambda: gc.nn.max_pool2d(img, 6), "max_pool2d: a 6×6 window does not fit the 5×5 img"),
    (gc.InputError, lambda: gc.nn.avg_pool2d(img, 2, stride=0), "avg_pool2d: stride must be", "got 0"),
    (gc.ShapeError, lambda: gc.nn.SimpleRNN(3, 2)(seq), "SimpleRNN: xs must be", "seq (float64 (n, T, 3))"),
    (gc.InputError, lambda: gc.nn.Dense(2, 3, init="he"), "Dense dense: init must be one of", "got 'he'"),
    (gc.ShapeError, lambda: gc.nn.Dense(2, 3, init=np.zeros((3, 2))), "must have shape (2, 3), got (3, 2)"),
    (gc.InputError, lambda: gc.nn.init.sparse(4, 2, 5, RNG), "sparse: k", "in 1..4 (m), got 5"),
    (gc.ShapeError, lambda: gc.nn.init.uniform((5,), RNG), "at least 2 dimensions", "got (5,)"),
    (gc.InputError, lambda: gc.optim.sgd([w2, w2], [w2]), "one gradient per parameter (1), got 2"),
    (gc.GraphError, lambda: gc.optim.momentum([x4], [x4]), "params must be shared", "got <Variable x"),
    (gc.InputError, lambda: gc.optim.nesterov([w2], [w2]), "nesterov: expected the cost", "got list"),
    (gc.InputError, lambda: gc.optim.ConjugateGradient(w2.sum(), [w2], beta="hs"), "beta", "got 'hs'"),
    (gc.InputError, lambda: gc.train(print, [()], early_stopping=stopper), "early_stopping needs validate="),
    (gc.InputError, lambda: gc.train(lambda: np.ones(3), [()], progress=False), "step_fn", "shape (3,)"),
    (gc.InputError, lambda: gc.training.retrain_for_best_steps(print, print, [], History()), "stopped must"),
    (gc.InputError, lambda: gc.training.minibatches(np.ones(3), np.ones(2), batch_size=2), "lengths [3, 2]"),
    (gc.InputError, lambda: gc.training.minibatches(np.ones(3), batch_size=0), "batch_size 0"),
    (gc.InputError, lambda: gc.optim.Newton(w2.sum() * 0, [w2]).step(), "singular (damping = 0.0)"),
]  # fmt: skip


@pytest.mark.parametrize("case", USER_LAYER, ids=lambda case: f"line{case[1].__code__.co_firstlineno}")
def test_user_layer_errors(case) -> None:
    raises_at_line(case[0], case[1], *case[2:])
