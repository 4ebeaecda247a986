"""A small training loop, `gc.train`, with progress (graphc.notebook: a bar in Jupyter or on a terminal, plain
lines in a log), a history, early stopping (Alg. 7.1) and checkpoints (graphc.io.checkpoint). Knows shared
variables and Python callables: no passes, no codegen.

    >>> import numpy as np, graphc as gc
    >>> w = gc.shared(np.zeros(2), name="w")
    >>> x, y = gc.matrix("x", ("n", 2)), gc.vector("y")
    >>> J = gc.nn.mse(x @ w, y)
    >>> step = gc.function([x, y], J, updates=gc.optim.sgd(J, [w], lr=0.1))
    >>> X, Y = np.eye(2), np.array([1.0, 2.0])
    >>> history = gc.train(step, [(X, Y)], epochs=200, progress=False)
    >>> round(float(history.loss[-1]), 4)
    0.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import GraphcError, InputError
from .graph import SharedVariable
from .io.checkpoint import Checkpoint
from .notebook import in_notebook, progress_display
from .origin import here

__all__ = ["train", "History", "EarlyStopping", "minibatches", "retrain_for_best_steps", "continue_until"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)


@dataclass
class History:
    """Per-epoch mean training loss, validation values, and where early stopping ended (`plot()` draws them).

    >>> history = gc.training.History(loss=[1.0, 0.5], val=[1.2, 0.9])
    >>> history.loss[-1], history.best_epoch
    (0.5, None)
    """

    loss: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def plot(self, path: str | None = None, ax=None, label: str = ""):
        """The loss curves (matplotlib) on `ax`, or on a new figure (shown inline in Jupyter); saved to `path`
        if given. `label` prefixes the curves' names, to compare runs on one `ax`. Returns the figure."""
        try:
            import matplotlib.figure  # noqa: F401
        except ImportError:
            raise GraphcError(
                "History.plot needs matplotlib, which is not installed: pip install matplotlib (the values "
                "are in history.loss and history.val)"
            ) from None
        if ax is None:
            ax = _new_figure().subplots()
        prefix = f"{label} " if label else ""
        ax.plot(self.loss, label=f"{prefix}training loss")
        if self.val:
            ax.plot(self.val, label=f"{prefix}validation")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, linestyle=":", color="gray", label=f"{prefix}best (restored)")
        ax.set_xlabel("epoch")
        ax.legend()
        if path:
            ax.figure.savefig(path)
        return ax.figure


def _new_figure():
    """A figure of its own (no pyplot state), except in Jupyter: there pyplot makes it, which sets up the
    inline display of the figure plot() returns, and lets go of it at once, so that it is not shown twice."""
    if not in_notebook():
        from matplotlib.figure import Figure

        return Figure(figsize=(6, 3.5), layout="constrained")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 3.5), layout="constrained")
    plt.close(fig)
    return fig


class EarlyStopping:
    """Algorithm 7.1: evaluate every `every` epochs; keep the best parameters θ* and epoch i*; stop after
    `patience` evaluations without improvement and restore θ*.

    `params` are the shared variables to snapshot and restore.

    >>> w = gc.shared(np.array(0.0), name="w")
    >>> step = gc.function([], w, updates={w: w + 1})  # w counts the epochs
    >>> val = lambda: float((w.get_value() - 3) ** 2)  # best once w is 3
    >>> stop = gc.training.EarlyStopping([w], patience=2)
    >>> history = gc.train(step, [()], epochs=20, validate=val, early_stopping=stop, progress=False)
    >>> history.best_epoch, history.stopped_epoch, float(w.get_value())
    (2, 4, 3.0)
    """

    def __init__(
        self, params: Sequence[SharedVariable], patience: int = 5, every: int = 1, min_delta: float = 0.0
    ):
        self.params, self.patience, self.every, self.min_delta = list(params), patience, every, min_delta
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_values: list[np.ndarray] | None = None
        self.bad = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record a validation value; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad = value, epoch, 0
            self.best_values = [p.get_value() for p in self.params]
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        if self.best_values is not None:
            for p, v in zip(self.params, self.best_values, strict=True):
                p.set_value(v)


def minibatches(*arrays: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> Callable:
    """A `batches` callable for gc.train: minibatches of the arrays, reshuffled each epoch with rng.

    >>> batches = gc.training.minibatches(np.arange(5), np.arange(5) * 10, batch_size=2)
    >>> [x.tolist() for x, _ in batches(0)]
    [[0, 1], [2, 3], [4]]
    """
    lengths = [len(a) for a in arrays]
    if not isinstance(batch_size, int) or batch_size < 1 or len(set(lengths)) > 1:
        raise InputError(
            f"minibatches: expected arrays of one length and a positive int batch_size, got lengths "
            f"{lengths} and batch_size {batch_size!r}{here()}"
        )

    def batches(epoch: int):
        n = len(arrays[0])
        order = rng.permutation(n) if rng is not None else np.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield tuple(a[idx] for a in arrays)

    batches.rng = rng  # what gc.train's checkpoints save, so a resumed run draws the same order
    return batches


def train(
    step_fn: Callable,
    batches: Iterable | Callable[[int], Iterable],
    epochs: int = 1,
    validate: Callable[[], float] | None = None,
    early_stopping: EarlyStopping | None = None,
    progress: bool = True,
    desc: str = "train",
    checkpoint: str | os.PathLike | None = None,
    every: int = 1,
    resume: bool = False,
) -> History:
    """Run `step_fn(*batch)` over `batches` for `epochs` epochs; returns a History.

    batches: a re-iterable (list of tuples) or a function of the epoch returning an iterable of tuples.
    step_fn returns the loss (or a tuple whose first item is the loss). validate() returns a number to
    minimise (e.g. validation loss or error), recorded each epoch; early_stopping uses it (Alg. 7.1).
    checkpoint: a folder where every `every` epochs (and at the end) the training state is saved atomically
    (graphc.io.checkpoint); with resume=True a run continues from it, `epochs` being the total, and ends with
    the parameters an uninterrupted run gets.

    >>> w = gc.shared(np.array(4.0), name="w")
    >>> step = gc.function([], w**2, updates={w: w * 0.5})  # the loss w², then halve w
    >>> gc.train(step, [()], epochs=3, progress=False).loss
    [16.0, 4.0, 1.0]
    """
    if early_stopping is not None and validate is None:
        raise InputError(
            f"gc.train: early_stopping needs validate=, the function whose value it watches; got None{here()}"
        )
    if resume and checkpoint is None:
        raise InputError(f"gc.train: resume=True needs checkpoint=, the folder to resume from{here()}")
    if type(every) is not int or every < 1:
        raise InputError(f"gc.train: every must be a positive number of epochs, not {every!r}{here()}")
    history = History()
    saver = Checkpoint(checkpoint, step_fn, batches, early_stopping) if checkpoint is not None else None
    start = saver.restore(history) if resume else 0
    if history.stopped_epoch is not None:  # the checkpointed run had stopped early: nothing left to do
        start = epochs
    shown = progress_display(progress, epochs, desc)
    for epoch in range(start, epochs):
        total, count = 0.0, 0
        for batch in batches(epoch) if callable(batches) else batches:
            total += _loss(step_fn(*batch))
            count += 1
        history.loss.append(total / max(count, 1))
        values = {"loss": history.loss[-1]}
        if validate is not None:
            history.val.append(float(validate()))
            values["val"] = history.val[-1]
        shown.show(epoch, values)
        if early_stopping is not None and validate is not None and (epoch + 1) % early_stopping.every == 0:
            if early_stopping.update(epoch, history.val[-1]):
                history.stopped_epoch = epoch
        stopped = history.stopped_epoch is not None
        if saver is not None and ((epoch + 1) % every == 0 or epoch + 1 == epochs or stopped):
            saver.save(epoch, history)
        if stopped:
            break
    if early_stopping is not None:
        early_stopping.restore()
        history.best_epoch = early_stopping.best_epoch
    stopped = history.stopped_epoch is not None and history.best_epoch is not None
    shown.close(f"stopped early; best epoch {history.best_epoch + 1}, restored" if stopped else "")
    return history


def _loss(out) -> float:
    """The loss from what step_fn returned: a scalar, or a tuple or list whose first item is one."""
    out = out[0] if isinstance(out, (tuple, list)) and out else out
    value = np.asarray(out)
    if value.size != 1 or value.dtype.kind not in "fiub":
        raise InputError(
            "gc.train: step_fn must return the loss (a scalar) or a tuple whose first item is it, got "
            f"{type(out).__name__} of shape {value.shape}{here()}"
        )
    return float(value.reshape(()))


def retrain_for_best_steps(
    reset: Callable[[], None], step_fn: Callable, all_batches, stopped: History, progress: bool = False
) -> History:
    """Algorithm 7.2: after early stopping on the subtraining set found i* (stopped.best_epoch), re-initialise
    the parameters (`reset()`) and train on all the data (training + validation) for i* epochs.

    >>> w = gc.shared(np.array(0.0), name="w")
    >>> step = gc.function([], w, updates={w: w + 1})
    >>> stopped = gc.training.History(best_epoch=2)
    >>> again = gc.training.retrain_for_best_steps(lambda: w.set_value(0.0), step, [()], stopped)
    >>> len(again.loss), float(w.get_value())
    (3, 3.0)
    """
    if stopped.best_epoch is None:
        raise InputError(
            "retrain_for_best_steps: stopped must be the History of a run with early stopping (its "
            f"best_epoch is None){here()}"
        )
    reset()
    return train(step_fn, all_batches, epochs=stopped.best_epoch + 1, progress=progress, desc="retrain")


def continue_until(
    step_fn: Callable,
    all_batches,
    validate: Callable[[], float],
    target: float,
    max_epochs: int = 100,
    progress: bool = False,
) -> History:
    """Algorithm 7.3: keep the early-stopped parameters and go on training on all the data until the
    validation loss falls to `target` (the subtraining loss at the stop), or max_epochs pass.

    >>> w = gc.shared(np.array(0.0), name="w")
    >>> step = gc.function([], w, updates={w: w + 1})
    >>> history = gc.training.continue_until(step, [()], lambda: float(10 - w.get_value()), target=7.0)
    >>> history.val, float(w.get_value())
    ([9.0, 8.0, 7.0], 3.0)
    """
    history = History()
    for epoch in range(max_epochs):
        part = train(step_fn, all_batches, epochs=1, validate=validate, progress=progress, desc="continue")
        history.loss += part.loss
        history.val += part.val
        if history.val[-1] <= target:
            history.stopped_epoch = epoch
            break
    return history
