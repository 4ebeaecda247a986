"""gc.nn.attention against PyTorch's scaled_dot_product_attention (values, gradients, masks, every backend),
masked keys get exactly zero weight, additive attention against NumPy and finite differences, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

B, TQ, TK, D, DV = 2, 3, 4, 5, 2


def values(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in [(B, TQ, D), (B, TK, D), (B, TK, DV), (B, TQ, DV)]]


MASKS = {
    "none": None,
    "causal": np.tril(np.ones((TQ, TK), bool)),  # broadcast over the batch
    "keys": np.array([[True, True, False, True], [True, False, False, False]])[:, None, :],  # padding
}


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_matches_pytorch(mask_name, backend):
    torch = pytest.importorskip("torch")
    mask = MASKS[mask_name]
    q, k, v, probe = (gc.tensor(n, s.shape) for n, s in zip("qkvp", values(), strict=True))
    context, weights = gc.nn.attention(q, k, v, mask=None if mask is None else gc.constant(mask))
    cost = gc.sum(context * probe)
    f = gc.function([q, k, v, probe], [context, weights, *gc.grad(cost, [q, k, v])], backend=backend)
    got = f(*values())

    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in values()[:3])
    attn_mask = None if mask is None else torch.tensor(mask)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=attn_mask)
    (expected * torch.tensor(values()[3])).sum().backward()
    wanted = [expected, tq.grad, tk.grad, tv.grad]
    for name, a, b in zip(["context", "dq", "dk", "dv"], [got[0], *got[2:]], wanted, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    if mask is not None:
        hidden = ~np.broadcast_to(mask, got[1].shape)
        assert np.all(got[1][hidden] == 0)  # exactly zero, not merely small
    np.testing.assert_allclose(got[1].sum(-1), 1.0)


def test_a_query_with_nothing_to_attend_gets_zeros_not_nan(backend):
    q, k = gc.tensor("q", (1, 2, 3), "float32"), gc.tensor("k", (1, 2, 3), "float32")
    mask = gc.constant(np.array([[[True, False], [False, False]]]))
    context, weights = gc.nn.attention(q, k, k, mask=mask)
    f = gc.function([q, k], [context, weights, gc.grad(gc.sum(context), q)], backend=backend)
    c, w, dq = f(np.ones((1, 2, 3), np.float32), np.full((1, 2, 3), 2.0, np.float32))
    np.testing.assert_array_equal(w, [[[1, 0], [0, 0]]])
    np.testing.assert_array_equal(c[0, 1], 0.0)
    assert c.dtype == np.float32 and np.all(np.isfinite(dq))


def test_additive_attention_against_numpy_and_finite_differences():
    q, k, v, _ = values(1)
    rng = np.random.default_rng(2)
    W_q, W_k, w = rng.normal(size=(D, 6)), rng.normal(size=(D, 6)), rng.normal(size=6)  # noqa: N806
    mask = MASKS["keys"]
    qs, ks, vs = gc.tensor("q", q.shape), gc.tensor("k", k.shape), gc.tensor("v", v.shape)
    context, weights = gc.nn.additive_attention(qs, ks, vs, W_q, W_k, w, mask=gc.constant(mask))
    got_c, got_w = gc.function([qs, ks, vs], [context, weights])(q, k, v)
    scores = np.tanh((q @ W_q)[:, :, None, :] + (k @ W_k)[:, None, :, :]) @ w
    scores = np.where(mask, scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(got_w, expected, rtol=1e-12)
    np.testing.assert_allclose(got_c, expected @ v, rtol=1e-12)

    def cost(q, k, v, W_q, W_k, w):  # noqa: N803
        c, _ = gc.nn.additive_attention(q, k, v, W_q, W_k, w, mask=gc.constant(mask))
        return gc.sum(gc.sin(c))

    gc.testing.check_grad(cost, [q, k, v, W_q, W_k, w])


def test_scaled_attention_finite_differences_with_a_mask():
    def cost(q, k, v):
        c, _ = gc.nn.attention(q, k, v, mask=gc.constant(MASKS["causal"]))
        return gc.sum(c * c)

    gc.testing.check_grad(cost, values()[:3])


def test_the_layer_holds_its_weights_and_takes_keys_as_values():
    att = gc.nn.AdditiveAttention(D, D, 7, dtype="float64", name="att")
    assert [p.get_value().shape for p in att.params.values()] == [(D, 7), (D, 7), (7,)]
    q, k, _, _ = values()
    qs, ks = gc.tensor("q", q.shape), gc.tensor("k", k.shape)
    a = gc.function([qs, ks], att(qs, ks)[0])(q, k)
    b = gc.function([qs, ks], gc.nn.additive_attention(qs, ks, ks, *att.params.values())[0])(q, k)
    np.testing.assert_array_equal(a, b)


def test_bad_input_is_a_clear_error():
    q, k = gc.tensor("q", ("n", 3, 4)), gc.tensor("k", ("n", 5, 4))
    cases = [
        (
            lambda: gc.nn.attention(q, gc.tensor("keys", ("n", 5, 3)), k),
            gc.ShapeError,
            ["d", "keys (float64"],
        ),
        (
            lambda: gc.nn.attention(q, k, gc.tensor("vals", ("n", 6, 2))),
            gc.ShapeError,
            ["T_k", "vals (float64"],
        ),
        (lambda: gc.nn.attention(gc.vector("qv"), k, k), gc.ShapeError, ["q must be", "qv (float64"]),
        (
            lambda: gc.nn.attention(q, k, k, mask=gc.matrix("m", (3, 5))),
            gc.DTypeError,
            ["bool", "m (float64"],
        ),
        (lambda: gc.nn.attention(q, k, k, mask=gc.tensor("m", (4, 5), "bool")), gc.ShapeError, ["(4, 5)"]),
    ]
    for call, error, fragments in cases:
        with pytest.raises(error) as info:
            call()
        for fragment in fragments:
            assert fragment in str(info.value), (fragment, str(info.value))
        assert "test_attention.py" in str(info.value)
