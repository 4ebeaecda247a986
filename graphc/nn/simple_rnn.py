"""A simple recurrent network (chapter 10), unrolled in the graph over a fixed-length sequence. Knows the
core only.

    >>> import numpy as np, graphc as gc
    >>> rnn = gc.nn.SimpleRNN(3, 8, rng=np.random.default_rng(0))
    >>> xs = gc.tensor("xs", ("n", 5, 3))                   # (batch, time, features)
    >>> hs, h_last = rnn(xs)                                 # hs: (n, 5, 8)

hₜ = tanh(xₜ Wˣ + hₜ₋₁ Wʰ + b), with the same Wˣ, Wʰ, b at every step (weights shared across time). gc.grad
then back-propagates through time over the unrolled graph; clip the gradients (gc.optim.clip_by_norm) when
‖Wʰ‖ makes them explode (Wᵗ = V diag(λ)ᵗ V⁻¹ grows like the largest |λ|ᵗ).
"""

from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import as_variable, broadcast_to, shared, stack, tanh

from . import init as initializers

__all__ = ["SimpleRNN", "rnn_step"]


def rnn_step(x_t, h_prev, Wx, Wh, b) -> Variable:
    """One tanh cell: tanh(xₜ Wˣ + hₜ₋₁ Wʰ + b).

    >>> x_t, h = gc.matrix("x_t"), gc.matrix("h")
    >>> Wx, Wh, b = gc.shared(np.ones((1, 1))), gc.shared(np.full((1, 1), 0.5)), gc.shared(np.zeros(1))
    >>> gc.evaluate(gc.nn.rnn_step(x_t, h, Wx, Wh, b), {x_t: [[1.0]], h: [[0.0]]})  # tanh(1)
    array([[0.76159416]])
    """
    return tanh(x_t @ Wx + h_prev @ Wh + b)


class SimpleRNN:
    """A tanh RNN layer: Wˣ (n_in, n_hidden) Glorot, Wʰ (n_hidden, n_hidden) orthogonal × `gain`, b = 0.

    >>> rnn = gc.nn.SimpleRNN(3, 4, rng=np.random.default_rng(0))
    >>> states, last = rnn(gc.tensor("xs", (None, 5, 3), "float32"))  # 5 time steps
    >>> states.shape, last.shape
    ((xs.0, 5, 4), (xs.0, 4))
    """

    def __init__(
        self, n_in: int, n_hidden: int, rng=None, gain: float = 1.0, dtype="float32", name: str = "rnn"
    ):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.n_hidden = n_hidden
        self.Wx = shared(initializers.glorot_uniform(n_in, n_hidden, rng, dtype), name=f"{name}.Wx")
        self.Wh = shared(initializers.orthogonal((n_hidden, n_hidden), rng, gain, dtype), name=f"{name}.Wh")
        self.b = shared(np.zeros(n_hidden, dtype), name=f"{name}.b")
        self.params = [self.Wx, self.Wh, self.b]
        self.weights = [self.Wx, self.Wh]

    def __call__(self, xs, h0=None) -> tuple[Variable, Variable]:
        """xs: (n, T, n_in) with T a known int. Returns (all hidden states (n, T, n_hidden), the last one)."""
        xs = as_variable(xs)
        if xs.type.ndim != 3 or not isinstance(xs.type.shape[1], int):
            raise ShapeError(
                f"SimpleRNN: xs must be (batch, time, features) with a known int sequence length, got "
                f"{describe(xs)}{here()}"
            )
        n, steps = xs.type.shape[0], xs.type.shape[1]
        h = h0 if h0 is not None else broadcast_to(as_variable(0, like=xs), (n, self.n_hidden))
        states = []
        for t in range(steps):
            h = rnn_step(xs[:, t, :], h, self.Wx, self.Wh, self.b)
            states.append(h)
        return stack(states, axis=1), h
