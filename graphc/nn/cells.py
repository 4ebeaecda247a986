"""Recurrent cells (chapter 10): one step of an Elman RNN, an LSTM or a GRU, in PyTorch's weight layout and
gate order; gc.nn.rnn/lstm/gru loop them with gc.scan. Knows the core only.

    >>> import numpy as np, graphc as gc
    >>> cell = gc.nn.GRU(3, 4)                                  # any layer's .params fit the cell
    >>> x, h = gc.matrix("x", ("n", 3), "float32"), gc.matrix("h", ("n", 4), "float32")
    >>> h_next = gc.nn.gru_cell(x, h, cell.params)
    >>> gc.function([x, h], h_next)(np.ones((2, 3), np.float32), np.zeros((2, 4), np.float32)).shape
    (2, 4)

The cells are what a hand-written loop uses (a decoder that feeds back its own output, attention inside the
step): ``gc.scan(lambda h, x: (gc.nn.gru_cell(x, h, p),) * 2, h0, xs)``.
"""

from __future__ import annotations

from graphc.errors import DTypeError, InputError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import as_variable, sigmoid, tanh, transpose
from graphc.tensor import relu as relu_
from graphc.types import dims_equal

__all__ = ["rnn_cell", "lstm_cell", "gru_cell"]

NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


# --- cells: one step from the projected input xp (batch, G·H) and the state ---------------------------------
def elman(activation):
    def cell(xp, state, w_hh_t, b_hh, size):
        return (activation(xp + state[0] @ w_hh_t + b_hh),)

    return cell


def lstm_step(xp, state, w_hh_t, b_hh, size):
    h, c = state
    g = xp + h @ w_hh_t + b_hh
    i, f = sigmoid(g[:, :size]), sigmoid(g[:, size : 2 * size])
    cand, o = tanh(g[:, 2 * size : 3 * size]), sigmoid(g[:, 3 * size :])
    c_new = f * c + i * cand
    return o * tanh(c_new), c_new


def gru_step(xp, state, w_hh_t, b_hh, size):
    (h,) = state
    hp = h @ w_hh_t + b_hh
    r = sigmoid(xp[:, :size] + hp[:, :size])
    z = sigmoid(xp[:, size : 2 * size] + hp[:, size : 2 * size])
    n = tanh(xp[:, 2 * size :] + r * hp[:, 2 * size :])
    return ((1.0 - z) * n + z * h,)


GATES = {"rnn": 1, "lstm": 4, "gru": 3}


# --- checks -------------------------------------------------------------------------------------------------
def check_params(kind: str, params, xs: Variable, suffix: str) -> tuple[dict, int]:
    """The four weights as Variables, checked against PyTorch's shapes; and the hidden size H."""
    if not isinstance(params, dict):
        raise InputError(f"{kind}: params must be a dict with {', '.join(NAMES)}, got "
                         f"{type(params).__name__}{here()}")  # fmt: skip
    missing = [n + suffix for n in NAMES if n + suffix not in params]
    if missing:
        raise InputError(f"{kind}: params lacks {', '.join(missing)} (it has {', '.join(sorted(params))})"
                         f"{here()}")  # fmt: skip
    p = {n: as_variable(params[n + suffix]) for n in NAMES}
    w_hh = p["W_hh"]
    size = w_hh.type.shape[-1] if w_hh.type.ndim == 2 else None
    if not isinstance(size, int):
        raise ShapeError(f"{kind}: params['W_hh{suffix}'] must be a ({GATES[kind]}H, H) matrix with a known "
                         f"H, got {describe(w_hh)}{here()}")  # fmt: skip
    rows, inputs = GATES[kind] * size, xs.type.shape[-1]
    expected = {"W_ih": (rows, inputs), "W_hh": (rows, size), "b_ih": (rows,), "b_hh": (rows,)}
    for name, shape in expected.items():
        v = p[name]
        if v.type.ndim != len(shape) or not all(map(dims_equal, v.type.shape, shape)):
            raise ShapeError(f"{kind}: params['{name}{suffix}'] must have shape {shape} (H = {size} from "
                             f"W_hh, the input size from {describe(xs)}), got {describe(v)}"
                             f"{here()}")  # fmt: skip
        if v.type.dtype != xs.type.dtype:
            raise DTypeError(f"{kind}: params['{name}{suffix}'] is {describe(v)} but the input is "
                             f"{describe(xs)}: weights and inputs must have one dtype{here()}")  # fmt: skip
    return p, size


# --- one step with the weights given by name ----------------------------------------------------------------
def _step(kind: str, cell, x, state: tuple, params) -> tuple:
    x = as_variable(x)
    if x.type.ndim != 2 or x.type.dtype.kind != "f":
        raise ShapeError(f"{kind}: x must be a float (batch, input) matrix, got {describe(x)}{here()}")
    p, size = check_params(kind, params, x, "")
    for h in state:
        h = as_variable(h, like=x)
        if h.type.ndim != 2 or not dims_equal(h.type.shape[1], size) or h.type.dtype != x.type.dtype:
            raise ShapeError(f"{kind}: the state must be ({x.type.shape[0]}, {size}) {x.type.dtype.name} "
                             f"(batch from {describe(x)}, H from W_hh), got {describe(h)}"
                             f"{here()}")  # fmt: skip
    xp = x @ transpose(p["W_ih"]) + p["b_ih"]
    return cell(xp, tuple(as_variable(h, like=x) for h in state), transpose(p["W_hh"]), p["b_hh"], size)


def rnn_cell(x, h, params, nonlinearity="tanh"):
    """One Elman step act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) as PyTorch's ``nn.RNNCell``: x (batch, I), h
    (batch, H), params as for gc.nn.rnn. Returns the next h.

        >>> import numpy as np, graphc as gc
        >>> p = {"W_ih": np.eye(2), "W_hh": np.eye(2), "b_ih": np.zeros(2), "b_hh": np.ones(2)}
        >>> h = gc.nn.rnn_cell(gc.constant(np.ones((1, 2))), gc.constant(np.zeros((1, 2))), p, "relu")
        >>> gc.function([], h)()
        array([[2., 2.]])
    """
    if nonlinearity not in ("tanh", "relu"):
        raise InputError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}{here()}")
    return _step("rnn", elman(tanh if nonlinearity == "tanh" else relu_), x, (h,), params)[0]


def lstm_cell(x, state, params):
    """One LSTM step as PyTorch's ``nn.LSTMCell``: x (batch, I), state (h, c) each (batch, H), params as for
    gc.nn.lstm. Returns the next (h, c).

        >>> import graphc as gc
        >>> layer = gc.nn.LSTM(3, 4, dtype="float64")
        >>> x, h0, c0 = gc.matrix("x", ("n", 3)), gc.matrix("h", ("n", 4)), gc.matrix("c", ("n", 4))
        >>> h, c = gc.nn.lstm_cell(x, (h0, c0), layer.params)
        >>> h.shape[1], c.shape[1]
        (4, 4)
    """
    h, c = state
    return _step("lstm", lstm_step, x, (h, c), params)


def gru_cell(x, h, params):
    """One GRU step as PyTorch's ``nn.GRUCell``: x (batch, I), h (batch, H), params as for gc.nn.gru.
    Returns the next h.

        >>> import numpy as np, graphc as gc
        >>> p = {"W_ih": np.zeros((3, 1)), "W_hh": np.zeros((3, 1)), "b_ih": np.zeros(3), "b_hh": np.zeros(3)}
        >>> h = gc.nn.gru_cell(gc.constant(np.ones((1, 1))), gc.constant(np.full((1, 1), 4.0)), p)
        >>> gc.function([], h)()                  # z = σ(0) = 1/2, n = tanh(0) = 0: h moves halfway to 0
        array([[2.]])
    """
    return _step("gru", gru_step, x, (h,), params)[0]
