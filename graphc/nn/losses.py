"""Output losses of chapter 6.2 (from logits, computed stably). Knows the graphc core only.

    >>> import graphc as gc
    >>> logits, labels = gc.matrix("logits", ("n", 10)), gc.vector("y", dtype="int64")
    >>> J = gc.nn.softmax_cross_entropy(logits, labels)        # mean over the batch

Every loss takes `reduction`: "mean" (default; the course's (1/n)Σ), "sum", or "none" (one value per example).
"""

from __future__ import annotations

from graphc.errors import InputError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import as_variable, cast, log, log_softmax, mean, one_hot, softplus, sum_

__all__ = [
    "softmax_cross_entropy", "cross_entropy", "binary_cross_entropy_with_logits", "binary_cross_entropy",
    "mse", "sum_squared_error", "reduce",
]  # fmt: skip


def reduce(values: Variable, reduction: str) -> Variable:
    if reduction == "mean":
        return mean(values)
    if reduction == "sum":
        return sum_(values)
    if reduction == "none":
        return values
    raise InputError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}{here()}")


def _targets(targets, like: Variable) -> Variable:
    """Integer labels become one-hot rows of like's dtype; one-hot or soft (smoothed) targets pass through."""
    targets = as_variable(targets)
    if targets.type.dtype.kind in "iu":
        classes = like.type.shape[-1] if like.type.ndim else None
        if not isinstance(classes, int):
            raise ShapeError(
                f"integer labels {describe(targets)} become one-hot rows, so the number of classes (the last "
                f"axis of {describe(like)}) must be a number: give it in the input's shape, e.g. "
                f"gc.matrix('z', (None, 10)), or pass one-hot targets{here()}"
            )
        return one_hot(targets, classes, dtype=like.type.dtype)
    return cast(targets, like.type.dtype)


def softmax_cross_entropy(logits, targets, reduction: str = "mean") -> Variable:
    """−Σₖ tₖ log softmax(z)ₖ via log-softmax (log-sum-exp); targets: integer labels, one-hot or soft rows.

    Its gradient with respect to the logits is softmax(z) − t (per example). Integer labels need the number
    of classes (z's last size) as a number.

    >>> z, y = gc.matrix("z", (None, 2)), gc.vector("y", dtype="int64")
    >>> gc.evaluate(gc.nn.softmax_cross_entropy(z, y), {z: [[0.0, 0.0], [0.0, 0.0]], y: [0, 1]})  # log 2
    array(0.69314718)
    """
    logits = as_variable(logits)
    t = _targets(targets, logits)
    return reduce(-sum_(t * log_softmax(logits), axis=-1), reduction)


def cross_entropy(probs, targets, reduction: str = "mean") -> Variable:
    """−Σₖ tₖ log pₖ for probabilities p (e.g. gc.nn.softmax(z)); the stabilize pass turns log(softmax) into
    log_softmax, so this is as stable as softmax_cross_entropy.

    >>> p, y = gc.matrix("p", (None, 2)), gc.vector("y", dtype="int64")
    >>> gc.evaluate(gc.nn.cross_entropy(p, y), {p: [[0.5, 0.5], [0.25, 0.75]], y: [0, 1]})
    array(0.49041463)
    """
    probs = as_variable(probs)
    t = _targets(targets, probs)
    return reduce(-sum_(t * log(probs), axis=-1), reduction)


def binary_cross_entropy_with_logits(logits, y, reduction: str = "mean") -> Variable:
    """−[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y·z: stable for any z (the course's sign erratum
    fixed).

    >>> z, y = gc.vector("z"), gc.vector("y")
    >>> gc.evaluate(gc.nn.binary_cross_entropy_with_logits(z, y), {z: [0.0, 0.0], y: [1.0, 0.0]})
    array(0.69314718)
    """
    z = as_variable(logits)
    y = cast(as_variable(y), z.type.dtype)
    return reduce(softplus(z) - y * z, reduction)


def binary_cross_entropy(p, y, reduction: str = "mean") -> Variable:
    """−[y log p + (1−y) log(1−p)] from probabilities p in (0, 1).

    >>> p, y = gc.vector("p"), gc.vector("y")
    >>> gc.evaluate(gc.nn.binary_cross_entropy(p, y), {p: [0.5, 0.5], y: [1.0, 0.0]})
    array(0.69314718)
    """
    p = as_variable(p)
    y = cast(as_variable(y), p.type.dtype)
    return reduce(-(y * log(p) + (1 - y) * log(1 - p)), reduction)


def mse(pred, target, reduction: str = "mean") -> Variable:
    """(1/n)Σ(y − ŷ)² over every element (reduction="sum": Σ(y − ŷ)²).

    >>> p, y = gc.vector("p"), gc.vector("y")
    >>> gc.evaluate(gc.nn.mse(p, y), {p: [1.0, 2.0], y: [1.0, 4.0]})
    array(2.)
    """
    pred = as_variable(pred)
    diff = pred - as_variable(target, like=pred)
    return reduce(diff * diff, reduction)


def sum_squared_error(pred, target) -> Variable:
    """½Σ(t − s)², the course's form for the step-by-step backprop example.

    >>> s, t = gc.vector("s"), gc.vector("t")
    >>> gc.evaluate(gc.nn.sum_squared_error(s, t), {s: [1.0, 2.0], t: [1.0, 4.0]})
    array(2.)
    """
    pred = as_variable(pred)
    diff = as_variable(target, like=pred) - pred
    return 0.5 * sum_(diff * diff)
