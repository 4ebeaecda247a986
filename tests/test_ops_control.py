"""Forward parity of the ops with a body (SCAN, COND) on every backend against NumPy loops, passes off and on
(tests/cases.py rows: the files and ONNX sweeps take them too). Behaviour (gradients, errors, passes) is in
tests/test_scan.py."""

from __future__ import annotations

import numpy as np
import pytest
from cases import F32, I64, A, C, Case, check_forward, ids

import graphc as gc


def _rnn(xs, h0, w):
    return gc.scan(lambda h, x: (gc.tanh(h @ w + x), h), h0, xs)[1]


def _rnn_ref(xs, h0, w):
    ys, h = [], h0
    for x in xs:
        ys.append(h)
        h = np.tanh(h @ w + x)
    return np.stack(ys) if ys else np.zeros((0, *h0.shape), h0.dtype)


def _two_carries(xs, a, b):
    """Tuple carry, reverse: a <- a * x + b, b <- b - x, from the last step to the first."""
    (a, b), _ = gc.scan(lambda c, x: ((c[0] * x + c[1], c[1] - x), None), (a, b), xs, reverse=True)
    return a + b


def _two_carries_ref(xs, a, b):
    for x in xs[::-1]:
        a, b = a * x + b, b - x
    return a + b


def _generator(h0):
    return gc.scan(lambda c, _: (c * 0.5 + 1.0, c), h0, length=4)[1]


def _generator_ref(h0):
    ys = []
    for _ in range(4):
        ys.append(h0)
        h0 = h0 * 0.5 + 1.0
    return np.stack(ys)


def _branch(x, y):
    return gc.cond(x.sum() > 0, lambda a, b: a * b + 1.0, lambda a, b: a - gc.exp(b), x, y)


def _branch_ref(x, y):
    return x * y + 1.0 if x.sum() > 0 else x - np.exp(y)


CASES: list[Case] = [
    C(
        "scan_cumsum",
        lambda x: gc.scan(lambda c, v: (c + v, c + v), x[0] * 0.0, x)[1],
        lambda x: np.cumsum(x, axis=0),
        A((4, 3)),
    ),  # fmt: skip
    C(
        "scan_rnn_captured",
        _rnn,
        _rnn_ref,
        A((5, 2, 3), F32, decl=("T", "n", 3)),
        A((2, 3), F32, decl=("n", 3)),
        A((3, 3), F32, -0.5, 0.5),
        exact=False,
    ),  # fmt: skip
    C("scan_no_steps", _rnn, _rnn_ref, A((0, 2, 3), decl=("T", 2, 3)), A((2, 3)), A((3, 3)), exact=False),
    C("scan_one_step", _rnn, _rnn_ref, A((1, 2, 3)), A((2, 3)), A((3, 3)), exact=False),
    C(
        "scan_reverse_tuple_carry",
        _two_carries,
        _two_carries_ref,
        A((6, 3), decl=("T", 3)),
        A((3,)),
        A((3,)),
        exact=False,
    ),  # fmt: skip
    C(
        "scan_int_carry",
        lambda x: gc.scan(lambda c, v: (c * 2 + v, c), x[0], x)[0],
        lambda x: _doubling(x),
        A((4, 2), I64, -3, 3),
    ),  # fmt: skip
    C("scan_generator", _generator, _generator_ref, A((2,))),
    C("cond_two_operands", _branch, _branch_ref, A((3,), low=0.1), A((3,))),
    C(
        "cond_false_branch",
        _branch,
        _branch_ref,
        A((3,), low=-2.0, high=-0.1, decl=("n",)),
        A((3,), decl=("n",)),
    ),  # fmt: skip
]


def _doubling(x):
    c = x[0]
    for v in x:
        c = c * 2 + v
    return c


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)
