"""Dense layers, dropout and noise (chapters 6 and 7). Knows the graphc core only.

    >>> import numpy as np, graphc as gc
    >>> layer = gc.nn.Dense(4, 3, rng=np.random.default_rng(0), name="h1")
    >>> h = gc.nn.relu(layer(gc.matrix("x", ("n", 4))))
    >>> [p.name for p in layer.params], [w.name for w in layer.weights]
    (['h1.W', 'h1.b'], ['h1.W'])

Layers keep their parameters in shared variables; `.params` is what an optimiser updates, `.weights` what norm
penalties see (weights, not biases: the course's default).
"""

from __future__ import annotations

import numpy as np

from graphc.errors import InputError, ShapeError
from graphc.graph import Variable
from graphc.indexing import take
from graphc.origin import here
from graphc.tensor import as_variable, cast, lt, matmul, shared

from . import init as initializers
from .random import Mode

__all__ = ["Dense", "Embedding", "dense", "dropout", "dropout_with_mask", "embedding", "gaussian_noise",
           "weight_noise"]  # fmt: skip

INITIALISERS = {
    "glorot": lambda m, n, rng, dtype: initializers.glorot_uniform(m, n, rng, dtype),
    "uniform": lambda m, n, rng, dtype: initializers.uniform((m, n), rng, dtype),
    "orthogonal": lambda m, n, rng, dtype: initializers.orthogonal((m, n), rng, dtype=dtype),
    "normal": lambda m, n, rng, dtype: initializers.normal((m, n), rng, dtype=dtype),
}


def dense(x, W, b=None) -> Variable:
    """The affine map x @ W + b (W of shape (inputs, outputs)).

    >>> x = gc.matrix("x")
    >>> W, b = gc.shared(np.array([[1.0], [2.0]]), name="W"), gc.shared(np.array([0.5]), name="b")
    >>> gc.evaluate(gc.nn.dense(x, W, b), {x: [[1.0, 1.0]]})
    array([[3.5]])
    """
    out = matmul(as_variable(x), W)
    return out if b is None else out + b


class Dense:
    """A fully connected layer: W (n_in, n_out) from `init` ("glorot", "uniform", "orthogonal", "normal" or an
    array), b = 0. Parameters are float32 unless `dtype` says otherwise (a float32 model stays float32).

    >>> layer = gc.nn.Dense(4, 3, rng=np.random.default_rng(0), name="h1")
    >>> layer(gc.matrix("x", dtype="float32")).shape, [p.name for p in layer.params]
    ((x.0, 3), ['h1.W', 'h1.b'])
    """

    def __init__(self, n_in: int, n_out: int, rng=None, init="glorot", dtype="float32", name: str = "dense",
                 bias: bool = True):  # fmt: skip
        rng = rng if rng is not None else np.random.default_rng(0)
        if isinstance(init, str) and init not in INITIALISERS:
            raise InputError(f"Dense {name}: init must be one of {sorted(INITIALISERS)} or an array, got "
                             f"{init!r}{here()}")  # fmt: skip
        value = (
            INITIALISERS[init](n_in, n_out, rng, dtype) if isinstance(init, str) else np.asarray(init, dtype)
        )
        if value.shape != (n_in, n_out):
            raise ShapeError(
                f"Dense {name}: init must have shape ({n_in}, {n_out}), got {value.shape}{here()}"
            )
        self.W = shared(value, name=f"{name}.W")
        self.b = shared(np.zeros(n_out, dtype), name=f"{name}.b") if bias else None
        self.weights = [self.W]
        self.params = [self.W] + ([self.b] if bias else [])

    def __call__(self, x) -> Variable:
        return dense(x, self.W, self.b)


def embedding(ids, table) -> Variable:
    """The rows of `table` (vocabulary, dim) at the integer `ids` (any shape): shape (*ids.shape, dim). A
    gather (gc.take(table, ids, axis=0)); its gradient adds into the rows that were read. An id outside
    [-vocabulary, vocabulary) is an error at call time naming it.

        >>> import numpy as np, graphc as gc
        >>> ids = gc.vector("ids", dtype="int64")
        >>> table = np.arange(6.0).reshape(3, 2)
        >>> gc.function([ids], gc.nn.embedding(ids, table))(np.array([2, 0]))
        array([[4., 5.],
               [0., 1.]])
    """
    return take(table, ids, axis=0)


class Embedding:
    """A lookup table of `n` vectors of size `dim`, drawn from N(0, std²) (PyTorch's default std = 1), float32
    unless `dtype` says otherwise. `layer(ids)` maps integer ids (any shape) to vectors (*ids.shape, dim).

        >>> import graphc as gc
        >>> emb = gc.nn.Embedding(1000, 16, name="words")
        >>> emb(gc.matrix("ids", ("n", "t"), dtype="int64")).shape
        (n, t, 16)
    """

    def __init__(
        self, n: int, dim: int, rng=None, std: float = 1.0, dtype="float32", name: str = "embedding"
    ):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.W = shared(initializers.normal((n, dim), rng, std=std, dtype=dtype), name=f"{name}.W")
        self.weights = [self.W]
        self.params = [self.W]

    def __call__(self, ids) -> Variable:
        return embedding(ids, self.W)


def dropout_with_mask(x, mask, keep: float) -> Variable:
    """Inverted dropout with a given 0/1 mask: x·mask/keep (for gradient checks and teaching).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.dropout_with_mask(x, np.array([1, 0, 1]), 0.5), {x: [1.0, 2.0, 3.0]})
    array([2., 0., 6.])
    """
    x = as_variable(x)
    return x * cast(as_variable(mask), x.type.dtype) * (1.0 / keep)


def dropout(x, keep: float, mode: Mode, scaling: str = "inverted") -> Variable:
    """Dropout keeping each unit with probability `keep` (course: 0.8 for inputs, 0.5 for hidden units).

    scaling="inverted" (default): training multiplies kept units by 1/keep, evaluation is the identity;
    scaling="weight": training keeps units unscaled, evaluation multiplies by keep (the weight scaling rule).

    >>> x, train = gc.vector("x"), gc.nn.Mode(training=True, seed=0)
    >>> f = gc.function([x], gc.nn.dropout(x, 0.5, train), updates=train.updates)
    >>> f(np.ones(6)), f(np.ones(6))  # a new mask each call
    (array([0., 2., 2., 0., 2., 0.]), array([2., 2., 0., 0., 2., 0.]))
    >>> gc.evaluate(gc.nn.dropout(x, 0.5, gc.nn.Mode(training=False)), {x: [1.0, 2.0]})
    array([1., 2.])
    """
    x = as_variable(x)
    if not 0 < keep <= 1:
        raise InputError(
            f"dropout: keep (the probability of keeping a unit) must be in (0, 1], got {keep}{here()}"
        )
    if scaling not in ("inverted", "weight"):
        raise InputError(f"dropout: scaling must be 'inverted' or 'weight', got {scaling!r}{here()}")
    if not mode.training:
        return x if scaling == "inverted" else x * keep
    if keep == 1:
        return x
    mask = lt(mode.uniform(x.type.shape, x.type.dtype), keep)
    return dropout_with_mask(x, mask, keep) if scaling == "inverted" else x * cast(mask, x.type.dtype)


def gaussian_noise(x, std: float, mode: Mode) -> Variable:
    """x + N(0, std²) noise in training (inputs or hidden units); x in evaluation.

    >>> x, train = gc.vector("x"), gc.nn.Mode(training=True, seed=0)
    >>> f = gc.function([x], gc.nn.gaussian_noise(x, 2.0, train), updates=train.updates)
    >>> round(float(f(np.zeros(10_000)).std()), 1)
    2.0
    """
    x = as_variable(x)
    if not mode.training or std == 0:
        return x
    return x + std * mode.normal(x.type.shape, x.type.dtype)


def weight_noise(W, eta: float, mode: Mode) -> Variable:
    """W + ε_W with ε_W ~ N(0, ηI) in training (noise on the weights, redrawn every step); W in evaluation.

    >>> W, train = gc.shared(np.zeros((100, 100)), name="W"), gc.nn.Mode(training=True, seed=0)
    >>> f = gc.function([], gc.nn.weight_noise(W, 0.04, train), updates=train.updates)
    >>> round(float(f().std()), 1)  # √η
    0.2
    """
    W = as_variable(W)
    if not mode.training or eta == 0:
        return W
    return W + float(np.sqrt(eta)) * mode.normal(W.type.shape, W.type.dtype)
