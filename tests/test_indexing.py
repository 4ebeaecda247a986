"""x[array] with NumPy's placement of axes, the clear refusals (data-dependent shapes, several arrays,
constant indices out of range), and the data-dependent ops' values and gradients against PyTorch (cumprod
at zeros, cummax ties, logcumsumexp, stable sort, topk, embedding)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphc as gc
from graphc.errors import DTypeError, GraphcError, IndexOutOfBounds, IndexOutOfRange, ShapeError

IDS = np.array([[0, -1], [2, 1]])
INDEXES = {
    "rows": (IDS,),
    "middle": (slice(None), IDS),
    "ellipsis_last": (Ellipsis, IDS),
    "int_adjacent": (0, IDS),
    "array_then_int": (IDS, 0),
    "int_apart": (0, slice(None), IDS),
    "array_apart": (IDS, slice(None), -1),
    "newaxis_first": (None, IDS),
    "newaxis_after": (IDS, None),
    "slices_around": (slice(1, None), IDS, slice(None, None, 2)),
    "ellipsis_apart": (0, Ellipsis, IDS),
    "empty_ellipsis_apart": (slice(None), 0, Ellipsis, IDS),
    "list": ([0, -1, 0],),
    "0d_array": (np.array(1),),
    "mask_rows": (np.array([True, False, True]),),
    "mask_2d": (np.arange(12).reshape(3, 4) % 3 == 0,),
    "mask_middle": (slice(None), np.array([False, True, True, False])),
    "mask_then_int": (np.array([True, False, True]), 1),
    "mask_after_ellipsis": (Ellipsis, np.array([True, False, False, True, True])),
}


@pytest.mark.parametrize("index", INDEXES.values(), ids=INDEXES.keys())
def test_advanced_index_places_axes_as_numpy(index) -> None:
    a = np.arange(60.0).reshape(3, 4, 5)
    x = gc.tensor("x", (3, 4, 5))
    y = x[index]
    expected = a[index]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(gc.function([x], y, backend="interp")(a), expected)


def test_index_by_graph_values(backend: str) -> None:
    """Integer graph values index like arrays (0-d ones like ints read from the data), NumPy's placement."""
    x, ids, i = gc.tensor("x", (3, 4, 5)), gc.vector("ids", dtype="int32"), gc.scalar("i", dtype="int64")
    f = gc.function([x, ids, i], [x[ids], x[:, i], x[i, ids[0]], x[i, :, ids], x[1, i, ids]], backend=backend)
    a = np.arange(60.0).reshape(3, 4, 5)
    d, k = np.array([2, -3, 1], np.int32), np.int64(-1)
    for g, e in zip(f(a, d, k), [a[d], a[:, k], a[k, d[0]], a[k, :, d], a[1, k, d]], strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize(
    "index, error, words",
    [
        (lambda m, ids: (m,), GraphcError, ["depends on the data", "gc.where(m, x, 0)"]),
        (lambda m, ids: (ids, ids), GraphcError, ["2 arrays", "take_along_axis"]),
        (lambda m, ids: ([0.5, 1.0],), GraphcError, ["integers or booleans", "float64"]),
        (lambda m, ids: (np.array([True, False]),), ShapeError, ["mask of shape (2,)", "x (float64 (4, 3))"]),
        (lambda m, ids: ([0, 4],), IndexOutOfBounds, ["index 4", "axis 0 of x", "size 4", "[-4, 4)"]),
        (lambda m, ids: (slice(None), [-4]), IndexOutOfBounds, ["index -4", "axis 1", "size 3"]),
    ],
    ids=["bool_value", "two_arrays", "float_list", "mask_shape", "constant_too_big", "constant_too_small"],
)
def test_index_refusals_are_clear(index, error, words) -> None:
    x, m, ids = gc.tensor("x", (4, 3)), gc.tensor("m", (4, 3), "bool"), gc.vector("ids", dtype="int64")
    with pytest.raises(error) as info:
        x[index(m, ids)]
    for word in words:
        assert word in str(info.value)
    assert "test_indexing.py" in str(info.value)  # the user's line


def test_builder_refusals() -> None:
    x = gc.tensor("x", (4, 3))
    with pytest.raises(DTypeError, match="indices must be integers"):
        gc.take(x, gc.vector("f"))
    with pytest.raises(ShapeError, match="0-d"):
        gc.take(gc.scalar("s"), [0], axis=0)
    with pytest.raises(ShapeError, match="k must be an int in"):
        gc.topk(x, 4)
    with pytest.raises(ShapeError, match="rank"):
        gc.take_along_axis(x, gc.vector("i", dtype="int64"), axis=0)
    with pytest.raises(DTypeError, match="logcumsumexp needs a float"):
        gc.logcumsumexp(gc.vector("n", dtype="int64"))
    with pytest.raises(DTypeError, match="cannot add"):
        gc.scatter_add(gc.vector("k", 4, "int64"), [0], 0.5)


# --- against PyTorch ----------------------------------------------------------------------------------------
def _torch_grad(fn, a, g):
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    out = fn(t)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), t.grad.numpy()


def _ours(fn, a, g, backend):
    x = gc.tensor("x", a.shape)
    y = fn(x)
    (gx,) = gc.grad(gc.sum(y * g), [x])
    return gc.function([x], [y, gx], backend=backend)(a)


ZEROS = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, -2.0, 0.5, 3.0], [1.0, 2.0, 3.0, 4.0, 0.0],
                  [0.7, -1.2, 0.4, 2.0, 1.1]])  # fmt: skip


TORCH = {  # name: (ours, PyTorch's, input)
    "cumprod_zeros": (lambda x: gc.cumprod(x, axis=1), lambda t: t.cumprod(1), ZEROS),
    "cumprod_zeros_axis0": (lambda x: gc.cumprod(x, axis=0), lambda t: t.cumprod(0), ZEROS),
    "cummax_ties": (lambda x: gc.cummax(x, axis=1), lambda t: t.cummax(1).values, np.round(ZEROS)),
    "cummin_ties": (lambda x: gc.cummin(x, axis=0), lambda t: t.cummin(0).values, np.round(ZEROS)),
    "logcumsumexp": (lambda x: gc.logcumsumexp(x, axis=1), lambda t: t.logcumsumexp(1), ZEROS * 300),
    "sort_descending_ties": (
        lambda x: gc.sort(x, axis=1, descending=True),
        lambda t: t.sort(dim=1, descending=True, stable=True).values,
        np.round(ZEROS),
    ),
    "topk": (lambda x: gc.topk(x, 3)[0], lambda t: t.topk(3).values, ZEROS),
    "embedding": (lambda x: gc.nn.embedding(IDS, x), lambda t: t[IDS], ZEROS),
}


@pytest.mark.parametrize("ours, theirs, a", TORCH.values(), ids=TORCH.keys())
def test_values_and_gradients_match_torch(ours, theirs, a, backend: str) -> None:
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).uniform(-1.5, 1.5, tuple(theirs(torch.tensor(a)).shape))
    expected, expected_grad = _torch_grad(theirs, a, g)
    got, got_grad = _ours(ours, a, g, backend)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_grad, expected_grad, rtol=1e-10, atol=1e-12)


def test_sort_and_topk_indices_match_torch() -> None:
    torch = pytest.importorskip("torch")
    a = np.round(ZEROS)
    x = gc.tensor("x", a.shape)
    values, indices = gc.topk(x, 2, axis=0)
    got = gc.function([x], [gc.argsort(x, descending=True), gc.argsort(x), values, indices])(a)
    t = torch.tensor(a)
    np.testing.assert_array_equal(got[0], t.sort(dim=-1, descending=True, stable=True).indices.numpy())
    np.testing.assert_array_equal(got[1], t.sort(dim=-1, stable=True).indices.numpy())
    np.testing.assert_array_equal(got[2], t.topk(2, dim=0).values.numpy())


def test_scatter_add_is_the_transpose_of_take(backend: str) -> None:
    """<take(x, i), u> = <x, scatter_add(0, i, u)>: each is the other's VJP."""
    rng = np.random.default_rng(1)
    a, u, i = (
        rng.standard_normal((5, 3)),
        rng.standard_normal((2, 4, 3)),
        np.array([[0, 4, 4, -1], [2, 2, 0, 1]]),
    )
    x, up = gc.tensor("x", (5, 3)), gc.tensor("u", (2, 4, 3))
    lhs = gc.sum(gc.take(x, i, axis=0) * up)
    rhs = gc.sum(x * gc.scatter_add(np.zeros((5, 3)), i, up))
    f = gc.function([x, up], [lhs, rhs], backend=backend)
    left, right = f(a, u)
    np.testing.assert_allclose(left, right, rtol=1e-12)


def test_onnx_export_says_what_it_cannot_write() -> None:
    pytest.importorskip("onnx")
    x, ids = gc.matrix("x", (4, 3)), gc.vector("ids", dtype="int64")
    with pytest.raises(GraphcError, match="cumprod has no ONNX equivalent"):
        gc.onnx.export(gc.fgraph.FunctionGraph([x], [gc.cumprod(x, axis=1)]))
    graph = gc.fgraph.FunctionGraph([x, ids], [gc.scatter_add(x, ids, 1.0)])
    with pytest.raises(GraphcError, match="scatter_add needs ONNX opset 16 or later"):
        gc.onnx.export(graph, opset=13)


# --- indices are data: checked at every call, on every backend ----------------------------------------------
def _embedding_step(backend: str):
    E = gc.shared(np.ones((5, 3)), name="E")
    ids = gc.vector("ids", "n", dtype="int64")
    J = gc.sum(E[ids] ** 2)
    line = sys._getframe().f_lineno - 1
    (g,) = gc.grad(J, [E])
    return gc.function([ids], J, updates={E: E - 0.1 * g}, backend=backend), E, f"{__file__}:{line}"


@pytest.mark.parametrize("bad", [5, -6, 1000])
def test_an_index_out_of_range_raises_and_updates_nothing(backend: str, bad: int) -> None:
    step, E, where = _embedding_step(backend)
    step(np.array([0, -5, 4]))  # in range, negatives wrap: the step runs and updates
    before = E.get_value()
    with pytest.raises(IndexOutOfRange) as info:
        step(np.array([1, bad, 2]))
    err = info.value
    assert isinstance(err, GraphcError) and isinstance(err, IndexError)
    assert str(err).startswith(
        f"gather: index {bad} at position 1 of ids (int64 (n,)) is out of range for axis 0 of E "
        "(float64 (5, 3)), of size 5: indices must be in [-5, 5); nothing was updated"
    )
    assert str(err).endswith(f"built at {where}")
    assert (err.value, err.bound, err.position, err.name) == (bad, 5, 1, "ids")
    np.testing.assert_array_equal(E.get_value(), before)
    step(np.array([2, 3]))  # still usable


CHECKED = {  # every op that reads indices, with a bad index at flat position 3 of a (2, 3) index array
    "take": lambda x, i: gc.take(x, i, axis=1),
    "scatter_add": lambda x, i: gc.scatter_add(x, i, 1.0, axis=1),
    "take_along_axis": lambda x, i: gc.take_along_axis(x, i, axis=1),
    "scatter_add_along_axis": lambda x, i: gc.scatter_add_along_axis(x, i, 1.0, axis=1),
}


@pytest.mark.parametrize("build", CHECKED.values(), ids=CHECKED.keys())
def test_every_indexing_op_checks_where_it_reads(build, backend: str) -> None:
    """Sizes known only at call time: the bound is the call's size; the message is the interpreter's."""
    x, i = gc.tensor("x", ("n", "m")), gc.tensor("i", ("n", 3), "int32")
    f, reference = (gc.function([x, i], build(x, i), backend=b) for b in (backend, "interp"))
    a, good = np.ones((2, 4)), np.array([[0, -4, 3], [1, 1, 2]], np.int32)
    np.testing.assert_array_equal(f(a, good), reference(a, good))
    bad = good.copy()
    bad[1, 0], bad[1, 2] = 4, -9
    with pytest.raises(IndexOutOfRange) as got:
        f(a, bad)
    with pytest.raises(IndexOutOfRange) as expected:
        reference(a, bad)
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0]
    assert "index 4 at position 3 (C order) of i (int32 (n, 3))" in str(got.value)
    assert "for axis 1 of x (float64 (n, m)), of size 4: indices must be in [-4, 4)" in str(got.value)


@pytest.mark.parametrize(
    "loss",
    [
        lambda z, t: gc.nn.softmax_cross_entropy(z, t),
        lambda z, t: gc.nn.cross_entropy(gc.nn.softmax(z), t),
        lambda z, t: gc.sum(gc.nn.label_smoothing(t, 3) * z),
    ],
    ids=["softmax_cross_entropy", "cross_entropy", "label_smoothing"],
)
def test_losses_refuse_labels_out_of_range(loss, backend: str) -> None:
    """The classic "labels 1..K" bug is an error naming the labels and the bad value, not a silent 0 loss."""
    z, t = gc.matrix("logits", ("n", 3)), gc.vector("t", "n", dtype="int64")
    f = gc.function([z, t], loss(z, t), backend=backend)
    f(np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(IndexOutOfRange, match=r"label 3 at index 1 of t \(int64 \(n,\)\).*\[0, 3\)"):
        f(np.zeros((2, 3)), np.array([1, 3]))
