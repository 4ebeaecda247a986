"""Deep-learning layer: activations, losses, layers, initialisers, regularisers (graph-building helpers).

Everything here builds ordinary graph nodes from the graphc core (no passes, no codegen), so any model can be
differentiated with gc.grad, compiled on every backend, printed and drawn.

    >>> import numpy as np, graphc as gc
    >>> x, y = gc.matrix("x", ("n", 4)), gc.vector("y", dtype="int64")
    >>> layer = gc.nn.Dense(4, 3, rng=np.random.default_rng(0))
    >>> J = gc.nn.softmax_cross_entropy(layer(x), y) + 1e-4 * gc.nn.l2_penalty(layer.weights)
"""

from . import init
from .activations import (
    abs_rectify,
    elu,
    gelu,
    generalized_relu,
    hard_tanh,
    leaky_relu,
    linear,
    log_softmax,
    maxout,
    mish,
    prelu,
    rbf,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    step,
    swish,
    tanh,
)
from .attention import AdditiveAttention, additive_attention, attention
from .cells import gru_cell, lstm_cell, rnn_cell
from .conv import conv1d, conv2d, conv_output_size, conv_transpose1d, conv_transpose2d, pad2d
from .layers import (
    Dense,
    Embedding,
    dense,
    dropout,
    dropout_with_mask,
    embedding,
    gaussian_noise,
    weight_noise,
)
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse,
    softmax_cross_entropy,
    sum_squared_error,
)
from .metrics import binary_metrics, confusion_matrix
from .norm import BatchNorm, LayerNorm, batch_norm, layer_norm
from .pool import avg_pool2d, max_pool2d
from .random import Mode, random_normal, random_uniform
from .recurrent import GRU, LSTM, RNN, gru, lstm, rnn
from .regularize import l1_penalty, l2_penalty, label_smoothing
from .simple_rnn import SimpleRNN, rnn_step

__all__ = [
    "init", "binary_metrics", "confusion_matrix",
    "abs_rectify", "elu", "generalized_relu", "hard_tanh", "leaky_relu", "linear", "log_softmax",
    "maxout", "prelu", "rbf", "relu", "sigmoid", "softmax", "softplus", "softsign", "step", "tanh",
    "gelu", "silu", "swish", "mish",
    "avg_pool2d", "conv1d", "conv2d", "conv_output_size", "max_pool2d", "pad2d", "conv_transpose1d",
    "conv_transpose2d",
    "Dense", "dense", "Embedding", "embedding", "dropout", "dropout_with_mask", "gaussian_noise",
    "weight_noise",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "mse",
    "softmax_cross_entropy",
    "sum_squared_error", "BatchNorm", "LayerNorm", "batch_norm", "layer_norm", "Mode", "random_normal",
    "random_uniform", "l1_penalty", "l2_penalty", "label_smoothing", "SimpleRNN", "rnn_step",
    "rnn", "lstm", "gru", "RNN", "LSTM", "GRU", "rnn_cell", "lstm_cell", "gru_cell",
    "attention", "additive_attention", "AdditiveAttention",
]  # fmt: skip


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)
