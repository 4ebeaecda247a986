"""Forward parity and gradients of the data-dependent ops (gathers, scatter-adds, scans, sorting) on every
backend, passes off and on: the CASES rows against NumPy (np.take, np.add.at, np.cumsum, ...), the GRAD_CASES
rows against central differences. Indices are drawn over [-size, size): negative ones wrap as in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from cases import F32, I32, I64, A, B, C, Case, G, check_forward, check_gradient, ids

import graphc as gc

CASES: list[Case] = []


def np_scatter_add(a, indices, updates, axis=0):
    out = a.copy()
    k = indices.ndim
    np.add.at(
        np.moveaxis(out, axis, 0), indices, np.moveaxis(updates, list(range(axis, axis + k)), list(range(k)))
    )
    return out


def np_scatter_add_along(a, indices, updates, axis):
    out = a.copy()
    grid = list(np.indices(indices.shape, sparse=True))
    grid[axis] = indices
    np.add.at(out, tuple(grid), updates)
    return out


def take_case(name: str, axis, *args) -> Case:
    return C(name, lambda x, i: gc.take(x, i, axis=axis), lambda x, i: np.take(x, i, axis=axis), *args)


ROWS = np.array([True, False, True, True])  # a constant mask over axis 0 of a (4, 3) value
CELLS = np.array([[True, False, True], [False, False, True], [True, True, False], [False, True, False]])

CASES += [
    take_case("take_rows", 0, A((5, 3)), A((6,), I64, -5, 4)),
    take_case("take_axis1_2d_indices", 1, A((2, 5, 3), F32), A((2, 3), I32, -5, 4)),
    C("take_flat", lambda x, i: gc.take(x, i), np.take, A((3, 4)), A((5,), I64, -12, 11)),
    take_case("take_0d_index", -1, A((3, 4)), A((), I64, -4, 3)),
    take_case("take_int_values", 0, A((4, 2), I32, -9, 9), A((3,), I64, -4, 3)),
    take_case("take_bool_values", 1, A((2, 4), B), A((3,), I32, -4, 3)),
    C(
        "take_symbolic",
        lambda x, i: gc.take(x, i, axis=0) * 2.0,
        lambda x, i: np.take(x, i, axis=0) * 2.0,
        A((6, 3), decl=("n", 3)),
        A((4,), I64, -6, 5, decl=("m",)),
    ),
    take_case("take_no_indices", 0, A((5, 3)), A((0,), I64)),
    take_case("take_zero_size_rows", 0, A((5, 0)), A((3,), I64, -5, 4)),
    C(
        "scatter_add_zero_size",
        lambda a, i, u: gc.scatter_add(a, i, u, axis=1),
        lambda a, i, u: np_scatter_add(a, i, u, 1),
        A((0, 4)),
        A((3,), I32, -4, 3),
        A((0, 3)),
    ),
    C("getitem_array", lambda x, i: x[:, i], None, A((3, 5)), A((2, 2), I64, -5, 4)),
    C("getitem_list", lambda x: x[[0, -1, 2, 0]], None, A((4, 3), F32)),
    C("getitem_array_int_apart", lambda x, i: x[0, :, i], None, A((2, 3, 4)), A((5,), I64, -4, 3)),
    C("getitem_array_then_slice", lambda x, i: x[i, 1:], None, A((4, 3)), A((2,), I32, -4, 3)),
    C("getitem_scalar_index", lambda x, i: x[i], None, A((4, 3)), A((), I64, -4, 3)),
    C("getitem_mask_rows", lambda x: x[ROWS], None, A((4, 3))),
    C("getitem_mask_cells", lambda x: x[CELLS] * 2.0, None, A((4, 3))),
    C(
        "scatter_add_rows",
        lambda a, i, u: gc.scatter_add(a, i, u),
        np_scatter_add,
        A((5, 3)),
        A((8,), I64, -5, 4),
        A((8, 3)),
    ),
    C(
        "scatter_add_axis1",
        lambda a, i, u: gc.scatter_add(a, i, u, axis=1),
        lambda a, i, u: np_scatter_add(a, i, u, 1),
        A((2, 4, 3), I32, -5, 5),
        A((2, 3), I64, -4, 3),
        A((2, 2, 3, 3), I32, -5, 5),
    ),
    C(
        "scatter_add_scalar",
        lambda a, i: gc.scatter_add(a, i, 1.0),
        lambda a, i: np_scatter_add(a, i, np.ones((6, 3))),
        A((4, 3)),
        A((6,), I64, -4, 3),
    ),
    C(
        "take_along_axis",
        lambda x, i: gc.take_along_axis(x, i, 1),
        lambda x, i: np.take_along_axis(x, i, 1),
        A((3, 4)),
        A((3, 5), I64, -4, 3),
    ),
    C(
        "take_along_axis_broadcast",
        lambda x, i: gc.take_along_axis(x, i, 0),
        lambda x, i: np.take_along_axis(x, np.broadcast_to(i, (2, 3)), 0),
        A((4, 3), F32),
        A((2, 1), I32, -4, 3),
    ),
    C(
        "scatter_add_along_axis",
        lambda a, i, u: gc.scatter_add_along_axis(a, i, u, 1),
        lambda a, i, u: np_scatter_add_along(a, i, u, 1),
        A((3, 4)),
        A((3, 6), I64, -4, 3),
        A((3, 6)),
    ),
]

SCANS = {
    "cumsum": lambda x, axis: np.cumsum(x, axis=axis),
    "cumprod": lambda x, axis: np.cumprod(x, axis=axis),
    "cummax": lambda x, axis: np.maximum.accumulate(x, axis=axis),
    "cummin": lambda x, axis: np.minimum.accumulate(x, axis=axis),
    "logcumsumexp": lambda x, axis: np.log(np.cumsum(np.exp(x), axis=axis)),
}
for _name, _ref in SCANS.items():
    _gc = getattr(gc, _name)
    _exact = _name not in ("logcumsumexp", "cumsum", "cumprod")  # float sums: summation order may differ
    CASES += [
        C(
            f"{_name}_last",
            lambda x, _f=_gc: _f(x, axis=-1),
            lambda x, _r=_ref: _r(x, -1),
            A((3, 5)),
            exact=_exact,
        ),
        C(
            f"{_name}_first_f32",
            lambda x, _f=_gc: _f(x, axis=0),
            lambda x, _r=_ref: _r(x, 0),
            A((4, 3, 2), F32),
            exact=_exact,
        ),
        C(
            f"{_name}_reverse",
            lambda x, _f=_gc: _f(x, axis=1, reverse=True),
            lambda x, _r=_ref: np.flip(_r(np.flip(x, 1), 1), 1),
            A((2, 5, 3)),
            exact=_exact,
        ),
        C(
            f"{_name}_flat_symbolic",
            lambda x, _f=_gc: _f(x),
            lambda x, _r=_ref: _r(x.reshape(-1), 0),
            A((3, 2), decl=("n", 2)),
            exact=_exact,
        ),
        C(f"{_name}_0d", lambda x, _f=_gc: _f(x, axis=0), lambda x: x.copy(), A(())),
        C(f"{_name}_empty", lambda x, _f=_gc: _f(x, axis=0), lambda x, _r=_ref: _r(x, 0), A((0, 3))),
    ]
    if _name != "logcumsumexp":
        CASES.append(
            C(
                f"{_name}_int",
                lambda x, _f=_gc: _f(x, axis=1),
                lambda x, _r=_ref: _r(x, 1),
                A((3, 6), I32, -3, 3),
            )
        )
CASES += [
    C("cumsum_bool", lambda x: gc.cumsum(x, axis=0), lambda x: np.cumsum(x, axis=0), A((5, 2), B)),
    C("cummax_special", lambda x: gc.cummax(x), lambda x: np.maximum.accumulate(x), A((9,), special=True)),
    C(
        "logcumsumexp_large",
        lambda x: gc.logcumsumexp(x, 0),
        lambda x: np.logaddexp.accumulate(x, 0),
        A((6, 2), low=-900, high=900),
        exact=False,
    ),
    C(
        "logcumsumexp_infinite",
        lambda x: gc.logcumsumexp(gc.where(x > 0.0, x, -np.inf), axis=1),
        lambda x: np.logaddexp.accumulate(np.where(x > 0.0, x, -np.inf), axis=1),
        A((3, 6)),
    ),
    C("argsort_ties", lambda x: gc.argsort(x), lambda x: np.argsort(x, kind="stable"), A((3, 7), ties=True)),
    C(
        "argsort_descending_ties",
        lambda x: gc.argsort(x, axis=0, descending=True),
        lambda x: np.argsort(-x, axis=0, kind="stable"),
        A((6, 3), F32, ties=True),
    ),
    C(
        "argsort_int_flat",
        lambda x: gc.argsort(x, axis=None),
        lambda x: np.argsort(x, axis=None, kind="stable"),
        A((3, 4), I32, -3, 3),
    ),
    C("argsort_bool", lambda x: gc.argsort(x), lambda x: np.argsort(x, kind="stable"), A((9,), B)),
    C("argsort_nan", lambda x: gc.argsort(x), lambda x: np.argsort(x, kind="stable"), A((9,), special=True)),
    C(
        "argsort_0d_and_empty",
        lambda x, y: gc.argsort(x) + gc.sum(gc.argsort(y)),
        lambda x, y: np.int64(0) + np.sum(np.argsort(y)),
        A(()),
        A((0, 4)),
    ),
    C("sort_symbolic", lambda x: gc.sort(x, axis=0), lambda x: np.sort(x, axis=0), A((5, 3), decl=("n", 3))),
    C(
        "sort_descending",
        lambda x: gc.sort(x, descending=True),
        lambda x: -np.sort(-x),
        A((3, 6), I64, -9, 9),
    ),
    C(
        "topk",
        lambda x: gc.topk(x, 3)[0] + gc.cast(gc.topk(x, 3)[1], "float64"),
        lambda x: -np.sort(-x)[:, :3] + np.argsort(-x, kind="stable")[:, :3],
        A((4, 6), ties=True),
    ),
    C(
        "topk_smallest_axis0",
        lambda x: gc.topk(x, 2, axis=0, largest=False)[0],
        lambda x: np.sort(x, axis=0)[:2],
        A((5, 3), F32),
    ),
]


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


M = A((4, 3))
GRAD_CASES = [
    G("take_repeated", lambda x: gc.take(x, np.array([0, -1, 0, 2]), axis=0), (M,)),
    G("take_axis1", lambda x: gc.take(x, np.array([[2, 0], [-1, -1]]), axis=1), (A((2, 3, 2)),)),
    G("getitem_array", lambda x: x[1:, [1, 1, -1]], (M,)),
    G("scatter_add", lambda a, u: gc.scatter_add(a, np.array([1, 1, -1]), u) ** 2, (M, A((3, 3)))),
    G(
        "take_along_axis",
        lambda x: gc.take_along_axis(x, np.array([[0, 0], [2, 1], [1, 1], [-1, 0]]), 1),
        (M,),
    ),
    G(
        "scatter_add_along",
        lambda a, u: gc.scatter_add_along_axis(a, np.array([[0], [2], [2]]), u, 0) ** 2,
        (M, A((3, 3))),
    ),
    G("cumsum", lambda x: gc.cumsum(x, axis=1), (M,)),
    G("cumsum_reverse", lambda x: gc.cumsum(x, axis=0, reverse=True), (M,)),
    G("cumprod", lambda x: gc.cumprod(x, axis=1), (M,)),
    G("cumprod_reverse", lambda x: gc.cumprod(x, axis=0, reverse=True), (M,)),
    G("cummax", lambda x: gc.cummax(x, axis=1), (M,)),
    G("cummin_reverse", lambda x: gc.cummin(x, axis=0, reverse=True), (M,)),
    G("logcumsumexp", lambda x: gc.logcumsumexp(x, axis=1), (M,)),
    G("logcumsumexp_reverse", lambda x: gc.logcumsumexp(x, axis=0, reverse=True), (M,)),
    G("sort", lambda x: gc.sort(x, axis=0), (M,)),
    G("topk", lambda x: gc.topk(x, 2)[0], (M,)),
    G("embedding", lambda t: gc.nn.embedding(np.array([[1, 3], [3, 0]]), t).mean(axis=1), (M,)),
]


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_op_gradient(case: Case, optimize: str, backend: str, rng) -> None:
    check_gradient(case, backend, optimize, rng)
