"""Batch and layer normalisation (chapter 8.7.1). Knows the graphc core only.

    >>> import graphc as gc
    >>> bn = gc.nn.BatchNorm(4, name="bn1")
    >>> train, test = gc.nn.Mode(training=True), gc.nn.Mode(training=False)
    >>> x = gc.matrix("x", ("n", 4))
    >>> y_train, y_test = bn(x, train), bn(x, test)    # train.updates now refreshes the running statistics

Variances use 1/N (the course writes 1/(N−1) in one place and 1/N elsewhere; 1/N is what normalising a batch
by its own statistics means, and what the running averages store too).
"""

from __future__ import annotations

import numpy as np

from graphc.graph import Variable
from graphc.tensor import as_variable, cast, mean, reshape, shared, sqrt

from .random import Mode

__all__ = ["BatchNorm", "LayerNorm", "batch_norm", "layer_norm"]


def _normalise(x: Variable, axes: tuple[int, ...], eps: float) -> tuple[Variable, Variable, Variable]:
    mu = mean(x, axis=axes, keepdims=True)
    centred = x - mu
    var = mean(centred * centred, axis=axes, keepdims=True)
    return centred / sqrt(var + eps), mu, var


def batch_norm(x, gamma, beta, axes=(0,), eps: float = 1e-5) -> Variable:
    """(x − μ)/√(σ² + ε)·γ + β with μ, σ² over the batch axes (1/N), γ and β broadcasting against x.

    >>> x = gc.matrix("x", (None, 2))
    >>> gamma, beta = gc.shared(np.ones(2)), gc.shared(np.zeros(2))
    >>> gc.evaluate(gc.nn.batch_norm(x, gamma, beta), {x: [[1.0, 2.0], [3.0, 6.0]]}).round(3)
    array([[-1., -1.],
           [ 1.,  1.]])
    """
    x = as_variable(x)
    xhat, _, _ = _normalise(x, tuple(axes), eps)
    return gamma * xhat + beta


def layer_norm(x, gamma, beta, eps: float = 1e-5) -> Variable:
    """Normalise each example over its features (the last axis), then γ·x̂ + β.

    >>> x = gc.matrix("x", (None, 2))
    >>> gamma, beta = gc.shared(np.ones(2)), gc.shared(np.zeros(2))
    >>> gc.evaluate(gc.nn.layer_norm(x, gamma, beta), {x: [[1.0, 3.0], [0.0, 4.0]]}).round(3)
    array([[-1.,  1.],
           [-1.,  1.]])
    """
    x = as_variable(x)
    xhat, _, _ = _normalise(x, (x.type.ndim - 1,), eps)
    return gamma * xhat + beta


class BatchNorm:
    """Batch normalisation for (n, features) or NCHW (n, channels, h, w) inputs, with learned γ (1) and β (0)
    (float32 unless `dtype` says otherwise).

    Training mode normalises with the batch's statistics and adds running-average updates
    (r ← momentum·r + (1 − momentum)·batch statistic) to `mode.updates`; evaluation mode uses the
    running ones.

    >>> bn, train = gc.nn.BatchNorm(2, dtype="float64"), gc.nn.Mode(training=True)
    >>> x = gc.matrix("x", (None, 2))
    >>> step = gc.function([x], bn(x, train), updates=train.updates)
    >>> step([[1.0, 2.0], [3.0, 6.0]]).round(3)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.running_mean.get_value()  # 0.9·0 + 0.1·(batch mean)
    array([0.2, 0.4])
    """

    def __init__(self, n_features: int, momentum: float = 0.9, eps: float = 1e-5, dtype="float32",
                 name: str = "bn"):  # fmt: skip
        self.n, self.momentum, self.eps = n_features, momentum, eps
        self.gamma = shared(np.ones(n_features, dtype), name=f"{name}.gamma")
        self.beta = shared(np.zeros(n_features, dtype), name=f"{name}.beta")
        self.running_mean = shared(np.zeros(n_features, dtype), name=f"{name}.running_mean")
        self.running_var = shared(np.ones(n_features, dtype), name=f"{name}.running_var")
        self.params = [self.gamma, self.beta]
        self.weights: list = []  # γ and β are not penalised

    def __call__(self, x, mode: Mode) -> Variable:
        x = as_variable(x)
        axes = (0,) if x.type.ndim == 2 else (0, 2, 3)
        shape = (1, self.n) if x.type.ndim == 2 else (1, self.n, 1, 1)
        gamma, beta = reshape(self.gamma, shape), reshape(self.beta, shape)
        if not mode.training:
            rm, rv = reshape(self.running_mean, shape), reshape(self.running_var, shape)
            return gamma * ((x - rm) / sqrt(rv + self.eps)) + beta
        xhat, mu, var = _normalise(x, axes, self.eps)
        m = self.momentum
        for running, batch in ((self.running_mean, mu), (self.running_var, var)):  # kept in their own dtype
            batch = cast(reshape(batch, (self.n,)), running.type.dtype)
            mode.add_update(running, m * running + (1 - m) * batch)
        return gamma * xhat + beta


class LayerNorm:
    """Layer normalisation over the last axis with learned γ (1) and β (0); the same in both modes.

    >>> ln, x = gc.nn.LayerNorm(2, dtype="float64"), gc.matrix("x", (None, 2))
    >>> gc.evaluate(ln(x), {x: [[1.0, 3.0]]}).round(3)
    array([[-1.,  1.]])
    """

    def __init__(self, n_features: int, eps: float = 1e-5, dtype="float32", name: str = "ln"):
        self.eps = eps
        self.gamma = shared(np.ones(n_features, dtype), name=f"{name}.gamma")
        self.beta = shared(np.zeros(n_features, dtype), name=f"{name}.beta")
        self.params = [self.gamma, self.beta]
        self.weights: list = []

    def __call__(self, x, mode: Mode | None = None) -> Variable:
        return layer_norm(x, self.gamma, self.beta, self.eps)
