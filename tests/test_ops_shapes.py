"""Forward parity of the shape and indexing ops (transpose, reshape, broadcast_to, basic indexing,
concatenate, stack) on every backend against NumPy, passes off and on (tests/cases.py rows); the gradient of a
reversed slice of a named size."""

from __future__ import annotations

import numpy as np
import pytest
from cases import F32, I32, I64, A, B, C, Case, assert_matches, check_forward, ids

import graphc as gc

CASES: list[Case] = []

CASES += [
    C("transpose_T", lambda x: x.T, None, A((3, 4))),
    C(
        "transpose_perm",
        lambda x: gc.transpose(x, (1, 0, 2)),
        lambda x: np.transpose(x, (1, 0, 2)),
        A((2, 3, 4)),
    ),
    C(
        "transpose_neg_axes",
        lambda x: gc.transpose(x, (-1, 0, 1)),
        lambda x: np.transpose(x, (-1, 0, 1)),
        A((2, 3, 4)),
    ),
    C("transpose_then_add", lambda x, y: x.T + y, None, A((3, 4), I32, -5, 5), A((4, 3), I32, -5, 5)),
    C("transpose_symbolic", lambda x: x.T * 2.0, None, A((5, 3), F32, decl=("n", 3))),
    C("reshape", lambda x: x.reshape(4, 3), None, A((3, 4))),
    C("reshape_minus1", lambda x: x.reshape(2, -1), None, A((3, 4), I64, -5, 5)),
    C(
        "reshape_minus1_first",
        lambda x: gc.reshape(x, (-1, 2, 2)),
        lambda x: x.reshape(-1, 2, 2),
        A((2, 3, 4)),
    ),
    C("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), A((2, 3, 4), F32)),
    C(
        "reshape_symbolic_flat",
        lambda x: gc.reshape(x, (-1,)),
        lambda x: x.reshape(-1),
        A((5, 3), decl=("n", 3)),
    ),
    C(
        "reshape_symbolic_split",
        lambda x: gc.reshape(x, ("n", 2, 3)),
        lambda x: x.reshape(x.shape[0], 2, 3),
        A((5, 6), decl=("n", 6)),
    ),
    C(
        "reshape_symbolic_merge",
        lambda x: gc.reshape(x, (-1, 3)),
        lambda x: x.reshape(-1, 3),
        A((5, 2, 3), decl=("n", 2, 3)),
    ),
    C(
        "reshape_symbolic_expr",
        lambda x: gc.reshape(x, (-1,)) * 2.0,
        lambda x: x.reshape(-1) * 2.0,
        A((4, 5), decl=("n", "m")),
    ),
    C("expand_dims", lambda x: gc.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), A((3, 4))),
    C("expand_dims_neg", lambda x: gc.expand_dims(x, -1), lambda x: np.expand_dims(x, -1), A((3, 4), F32)),
    C("squeeze", lambda x: gc.squeeze(x), np.squeeze, A((3, 1, 4, 1))),
    C("squeeze_axis", lambda x: gc.squeeze(x, axis=1), lambda x: np.squeeze(x, axis=1), A((3, 1, 4, 1), B)),
    C(
        "broadcast_to",
        lambda x: gc.broadcast_to(x, (2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        A((3, 1)),
    ),
    C(
        "broadcast_to_then_op",
        lambda x: gc.broadcast_to(x, (3, 4)) * 2,
        lambda x: np.broadcast_to(x, (3, 4)) * 2,
        A((4,), I32, -5, 5),
    ),
    C(
        "broadcast_to_symbolic",
        lambda x, b: gc.broadcast_to(b, x.shape) + x,
        lambda x, b: np.broadcast_to(b, x.shape) + x,
        A((5, 4), decl=("n", 4)),
        A((1, 4)),
    ),
]

INDEXES = {
    "int": 1,
    "neg_int": -1,
    "slice": slice(1, 3),
    "step": slice(None, None, 2),
    "reverse": slice(None, None, -1),
    "neg_bounds": slice(-3, -1),
    "neg_step_bounds": slice(-1, 0, -2),
    "empty": slice(3, 1),
    "newaxis": None,
    "ellipsis_int": (Ellipsis, 0),
    "int_ellipsis_step": (1, Ellipsis, slice(None, None, 2)),
    "mixed": (slice(None), None, slice(1, None)),
    "two_ints": (0, -1),
    "past_end": slice(1, 100),
}
for _name, _index in INDEXES.items():
    CASES.append(C(f"getitem_{_name}", lambda x, _i=_index: x[_i], None, A((4, 5, 3))))
CASES += [
    C("getitem_f32_then_op", lambda x: x[1:, ::2] * 2.0, None, A((4, 5), F32)),
    C("getitem_int_dtype", lambda x: x[::-1], None, A((5,), I32, -9, 9)),
    C("getitem_0d_result", lambda x: x[2, 1] + 1.0, None, A((4, 5))),
    C("getitem_symbolic_tail", lambda x: x[1:], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_head", lambda x: x[:-1, 1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_step", lambda x: x[::2], None, A((7, 3), decl=("n", 3))),
    C("getitem_symbolic_step3", lambda x: x[1::3], None, A((8, 2), decl=("n", 2))),
    C("getitem_symbolic_int", lambda x: x[0] + x[-1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_reverse", lambda x: x[::-1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_reverse_step", lambda x: x[-2::-2, ::-1] * 2.0, None, A((7, 3), decl=("n", 3))),
    C("getitem_symbolic_ellipsis", lambda x: x[..., 1], None, A((5, 3), decl=("n", 3))),
    C(
        "concatenate_0",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2, 3)),
        A((4, 3)),
    ),
    C(
        "concatenate_1",
        lambda x, y: gc.concatenate([x, y], 1),
        lambda x, y: np.concatenate([x, y], 1),
        A((2, 3), F32),
        A((2, 1), F32),
    ),
    C(
        "concatenate_neg_axis_three",
        lambda x, y, z: gc.concatenate([x, y, z], -1),
        lambda x, y, z: np.concatenate([x, y, z], -1),
        A((2, 2, 1)),
        A((2, 2, 3)),
        A((2, 2, 2)),
    ),
    C(
        "concatenate_mixed_dtype",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2,), I32, -5, 5),
        A((3,), F32),
    ),
    C(
        "concatenate_bool",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2,), B),
        A((3,), B),
    ),
    C(
        "concatenate_symbolic",
        lambda x, y: gc.concatenate([x, y], 1),
        lambda x, y: np.concatenate([x, y], 1),
        A((5, 3), decl=("n", 3)),
        A((5, 2), decl=("n", 2)),
    ),
    C(
        "concatenate_symbolic_axis0",
        lambda x, y: gc.concatenate([x, y]) * 2.0,
        lambda x, y: np.concatenate([x, y]) * 2.0,
        A((5, 3), decl=("n", 3)),
        A((2, 3), decl=("m", 3)),
    ),
    C("stack_0", lambda x, y: gc.stack([x, y]), lambda x, y: np.stack([x, y]), A((2, 3)), A((2, 3))),
    C(
        "stack_last",
        lambda x, y, z: gc.stack([x, y, z], -1),
        lambda x, y, z: np.stack([x, y, z], -1),
        A((4,), I64, -5, 5),
        A((4,), I64, -5, 5),
        A((4,), I64, -5, 5),
    ),
]


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


@pytest.mark.parametrize("index", [slice(None, None, -1), slice(-2, None, -1), slice(None, 0, -1)], ids=str)
def test_reversed_symbolic_slice_gradient(index: slice, backend: str, rng: np.random.Generator) -> None:
    """x[::-1] on a batch of any size: forward and gradient (scatter back in reverse) on every backend."""
    x = gc.tensor("x", ("n", 2))
    weights = np.array([1.0, 3.0])
    (g,) = gc.grad((x[index] ** 2 * weights).sum(), [x])
    f = gc.function([x], g, backend=backend)
    for n in (2, 5):
        a = rng.standard_normal((n, 2))
        expected = np.zeros_like(a)
        expected[index] = 2 * a[index] * weights
        assert_matches(f(a), expected)
