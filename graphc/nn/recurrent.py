"""Recurrent layers of chapter 10 as loops in the graph (gc.scan): Elman RNN, LSTM and GRU. Knows the core.

    >>> import numpy as np, graphc as gc
    >>> lstm = gc.nn.LSTM(3, 8, rng=np.random.default_rng(0))
    >>> xs = gc.tensor("xs", ("T", "n", 3), dtype="float32")     # time-major, as PyTorch's default
    >>> ys, (h, c) = lstm(xs)
    >>> gc.function([xs], h)(np.ones((50, 2, 3), np.float32)).shape
    (2, 8)

Weights follow PyTorch's layout and gate order, so they copy over from `nn.RNN`/`nn.LSTM`/`nn.GRU`
(`weight_ih_l0` is "W_ih", `weight_hh_l0_reverse` is "W_hh_reverse"): W_ih (G·H, I), W_hh (G·H, H),
b_ih and b_hh (G·H,) with G = 1 (rnn), 4 (lstm: i, f, g, o) or 3 (gru: r, z, n). The input projection
xs @ W_ihᵀ is one matrix product over all steps; the loop does h @ W_hhᵀ and the gates. A mask (T, batch)
of bools (True = a real step) or lengths (batch,) make padded steps change nothing: the state is carried
through unchanged and the output there is 0 (as PyTorch's packed sequences give).
"""

from __future__ import annotations

import numpy as np

from graphc.control import scan
from graphc.errors import DTypeError, InputError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import (
    as_variable,
    broadcast_to,
    concatenate,
    constant,
    expand_dims,
    lt,
    reshape,
    shared,
    stack,
    tanh,
    transpose,
    where,
)
from graphc.tensor import relu as relu_
from graphc.types import dims_equal

from .cells import GATES, check_params, elman, gru_step, lstm_step

__all__ = ["rnn", "lstm", "gru", "RNN", "LSTM", "GRU"]


# --- checks -------------------------------------------------------------------------------------------------
def _check_xs(kind: str, xs) -> Variable:
    xs = as_variable(xs)
    if xs.type.ndim != 3 or xs.type.dtype.kind != "f":
        raise ShapeError(f"{kind}: xs must be a float (T, batch, input) sequence (time-major), got "
                         f"{describe(xs)}{here()}")  # fmt: skip
    return xs


def _check_state(kind: str, name: str, v, xs: Variable, size: int, directions: int) -> list[Variable]:
    """An initial state (batch, H), or (2, batch, H) for two directions, as one Variable per direction."""
    v = as_variable(v, like=xs)
    shape = (xs.type.shape[1], size) if directions == 1 else (2, xs.type.shape[1], size)
    if v.type.ndim != len(shape) or not all(map(dims_equal, v.type.shape, shape)):
        raise ShapeError(f"{kind}: {name} must have shape {shape} (batch from xs {describe(xs)}), got "
                         f"{describe(v)}{here()}")  # fmt: skip
    if v.type.dtype != xs.type.dtype:
        raise DTypeError(f"{kind}: {name} is {describe(v)} but xs is {describe(xs)}{here()}")
    return [v] if directions == 1 else [v[0], v[1]]


def _mask(kind: str, xs: Variable, mask, lengths) -> Variable | None:
    """The (T, batch) bool mask, from `mask` or from `lengths` (step t is real where t < lengths[b])."""
    if mask is not None and lengths is not None:
        raise InputError(f"{kind}: give mask or lengths, not both{here()}")
    if lengths is not None:
        lengths = as_variable(lengths)
        if lengths.type.ndim != 1 or lengths.type.dtype.kind not in "iu":
            raise ShapeError(f"{kind}: lengths must be an integer vector (batch,), got {describe(lengths)}"
                             f"{here()}")  # fmt: skip
        _, steps = scan(lambda t, _: (t + 1, t), constant(0, lengths.type.dtype), xs)  # 0, 1, ..., T-1
        return lt(expand_dims(steps, 1), expand_dims(lengths, 0))
    if mask is None:
        return None
    mask = as_variable(mask)
    expected = xs.type.shape[:2]
    shaped = mask.type.ndim == 2 and all(map(dims_equal, mask.type.shape, expected))
    if mask.type.dtype.kind != "b" or not shaped:
        raise ShapeError(f"{kind}: mask must be bool of shape (T, batch) = {expected} (from xs "
                         f"{describe(xs)}), got {describe(mask)}{here()}")  # fmt: skip
    return mask


# --- the loop -----------------------------------------------------------------------------------------------
def _direction(cell, xs, p, size, state, mask, reverse):
    """One direction: (final state tuple, ys (T, batch, H))."""
    steps, batch, inputs = xs.type.shape
    xp = reshape(reshape(xs, (-1, inputs)) @ transpose(p["W_ih"]) + p["b_ih"], (steps, batch, -1))
    w_hh_t, b_hh = transpose(p["W_hh"]), p["b_hh"]

    def step(carry, x):
        new = cell(x[0], carry, w_hh_t, b_hh, size)
        if mask is None:
            return new, new[0]
        real = expand_dims(x[1], 1)
        return tuple(where(real, a, b) for a, b in zip(new, carry, strict=True)), where(real, new[0], 0.0)

    return scan(step, tuple(state), (xp,) if mask is None else (xp, mask), reverse=reverse)


def _recurrent(kind, cell, xs, params, states, names, mask, lengths, bidirectional, return_sequences):
    xs = _check_xs(kind, xs)
    directions = 2 if bidirectional else 1
    suffixes = ["", "_reverse"][:directions]
    checked = [check_params(kind, params, xs, s) for s in suffixes]
    size = checked[0][1]
    zeros = broadcast_to(as_variable(0, like=xs), (xs.type.shape[1], size))
    initial = [
        [zeros] * directions if v is None else _check_state(kind, name, v, xs, size, directions)
        for v, name in zip(states, names, strict=True)
    ]
    mask = _mask(kind, xs, mask, lengths)
    runs = [
        _direction(cell, xs, p, size, [s[d] for s in initial], mask, reverse=d == 1)
        for d, (p, _) in enumerate(checked)
    ]
    finals = [
        stack([final[k] for final, _ in runs]) if bidirectional else runs[0][0][k] for k in range(len(states))
    ]
    if return_sequences:
        out = concatenate([ys for _, ys in runs], axis=2)
    else:
        out = concatenate([final[0] for final, _ in runs], axis=1)
    return out, finals


def rnn(xs, params, h0=None, nonlinearity="tanh", mask=None, lengths=None, bidirectional=False,
        return_sequences=True):  # fmt: skip
    """An Elman RNN, hₜ = act(xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh), as PyTorch's ``nn.RNN``: ``ys, h``.

    xs: (T, batch, input); params: "W_ih" (H, I), "W_hh" (H, H), "b_ih", "b_hh" (H,) (and "..._reverse" when
    bidirectional); h0: (batch, H), or (2, batch, H) when bidirectional (zeros by default). ys: (T, batch, H)
    (2H when bidirectional: forward then backward), or the last state(s) (batch, H or 2H) when
    return_sequences is False; h: (batch, H), or (2, batch, H). nonlinearity: "tanh" or "relu".

        >>> import numpy as np, graphc as gc
        >>> rng = np.random.default_rng(0)
        >>> p = {n: rng.normal(size=s) for n, s in
        ...      [("W_ih", (4, 2)), ("W_hh", (4, 4)), ("b_ih", (4,)), ("b_hh", (4,))]}
        >>> xs = gc.tensor("xs", ("T", "n", 2))
        >>> ys, h = gc.nn.rnn(xs, p, nonlinearity="relu")
        >>> gc.function([xs], ys)(np.zeros((5, 3, 2))).shape
        (5, 3, 4)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise InputError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}{here()}")
    cell = elman(tanh if nonlinearity == "tanh" else relu_)
    out, (h,) = _recurrent("rnn", cell, xs, params, [h0], ["h0"], mask, lengths, bidirectional,
                           return_sequences)  # fmt: skip
    return out, h


def lstm(xs, params, h0=None, c0=None, mask=None, lengths=None, bidirectional=False, return_sequences=True):
    """A long short-term memory layer as PyTorch's ``nn.LSTM`` (gates i, f, g, o): ``ys, (h, c)``.

    cₜ = f⊙cₜ₋₁ + i⊙g, hₜ = o⊙tanh(cₜ); params "W_ih" (4H, I), "W_hh" (4H, H), "b_ih", "b_hh" (4H,). The
    other arguments and the shapes are as in gc.nn.rnn; c0 and c are shaped like h0 and h.

        >>> import numpy as np, graphc as gc
        >>> rng = np.random.default_rng(0)
        >>> p = {n: rng.normal(size=s) for n, s in
        ...      [("W_ih", (8, 2)), ("W_hh", (8, 2)), ("b_ih", (8,)), ("b_hh", (8,))]}
        >>> xs, lengths = gc.tensor("xs", ("T", "n", 2)), gc.vector("lengths", dtype="int64")
        >>> ys, (h, c) = gc.nn.lstm(xs, p, lengths=lengths)
        >>> f = gc.function([xs, lengths], [ys, h])
        >>> ys_v, h_v = f(np.ones((4, 2, 2)), np.array([4, 2]))
        >>> bool(np.all(ys_v[2:, 1] == 0)), bool(np.allclose(h_v[1], ys_v[1, 1]))  # padding changes nothing
        (True, True)
    """
    out, (h, c) = _recurrent("lstm", lstm_step, xs, params, [h0, c0], ["h0", "c0"], mask, lengths,
                             bidirectional, return_sequences)  # fmt: skip
    return out, (h, c)


def gru(xs, params, h0=None, mask=None, lengths=None, bidirectional=False, return_sequences=True):
    """A gated recurrent unit layer as PyTorch's ``nn.GRU`` (gates r, z, n): ``ys, h``.

    n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), hₜ = (1 − z)⊙n + z⊙hₜ₋₁; params "W_ih" (3H, I),
    "W_hh" (3H, H), "b_ih", "b_hh" (3H,). The other arguments and the shapes are as in gc.nn.rnn.

        >>> import numpy as np, graphc as gc
        >>> gru = gc.nn.GRU(2, 4, bidirectional=True)
        >>> ys, h = gc.nn.gru(gc.tensor("xs", (7, "n", 2), "float32"), gru.params, bidirectional=True)
        >>> ys.shape[2], h.shape[0]        # forward and backward side by side; h per direction
        (8, 2)
    """
    out, (h,) = _recurrent("gru", gru_step, xs, params, [h0], ["h0"], mask, lengths, bidirectional,
                           return_sequences)  # fmt: skip
    return out, h


# --- layers holding their weights ---------------------------------------------------------------------------
class _Recurrent:
    kind = ""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False, rng=None,
                 dtype="float32", name: str | None = None):  # fmt: skip
        rng = rng if rng is not None else np.random.default_rng(0)
        name = name or self.kind
        rows, bound = GATES[self.kind] * hidden_size, 1.0 / np.sqrt(hidden_size)  # PyTorch's U(−1/√H, 1/√H)
        shapes = {"W_ih": (rows, input_size), "W_hh": (rows, hidden_size), "b_ih": (rows,), "b_hh": (rows,)}
        self.input_size, self.hidden_size, self.bidirectional = input_size, hidden_size, bidirectional
        self.params = {
            key + suffix: shared(rng.uniform(-bound, bound, shape).astype(dtype), f"{name}.{key}{suffix}")
            for suffix in ["", "_reverse"][: 2 if bidirectional else 1]
            for key, shape in shapes.items()
        }
        self.weights = [v for key, v in self.params.items() if key.startswith("W")]

    def _run(self, fn, xs, kwargs):
        return fn(xs, self.params, bidirectional=self.bidirectional, **kwargs)


class RNN(_Recurrent):
    """An Elman RNN layer holding PyTorch-shaped weights as shared variables in `.params` (a dict; `.weights`
    lists the matrices); calling it runs gc.nn.rnn.

        >>> import graphc as gc
        >>> layer = gc.nn.RNN(3, 5, nonlinearity="relu")
        >>> ys, h = layer(gc.tensor("xs", ("T", "n", 3), "float32"))
        >>> sorted(layer.params), h.shape[1]
        (['W_hh', 'W_ih', 'b_hh', 'b_ih'], 5)
    """

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity="tanh", **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.nonlinearity = nonlinearity

    def __call__(self, xs, h0=None, **kwargs):
        return self._run(rnn, xs, dict(h0=h0, nonlinearity=self.nonlinearity, **kwargs))


class LSTM(_Recurrent):
    """An LSTM layer holding PyTorch-shaped weights (U(−1/√H, 1/√H), as ``nn.LSTM``) in `.params`; calling
    it runs gc.nn.lstm (mask=, lengths=, return_sequences= pass through).

        >>> import graphc as gc
        >>> layer = gc.nn.LSTM(3, 5, bidirectional=True, name="enc")
        >>> ys, (h, c) = layer(gc.tensor("xs", ("T", "n", 3), "float32"))
        >>> layer.params["W_hh_reverse"].name, ys.shape[2]
        ('enc.W_hh_reverse', 10)
    """

    kind = "lstm"

    def __call__(self, xs, h0=None, c0=None, **kwargs):
        return self._run(lstm, xs, dict(h0=h0, c0=c0, **kwargs))


class GRU(_Recurrent):
    """A GRU layer holding PyTorch-shaped weights in `.params`; calling it runs gc.nn.gru.

    >>> import graphc as gc
    >>> layer = gc.nn.GRU(3, 5)
    >>> ys, h = layer(gc.tensor("xs", ("T", "n", 3), "float32"), return_sequences=False)
    >>> ys.type.ndim, layer.params["W_ih"].get_value().shape   # the last state (batch, H)
    (2, (15, 3))
    """

    kind = "gru"

    def __call__(self, xs, h0=None, **kwargs):
        return self._run(gru, xs, dict(h0=h0, **kwargs))
