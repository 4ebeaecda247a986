"""Regularisation terms of chapter 7: norm penalties and label smoothing. Knows the graphc core only.

    >>> import numpy as np, graphc as gc
    >>> W = gc.shared(np.ones((3, 2)), name="W")
    >>> penalty = 1e-4 * gc.nn.l2_penalty([W])          # ½‖W‖², weights only (pass biases to opt in)

With cost J + α·½‖w‖², plain SGD's step is w ← (1 − εα)w − ε∇J (the course's weight-decay form).
Dropout and noise live in graphc.nn.layers; early stopping in graphc.training.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphc.errors import InputError
from graphc.graph import Variable
from graphc.origin import here
from graphc.tensor import abs_, as_variable, cast, one_hot, sum_

__all__ = ["l2_penalty", "l1_penalty", "label_smoothing"]


def l2_penalty(weights: Sequence[Variable]) -> Variable:
    """½ Σ‖w‖² over the given weights.

    >>> gc.evaluate(gc.nn.l2_penalty([gc.shared(np.array([3.0, 4.0]))]))
    array(12.5)
    """
    total = None
    for w in weights:
        term = sum_(w * w)
        total = term if total is None else total + term
    if total is None:
        raise InputError(f"l2_penalty: weights must hold at least one variable, got {weights!r}{here()}")
    return 0.5 * total


def l1_penalty(weights: Sequence[Variable]) -> Variable:
    """Σ‖w‖₁ over the given weights (subgradient 0 at 0).

    >>> gc.evaluate(gc.nn.l1_penalty([gc.shared(np.array([3.0, -4.0]))]))
    array(7.)
    """
    total = None
    for w in weights:
        term = sum_(abs_(w))
        total = term if total is None else total + term
    if total is None:
        raise InputError(f"l1_penalty: weights must hold at least one variable, got {weights!r}{here()}")
    return total


def label_smoothing(targets, k: int, eps: float = 0.1, dtype="float64") -> Variable:
    """Soft targets: 1 − ε for the true class and ε/(k − 1) for the others (k = 10, ε = 0.1: 0.9 and 0.0111…).

    `targets` are integer labels or one-hot rows.

    >>> y = gc.vector("y", dtype="int64")
    >>> gc.evaluate(gc.nn.label_smoothing(y, 3, eps=0.3), {y: [0]})
    array([[0.7 , 0.15, 0.15]])
    """
    if not isinstance(k, int) or k < 2:
        raise InputError(f"label_smoothing: k (the number of classes) must be an int ≥ 2, got {k!r}{here()}")
    t = as_variable(targets)
    t = one_hot(t, k, dtype=dtype) if t.type.dtype.kind in "iu" else cast(t, dtype)
    return t * (1 - eps) + (1 - t) * (eps / (k - 1))
