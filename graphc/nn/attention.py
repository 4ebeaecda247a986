"""Attention (the encoder-decoder of chapter 10.4 looks back at every encoder state): scaled dot-product and
additive (Bahdanau) scores, a numerically stable softmax over the keys, and masks. Knows the core only.

    >>> import numpy as np, graphc as gc
    >>> q, k = gc.tensor("q", ("n", 2, 4)), gc.tensor("k", ("n", 3, 4))
    >>> context, weights = gc.nn.attention(q, k, k)
    >>> gc.function([q, k], weights)(np.zeros((1, 2, 4)), np.zeros((1, 3, 4))).round(3)
    array([[[0.333, 0.333, 0.333],
            [0.333, 0.333, 0.333]]])

Both functions return (context, weights): context (..., T_q, d_v) = weights @ v, weights (..., T_q, T_k) sum
to 1 over the keys. A boolean `mask` (True = attend; broadcastable to (batch, T_q, T_k), as PyTorch's
`attn_mask`) gives masked keys exactly zero weight; a query that may attend to nothing gets zero weights and a
zero context (PyTorch gives NaN there).
"""

from __future__ import annotations

import numpy as np

from graphc.errors import DTypeError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import as_variable, expand_dims, shared, softmax, tanh, transpose, where
from graphc.types import dims_equal

from . import init as initializers

__all__ = ["attention", "additive_attention", "AdditiveAttention"]

MASKED = -1e9  # a masked score: exp(MASKED - max) is exactly 0 in float32 and float64, and never overflows


def _check(what: str, q, k, v, mask) -> tuple[Variable, Variable, Variable, Variable | None]:
    q, k, v = (as_variable(x) for x in (q, k, v))
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.type.ndim < 2 or x.type.dtype.kind != "f":
            raise ShapeError(f"{what}: {name} must be float (..., T, features), got {describe(x)}{here()}")
    if not dims_equal(k.type.shape[-2], v.type.shape[-2]):
        raise ShapeError(f"{what}: k and v must have one length T_k (axis -2), got {describe(k)} and "
                         f"{describe(v)}{here()}")  # fmt: skip
    if mask is not None:
        mask = as_variable(mask)
        if mask.type.dtype.kind != "b":
            raise DTypeError(f"{what}: mask must be bool (True = attend), broadcastable to (batch, T_q, "
                             f"T_k), got {describe(mask)}{here()}")  # fmt: skip
    return q, k, v, mask


def _attend(scores: Variable, v: Variable, mask: Variable | None) -> tuple[Variable, Variable]:
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        weights = where(mask, softmax(where(mask, scores, MASKED), axis=-1), 0.0)
    return weights @ v, weights


def _swap_last(x: Variable) -> Variable:
    axes = list(range(x.type.ndim))
    axes[-2:] = axes[-1], axes[-2]
    return transpose(x, axes)


def attention(q, k, v, mask=None) -> tuple[Variable, Variable]:
    """Scaled dot-product attention softmax(q kᵀ/√d) v: ``(context, weights)``.

    q: (..., T_q, d), k: (..., T_k, d), v: (..., T_k, d_v); mask: bool, True = attend, broadcastable to
    (..., T_q, T_k).

        >>> import numpy as np, graphc as gc
        >>> q = gc.tensor("q", (1, 1, 2))
        >>> keep = gc.constant(np.array([[[True, False, True]]]))
        >>> context, w = gc.nn.attention(q, np.eye(3, 2)[None], np.arange(3.0)[None, :, None], mask=keep)
        >>> gc.function([q], w)(np.zeros((1, 1, 2)))        # the masked key gets exactly zero weight
        array([[[0.5, 0. , 0.5]]])
    """
    q, k, v, mask = _check("attention", q, k, v, mask)
    depth = q.type.shape[-1]
    if not isinstance(depth, int) or not dims_equal(depth, k.type.shape[-1]):
        raise ShapeError(f"attention: q and k must have one known feature size d (the last axis), got "
                         f"{describe(q)} and {describe(k)}{here()}")  # fmt: skip
    return _attend((q @ _swap_last(k)) * float(1.0 / np.sqrt(depth)), v, mask)


def additive_attention(q, k, v, W_q, W_k, w, mask=None) -> tuple[Variable, Variable]:  # noqa: N803
    """Additive (Bahdanau) attention, score(qᵢ, kⱼ) = wᵀ tanh(qᵢ W_q + kⱼ W_k): ``(context, weights)``.

    q: (..., T_q, d_q), k: (..., T_k, d_k), v: (..., T_k, d_v), W_q: (d_q, A), W_k: (d_k, A), w: (A,);
    mask as in gc.nn.attention.

        >>> import numpy as np, graphc as gc
        >>> att = gc.nn.AdditiveAttention(4, 6, 5, dtype="float64")
        >>> q, k = gc.tensor("q", ("n", 1, 4)), gc.tensor("k", ("n", "T", 6))
        >>> context, w = gc.nn.additive_attention(q, k, k, *att.params.values())
        >>> gc.function([q, k], w)(np.ones((2, 1, 4)), np.ones((2, 7, 6))).sum(-1)
        array([[1.],
               [1.]])
    """
    q, k, v, mask = _check("additive_attention", q, k, v, mask)
    W_q, W_k, w = (as_variable(x) for x in (W_q, W_k, w))  # noqa: N806
    projected_q = expand_dims(q @ W_q, -2)  # (..., T_q, 1, A)
    projected_k = expand_dims(k @ W_k, -3)  # (..., 1, T_k, A)
    return _attend(tanh(projected_q + projected_k) @ w, v, mask)


class AdditiveAttention:
    """Bahdanau attention with learned W_q (d_q, A), W_k (d_k, A) (Glorot) and w (A,) in `.params` (a dict
    of shared variables, float32 unless `dtype` says otherwise); calling it runs gc.nn.additive_attention.

        >>> import graphc as gc
        >>> att = gc.nn.AdditiveAttention(8, 8, 16, name="att")
        >>> s, hs = gc.tensor("s", ("n", 1, 8), "float32"), gc.tensor("hs", ("n", "T", 8), "float32")
        >>> context, w = att(s, hs)          # keys as values: the encoder's states
        >>> [p.name for p in att.params.values()], context.shape[-1]
        (['att.W_q', 'att.W_k', 'att.w'], 8)
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int, rng=None, dtype="float32",
                 name: str = "attention"):  # fmt: skip
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params = {
            "W_q": shared(initializers.glorot_uniform(query_size, attention_size, rng, dtype), f"{name}.W_q"),
            "W_k": shared(initializers.glorot_uniform(key_size, attention_size, rng, dtype), f"{name}.W_k"),
            "w": shared(initializers.uniform((attention_size, 1), rng, dtype)[:, 0], f"{name}.w"),
        }
        self.weights = [self.params["W_q"], self.params["W_k"]]

    def __call__(self, q, k, v=None, mask=None) -> tuple[Variable, Variable]:
        return additive_attention(q, k, k if v is None else v, *self.params.values(), mask=mask)
