"""Forward parity of the reductions, the linear algebra and the compound ops (softmax family, logsumexp,
one_hot, size, random numbers) on every backend against NumPy, passes off and on (tests/cases.py rows)."""

from __future__ import annotations

import numpy as np
import pytest
from cases import (
    F32,
    F64,
    I32,
    I64,
    A,
    B,
    C,
    Case,
    check_forward,
    ids,
    np_log_softmax,
    np_logsumexp,
    np_softmax,
)

import graphc as gc

CASES: list[Case] = []


def _red(name, axis=None, keepdims=False):
    gc_fn = getattr(gc, name)
    np_fn = getattr(np, name)
    return (lambda x: gc_fn(x, axis=axis, keepdims=keepdims)), (
        lambda x: np_fn(x, axis=axis, keepdims=keepdims)
    )


for _name in ("sum", "mean", "max", "min", "prod"):
    for _axis, _keep in [
        (None, False),
        (0, False),
        (-1, True),
        ((0, 2), False),
        ((0, 2), True),
        (None, True),
    ]:
        _b, _r = _red(_name, _axis, _keep)
        _label = "all" if _axis is None else str(_axis).replace(" ", "")
        CASES.append(
            C(
                f"{_name}_{_label}_keep{int(_keep)}",
                _b,
                _r,
                A((2, 3, 4), F64, 0.5, 1.5),
                exact=_name != "mean",
            )
        )
    for _dtype in (F32, I32, I64):
        _b, _r = _red(_name, 1)
        CASES.append(C(f"{_name}_{_dtype}", _b, _r, A((3, 4), _dtype, -3, 3), exact=_name != "mean"))
    _b, _r = _red(_name, 0)
    CASES.append(C(f"{_name}_symbolic", _b, _r, A((5, 3), decl=("n", 3)), exact=_name != "mean"))
CASES += [
    C("sum_bool", lambda x: gc.sum(x), np.sum, A((3, 4), B)),
    C("sum_0d", lambda x: x.sum(), np.sum, A((), F64)),
    C("sum_0d_axis_last", lambda x: gc.sum(x, axis=-1), lambda x: np.sum(x, axis=-1), A((), F64)),
    C("max_0d_axis_0", lambda x: gc.max(x, axis=0, keepdims=True), lambda x: np.max(x, axis=0), A((), F32)),
    C("sum_method_axes", lambda x: x.sum(axis=(1, 0)), lambda x: x.sum(axis=(1, 0)), A((3, 4))),
    C(
        "mean_of_square",
        lambda x: (x * x).mean(axis=-1),
        lambda x: (x * x).mean(axis=-1),
        A((3, 4), F32),
        exact=False,
    ),
    C("max_int_keep", lambda x: x.max(axis=0, keepdims=True), None, A((3, 4), I64, -9, 9)),
    C("argmax_all", lambda x: gc.argmax(x), np.argmax, A((3, 4))),
    C(
        "argmax_all_keep",
        lambda x: gc.argmax(x, keepdims=True),
        lambda x: np.argmax(x, keepdims=True),
        A((3, 4)),
    ),
    C("mean_bool_neg_axes", lambda x: x.mean(axis=(-1, 0)), lambda x: x.mean(axis=(-1, 0)), A((2, 3, 4), B)),
    C("argmax_0", lambda x: gc.argmax(x, axis=0), lambda x: np.argmax(x, axis=0), A((3, 4), F32)),
    C(
        "argmax_last_keep",
        lambda x: gc.argmax(x, -1, keepdims=True),
        lambda x: np.argmax(x, -1, keepdims=True),
        A((2, 3, 4)),
    ),
    C("argmax_int", lambda x: x.argmax(axis=1), lambda x: x.argmax(axis=1), A((3, 4), I32, -9, 9)),
    C("argmax_ties", lambda x: gc.argmax(x, 1), lambda x: np.argmax(x, 1), A((4, 5), F64, 0, 2, ties=True)),
    C("argmax_symbolic", lambda x: gc.argmax(x, 1), lambda x: np.argmax(x, 1), A((6, 3), decl=("n", 3))),
]

CASES += [
    C("matmul_mm", lambda a, b: a @ b, None, A((3, 4)), A((4, 5))),
    C("matmul_mm_f32", lambda a, b: a @ b, None, A((3, 4), F32), A((4, 5), F32)),
    C("matmul_vm", lambda a, b: a @ b, None, A((4,)), A((4, 5))),
    C("matmul_mv", lambda a, b: a @ b, None, A((3, 4)), A((4,))),
    C("matmul_vv", lambda a, b: a @ b, None, A((4,)), A((4,))),
    C("matmul_batch_m", lambda a, b: a @ b, None, A((2, 3, 4)), A((4, 5))),
    C("matmul_batch_batch", lambda a, b: a @ b, None, A((2, 3, 4), F32), A((2, 4, 5), F32)),
    C("matmul_batch_bcast", lambda a, b: a @ b, None, A((2, 1, 3, 4)), A((3, 4, 2))),
    C("matmul_batch_v", lambda a, b: a @ b, None, A((2, 3, 4)), A((4,))),
    C("matmul_int", lambda a, b: a @ b, None, A((3, 4), I64, -5, 5), A((4, 2), I64, -5, 5)),
    C("matmul_mixed", lambda a, b: a @ b, None, A((3, 4), I32, -5, 5), A((4, 2), F32)),
    C("matmul_symbolic", lambda a, b: a @ b, None, A((6, 4), F32, decl=("n", 4)), A((4, 3), F32)),
    C("matmul_symbolic_inner", lambda a, b: a @ b, None, A((2, 5), decl=(2, "k")), A((5, 3), decl=("k", 3))),
    C("dot_vv", gc.dot, np.dot, A((4,)), A((4,))),
    C("dot_mv", gc.dot, np.dot, A((3, 4)), A((4,))),
    C("dot_mm", gc.dot, np.dot, A((3, 4), F32), A((4, 2), F32)),
    C("dot_scalar", gc.dot, np.dot, A(()), A((4,))),
    C(
        "linear_layer",
        lambda x, W, b: gc.tanh(x @ W + b),
        lambda x, W, b: np.tanh(x @ W + b),
        A((5, 4), F32, decl=("n", 4)),
        A((4, 3), F32),
        A((3,), F32),
    ),
]

for _axis in (-1, 0):
    CASES += [
        C(
            f"softmax_{_axis}",
            lambda x, _a=_axis: gc.softmax(x, _a),
            lambda x, _a=_axis: np_softmax(x, _a),
            A((3, 4)),
            exact=False,
        ),
        C(
            f"log_softmax_{_axis}",
            lambda x, _a=_axis: gc.log_softmax(x, _a),
            lambda x, _a=_axis: np_log_softmax(x, _a),
            A((3, 4), F32),
            exact=False,
        ),
    ]
CASES += [
    C(
        "softmax_f32_3d",
        lambda x: gc.softmax(x, 1),
        lambda x: np_softmax(x, 1),
        A((2, 3, 4), F32),
        exact=False,
    ),
    C("softmax_0d", gc.softmax, lambda x: np_softmax(x, -1), A((), F64)),
    C("log_softmax_0d", gc.log_softmax, lambda x: np_log_softmax(x, -1), A((), F32)),
    C("softmax_large", gc.softmax, np_softmax, A((3, 4), F64, 500, 1000), exact=False),
    C("softmax_vector", gc.softmax, np_softmax, A((5,), F32), exact=False),
    C("log_softmax_large", gc.log_softmax, np_log_softmax, A((3, 4), F64, -1000, 1000), exact=False),
    C("softmax_symbolic", gc.softmax, np_softmax, A((6, 4), F32, decl=("n", 4)), exact=False),
    C("logsumexp_all", gc.logsumexp, np_logsumexp, A((3, 4)), exact=False),
    C(
        "logsumexp_1",
        lambda x: gc.logsumexp(x, 1),
        lambda x: np_logsumexp(x, 1),
        A((3, 4), F32),
        exact=False,
    ),
    C(
        "logsumexp_keep",
        lambda x: gc.logsumexp(x, (0, 2), keepdims=True),
        lambda x: np_logsumexp(x, (0, 2), True),
        A((2, 3, 4)),
        exact=False,
    ),
    C(
        "logsumexp_large",
        lambda x: gc.logsumexp(x, -1),
        lambda x: np_logsumexp(x, -1),
        A((3, 4), F64, 800, 900),
        exact=False,
    ),
    C("one_hot", lambda t: gc.one_hot(t, 4), lambda t: np.eye(4)[t], A((5,), I64, 0, 3)),
    C("size", lambda x: gc.size(x) * x, lambda x: x.size * x, A((5, 4), F64, decl=("n", 4))),
    C(
        "size_axis_int",
        lambda x: gc.size(x, axis=0, dtype="int32") + gc.cast(gc.argmax(x, axis=1), "int32"),
        lambda x: np.int32(x.shape[0]) + np.argmax(x, axis=1).astype(np.int32),
        A((6, 3), F32, decl=("n", "m")),
    ),
    C(
        "one_hot_f32_2d",
        lambda t: gc.one_hot(t, 3, F32),
        lambda t: np.eye(3, dtype=F32)[t],
        A((2, 3), I32, 0, 2),
    ),
    C("one_hot_int", lambda t: gc.one_hot(t, 5, I64), lambda t: np.eye(5, dtype=I64)[t], A((4,), I64, 0, 4)),
    # random_uniform's reference is its own documented hash; here every backend must give the same bits
    C(
        "random_uniform",
        lambda c: gc.nn.random_uniform(c, (3, 4), 7) + gc.nn.random_uniform(c, (4,), 8, F32),
        lambda c: gc.ops.random_uniform(c, (3, 4), 7, F64) + gc.ops.random_uniform(c, (4,), 8, F32),
        A((), I64, 0, 100),
    ),
    C(
        "one_hot_symbolic",
        lambda t: gc.one_hot(t, 3) * 2.0,
        lambda t: np.eye(3)[t] * 2.0,
        A((6,), I64, 0, 2, decl=("n",)),
    ),
    C(
        "cross_entropy",
        lambda x, t: -(gc.one_hot(t, 4) * gc.log_softmax(x)).sum(axis=1).mean(),
        lambda x, t: -(np.eye(4)[t] * np_log_softmax(x)).sum(axis=1).mean(),
        A((5, 4), F64, decl=("n", 4)),
        A((5,), I64, 0, 3, decl=("n",)),
        exact=False,
    ),
]


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


# --- empty axes (issue 17) ----------------------------------------------------------------------------------
NO_IDENTITY = {"max": lambda x: gc.max(x, axis=0), "min": gc.min, "argmax": lambda x: gc.argmax(x, axis=0)}


@pytest.mark.parametrize("name", sorted(NO_IDENTITY))
def test_max_min_argmax_of_nothing_are_errors_naming_the_input_and_axis(name: str, backend: str) -> None:
    """A static empty axis is refused when the node is built; a named one at the call, before any backend
    runs (NumPy's raw ValueError before)."""
    with pytest.raises(
        gc.ShapeError, match=rf"{name} over axis 0 of x \(float64 \(0, 3\)\): the axis has no"
    ):
        NO_IDENTITY[name](gc.tensor("x", (0, 3)))
    x = gc.tensor("x", ("n", 3))
    f = gc.function([x], NO_IDENTITY[name](x) * 1, backend=backend)
    with pytest.raises(
        gc.ShapeError, match=r"axis 0 of x \(float64 \(n, 3\)\): the axis has n = 0 elements"
    ) as e:
        f(np.zeros((0, 3)))
    assert "built at" in str(e.value) and __file__.rsplit("/", 1)[-1] in str(e.value)
    np.testing.assert_array_equal(f(np.ones((2, 3))), _np_reduce(name)(np.ones((2, 3))))
    g = gc.function([x], gc.max(x, axis=1), backend=backend)  # the other axis may be empty-handed: no rows
    assert g(np.zeros((0, 3))).shape == (0,)


def _np_reduce(name):
    return {"max": lambda a: np.max(a, axis=0), "min": np.min, "argmax": lambda a: np.argmax(a, axis=0)}[name]


EMPTY_OK = {
    "sum": (lambda x: gc.sum(x, axis=0), np.zeros(3)),
    "prod": (lambda x: gc.prod(x, axis=0), np.ones(3)),
    "mean": (lambda x: gc.mean(x, axis=0), np.full(3, np.nan)),  # NaN, without NumPy's warning
    "logsumexp": (lambda x: gc.logsumexp(x, axis=0), np.full(3, -np.inf)),  # the log of an empty sum
    "softmax": (lambda x: gc.softmax(x, axis=0), np.zeros((0, 3))),
    "log_softmax": (lambda x: gc.log_softmax(x, axis=0), np.zeros((0, 3))),
}


@pytest.mark.parametrize("name", sorted(EMPTY_OK))
def test_reductions_with_a_value_for_an_empty_axis(name: str, backend: str) -> None:
    build, want = EMPTY_OK[name]
    x = gc.tensor("x", ("n", 3))
    got = gc.function([x], build(x), backend=backend)(np.zeros((0, 3)))
    np.testing.assert_array_equal(got, want)
