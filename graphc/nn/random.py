"""The training/evaluation switch and in-graph random numbers (Op.RANDOM_UNIFORM). Knows the graphc core only.

    >>> import graphc as gc
    >>> train, test = gc.nn.Mode(training=True, seed=0), gc.nn.Mode(training=False)
    >>> x = gc.matrix("x", ("n", 4))
    >>> h_train, h_test = gc.nn.dropout(x, 0.5, train), gc.nn.dropout(x, 0.5, test)
    >>> step = gc.function([x], h_train, updates=train.updates)     # advances the random counter each call

A `Mode` is passed to every helper whose graph differs between training and evaluation (dropout, noise, batch
normalisation); you build the model twice, once per mode, and compile one function for each. The training mode
owns an int64 shared counter: each random node hashes (its own seed, the counter, the element's index), and
`mode.updates` advances the counter, so every call draws fresh numbers, and the same on every backend.
"""

from __future__ import annotations

import math

import numpy as np

from graphc.graph import SharedVariable, Variable, apply
from graphc.ops import Op
from graphc.tensor import as_variable, cos, log, shared, sqrt
from graphc.types import as_dtype, as_shape

__all__ = ["Mode", "random_uniform", "random_normal"]


class Mode:
    """Training (`training=True`: dropout and noise on, batch statistics) or evaluation mode.

    `updates` holds what compiled training steps must also apply: the random counter's increment and batch
    normalisation's running statistics. Merge it into gc.function's updates: `{**optimiser_updates,
    **mode.updates}`.

    >>> train = gc.nn.Mode(training=True, seed=0)
    >>> u = train.uniform((2,))
    >>> list(train.updates.values())[0].owner.op  # the counter's increment
    <Op.ADD: 'add'>
    """

    def __init__(self, training: bool = True, seed: int = 0):
        self.training = bool(training)
        self.seed = int(seed)
        self.counter: SharedVariable = shared(np.int64(0), name=f"rng_counter_{self.seed}")
        self._streams = 0
        self._updates: dict = {}

    @property
    def updates(self) -> dict:
        out = dict(self._updates)
        if self._streams:
            out[self.counter] = self.counter + 1
        return out

    def add_update(self, variable: SharedVariable, value: Variable) -> None:
        self._updates[variable] = value

    def uniform(self, shape, dtype="float64") -> Variable:
        """U[0, 1) of `shape` (symbolic sizes allowed); every call is a new, independent stream."""
        self._streams += 1
        # distinct, well-separated seeds per stream (the hash mixes them again)
        seed = (self.seed * 1_000_003 + self._streams) & 0x7FFFFFFFFFFFFFFF
        return random_uniform(self.counter, shape, seed, dtype)

    def normal(self, shape, dtype="float64") -> Variable:
        """N(0, 1) by Box–Muller from two uniform streams."""
        u1, u2 = self.uniform(shape, dtype), self.uniform(shape, dtype)
        return random_normal_from(u1, u2)

    def __repr__(self) -> str:
        return f"Mode(training={self.training}, seed={self.seed})"


def random_uniform(counter, shape, seed: int, dtype="float64") -> Variable:
    """One Op.RANDOM_UNIFORM node: U[0, 1) from (seed, counter, index); see graphc.ops.random_uniform.
    The same (seed, counter) gives the same numbers on every backend.

    >>> counter = gc.shared(np.int64(0), name="counter")
    >>> gc.evaluate(gc.nn.random_uniform(counter, (3,), seed=1))
    array([0.74974824, 0.37239342, 0.43828391])
    """
    counter = as_variable(counter)
    return apply(Op.RANDOM_UNIFORM, (counter,), shape=as_shape(shape), seed=int(seed), dtype=as_dtype(dtype))


def random_normal_from(u1: Variable, u2: Variable) -> Variable:
    """Box–Muller: √(−2 log(1 − u₁)) cos(2π u₂) is N(0, 1) for independent uniforms on [0, 1)."""
    return sqrt(-2 * log(1 - u1)) * cos((2 * math.pi) * u2)


def random_normal(counter, shape, seed: int, dtype="float64") -> Variable:
    """N(0, 1) from (seed, counter) (two uniform streams seeded 2·seed and 2·seed + 1).

    >>> counter = gc.shared(np.int64(0), name="counter")
    >>> gc.evaluate(gc.nn.random_normal(counter, (2,), seed=1))
    array([ 0.30577872, -1.94782685])
    """
    return random_normal_from(
        random_uniform(counter, shape, 2 * seed, dtype), random_uniform(counter, shape, 2 * seed + 1, dtype)
    )
