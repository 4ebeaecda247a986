"""einsum, tensordot, var/std and norm against NumPy on every backend (tests/cases.py rows), their gradients
against central differences, and gelu/silu/mish against PyTorch (values and gradients) where installed."""

from __future__ import annotations

import numpy as np
import pytest
from cases import F32, A, C, Case, G, check_forward, check_gradient, ids

import graphc as gc

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i", [(4,), (4,)]),
    ("...ij,...jk->...ik", [(2, 5, 2, 3), (5, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ijk->k", [(2, 3, 4)]),
    ("ij,kj", [(2, 3), (4, 3)]),
    ("bi,bi->b", [(4, 3), (4, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
]
CASES: list[Case] = []
for _spec, _shapes in EINSUM:
    CASES.append(
        C(
            f"einsum_{_spec}",
            lambda *xs, _s=_spec: gc.einsum(_s, *xs),
            lambda *xs, _s=_spec: np.einsum(_s, *xs),
            *(A(s) for s in _shapes),
            exact=False,
        )
    )
CASES += [
    C("einsum_named_batch", lambda a, b: gc.einsum("nij,njk->nik", a, b),
      lambda a, b: np.einsum("nij,njk->nik", a, b), A((4, 2, 3), F32, decl=("n", 2, 3)),
      A((4, 3, 2), F32, decl=("n", 3, 2)), exact=False),
    C("tensordot", lambda a, b: gc.tensordot(a, b), np.tensordot, A((2, 3, 4)), A((3, 4, 5)), exact=False),
    C("tensordot_axes", lambda a, b: gc.tensordot(a, b, ([0, 2], [2, 0])),
      lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0])), A((2, 3, 4)), A((4, 5, 2)), exact=False),
    C("var", gc.var, np.var, A((3, 4)), exact=False),
    C("var_axis_ddof", lambda x: gc.var(x, 0, ddof=1), lambda x: np.var(x, 0, ddof=1), A((3, 4), F32),
      exact=False),
    C("std_keepdims", lambda x: gc.std(x, (0, 2), keepdims=True), lambda x: np.std(x, (0, 2), keepdims=True),
      A((2, 3, 4)), exact=False),
    C("var_named", lambda x: gc.var(x, 0, ddof=1), lambda x: np.var(x, 0, ddof=1), A((5, 3), decl=("n", 3)),
      exact=False),
    C("var_int", gc.var, np.var, A((6,), "int64", -9, 9), exact=False),
    C("norm", gc.norm, np.linalg.norm, A((2, 3, 4)), exact=False),
    C("norm_vector_ords", lambda x: gc.stack([gc.norm(x, o) for o in (1, np.inf, -np.inf, 0, 3)]),
      lambda x: np.stack([np.linalg.norm(x, o) for o in (1, np.inf, -np.inf, 0, 3)]), A((5,), ties=True),
      exact=False),
    C("norm_axis", lambda x: gc.norm(x, axis=1, keepdims=True),
      lambda x: np.linalg.norm(x, axis=1, keepdims=True), A((3, 4), F32), exact=False),
    C("norm_matrix", lambda x: gc.stack([gc.norm(x, o) for o in ("fro", 1, -1, np.inf, -np.inf)]),
      lambda x: np.stack([np.linalg.norm(x, o) for o in ("fro", 1, -1, np.inf, -np.inf)]), A((3, 4)),
      exact=False),
    C("norm_matrix_axes", lambda x: gc.norm(x, 1, axis=(2, 0)), lambda x: np.linalg.norm(x, 1, axis=(2, 0)),
      A((2, 3, 4)), exact=False),
]  # fmt: skip


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


GRAD_CASES = [
    G("einsum_matmul", lambda a, b: gc.einsum("ij,jk->ik", a, b), (A((2, 3)), A((3, 4)))),
    G("einsum_trace_diag", lambda a: gc.einsum("ii->i", a) * gc.einsum("ii", a), (A((3, 3)),)),
    G("einsum_three", lambda a, b, c: gc.einsum("bi,bj,ij->b", a, b, c), (A((2, 3)), A((2, 4)), A((3, 4)))),
    G("tensordot", lambda a, b: gc.tensordot(a, b, 1), (A((2, 3)), A((3, 4)))),
    G("var_std", lambda x: gc.var(x, 1, ddof=1).sum() + gc.std(x, 0), (A((3, 4)),)),
    G("norms", lambda x: gc.norm(x) + gc.norm(x, 3, axis=0) + gc.norm(x, 1) + gc.norm(x, np.inf),
      (A((3, 4), away=0.1),)),
]  # fmt: skip


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_gradient(case: Case, backend: str, rng: np.random.Generator) -> None:
    check_gradient(case, backend, "fast", rng)


def test_batched_matmul_einsum_is_one_matmul() -> None:
    a, b = gc.tensor("a", ("n", 64, 32)), gc.tensor("b", ("n", 32, 16))
    out = gc.einsum("nij,njk->nik", a, b)
    assert [n.op for n in gc.toposort([out])] == [gc.Op.MATMUL]


def test_norm_gradient_at_zero_is_zero(backend: str) -> None:
    x = gc.vector("x")
    (g,) = gc.grad(gc.norm(x) + gc.norm(gc.reshape(x, (1, -1)), "fro"), [x])
    np.testing.assert_array_equal(gc.function([x], g, backend=backend)(np.zeros(3)), np.zeros(3))


def test_refusals() -> None:
    x = gc.matrix("x", (3, 3))
    with pytest.raises(gc.InputError, match="singular values"):
        gc.norm(x, 2)
    with pytest.raises(gc.InputError, match="names 2 operands, got 1"):
        gc.einsum("ij,jk->ik", x)
    with pytest.raises(gc.ShapeError, match="'j' is 3 in one operand and 4"):
        gc.einsum("ij,jk->ik", x, gc.matrix("y", (4, 2)))
    with pytest.raises(gc.ShapeError, match="does not name the 2 axes"):
        gc.einsum("ijk->i", x)


def test_activations_match_pytorch(backend: str) -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    pairs = [
        (gc.nn.gelu, functional.gelu),
        (lambda v: gc.nn.gelu(v, approximate="tanh"), lambda t: functional.gelu(t, approximate="tanh")),
        (gc.nn.silu, functional.silu),
        (gc.nn.mish, functional.mish),
    ]
    values = np.linspace(-8.0, 8.0, 41)
    x = gc.vector("x")
    for ours, theirs in pairs:
        f = gc.function([x], [ours(x), gc.grad(ours(x).sum(), [x])[0]], backend=backend)
        t = torch.tensor(values, requires_grad=True)
        theirs(t).sum().backward()
        got, grad = f(values)
        np.testing.assert_allclose(got, theirs(torch.tensor(values)).numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)
