"""Checkpoints of gc.train, for an exact resume. Knows shared variables and graphc.io's files of named arrays;
no passes, no codegen.

    history = gc.train(step, batches, epochs=20, checkpoint="runs/cnn", every=1, resume=True)

One file, `<folder>/checkpoint.gcz`, replaced atomically (a process killed while saving leaves the previous
one): every shared variable the step function reads or updates (parameters, optimiser state, random
counters, running statistics), the state of the minibatch order's generator (`batches.rng`, which
gc.training.minibatches sets), early stopping's state, the last finished epoch and the history. Run the same
command with resume=True after a crash and it finishes with the parameters an uninterrupted run gets, bit
for bit (same backend).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from graphc.errors import GraphcError, InputError
from graphc.graph import SharedVariable

from . import codecs
from .archive import fail
from .params import assign, read_groups, write_groups

FILE = "checkpoint.gcz"


def keyed(variables) -> dict[str, SharedVariable]:
    """Shared variables by name; a repeated name gets #2, #3... in order (a rebuilt model repeats them)."""
    out: dict[str, SharedVariable] = {}
    for v in variables:
        base = v.name or "shared"
        key, k = base, 1
        while key in out:
            k += 1
            key = f"{base}#{k}"
        out[key] = v
    return out


class Checkpoint:
    """What gc.train saves after an epoch and restores on resume (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike, step_fn, batches, early_stopping=None):
        owner = getattr(step_fn, "__self__", step_fn)  # a compiled function, or a trainer's bound step
        shared = getattr(getattr(step_fn, "fgraph", None) or getattr(owner, "fgraph", None), "shared", None)
        if shared is None:
            raise InputError(
                "gc.train(checkpoint=...) needs a step compiled by gc.function (or a DataParallel's step)"
            )
        self.path = Path(folder) / FILE
        self.state = keyed(shared)
        self.rng = getattr(batches, "rng", None)
        self.early_stopping = early_stopping

    def save(self, epoch: int, history) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        groups = {"state": self.state}
        extra = {
            "epoch": epoch,
            "history": {
                "loss": codecs.encode(None, tuple(history.loss)),
                "val": codecs.encode(None, tuple(history.val)),
                "stopped_epoch": history.stopped_epoch,
            },
            "rng": _plain(self.rng.bit_generator.state) if self.rng is not None else None,
        }
        stopper = self.early_stopping
        if stopper is not None:
            extra["early_stopping"] = {
                "best": codecs.encode(None, float(stopper.best)),
                "best_epoch": stopper.best_epoch,
                "bad": stopper.bad,
            }
            if stopper.best_values is not None:
                best = [
                    SharedVariable(v, p.name)
                    for p, v in zip(stopper.params, stopper.best_values, strict=True)
                ]
                groups["best"] = keyed(best)
        return write_groups(self.path, "checkpoint", groups, extra)

    def restore(self, history) -> int:
        """Load the checkpoint into the variables and `history`, if there is one; the epoch to start from (0
        without a checkpoint). Everything is read and checked before anything changes."""
        if not self.path.exists():
            return 0
        groups, extra = read_groups(self.path, ("checkpoint",))
        saved = groups.get("state", {})
        if set(saved) != set(self.state):
            ours = ", ".join(sorted(set(self.state) - set(saved))[:8]) or "nothing else"
            theirs = ", ".join(sorted(set(saved) - set(self.state))[:8]) or "nothing else"
            raise InputError(
                f"resume from {self.path}: the checkpoint is of another model: the step function has {ours}, "
                f"the checkpoint {theirs}"
            )
        pairs = assign(self.state, saved, f"resume from {self.path}", strict=True)
        epoch = extra.get("epoch")
        if type(epoch) is not int or epoch < 0:
            raise fail(f"the checkpoint's epoch {epoch!r:.40} is not a count")
        loss, val, stopped = _history(extra.get("history"))
        rng_state = extra.get("rng")
        if (rng_state is None) != (self.rng is None):
            raise InputError(f"resume from {self.path}: the batches' generator (batches.rng) changed")
        stopping = self._early_stopping(groups, extra.get("early_stopping"))
        if self.rng is not None:
            try:
                self.rng.bit_generator.state = rng_state
            except (TypeError, ValueError, KeyError) as exc:
                raise fail(f"the checkpoint's generator state does not fit batches.rng ({exc})") from None
        for var, value in pairs:  # nothing changes until everything has been read and checked
            var.set_value(value, copy=False)
        stopping()
        history.loss[:], history.val[:], history.stopped_epoch = loss, val, stopped
        return epoch + 1

    def _early_stopping(self, groups: dict, saved):
        """A function applying the saved early-stopping state (checked now, applied with the rest)."""
        stopper = self.early_stopping
        if (stopper is None) != (saved is None):
            raise InputError(
                f"resume from {self.path}: early stopping was {'off' if saved is None else 'on'}"
            )
        if stopper is None:
            return lambda: None
        if type(saved) is not dict or type(saved.get("bad")) is not int:
            raise fail("the early-stopping state is malformed")
        best_epoch = saved.get("best_epoch")
        if best_epoch is not None and type(best_epoch) is not int:
            raise fail("the early-stopping best epoch is not an int")
        best = codecs.decode_float(saved.get("best"))
        values = None
        if "best" in groups:
            targets = keyed(stopper.params)
            values = [v for _, v in assign(targets, groups["best"], "early stopping's best parameters", True)]

        def apply() -> None:
            stopper.best, stopper.best_epoch, stopper.bad = best, best_epoch, saved["bad"]
            stopper.best_values = values

        return apply


def _history(saved) -> tuple[list[float], list[float], int | None]:
    if type(saved) is not dict or type(saved.get("loss")) is not list or type(saved.get("val")) is not list:
        raise fail("the checkpoint's history is malformed")
    stopped = saved.get("stopped_epoch")
    if stopped is not None and type(stopped) is not int:
        raise fail("the checkpoint's stopped epoch is not an int")
    return (
        [codecs.decode_float(x) for x in saved["loss"]],
        [codecs.decode_float(x) for x in saved["val"]],
        stopped,
    )


def _plain(state, depth: int = 0):
    """A NumPy bit generator's state as JSON (its arrays as lists); refused if it is anything else."""
    if depth > 4:
        raise GraphcError("the generator state is nested too deeply to save")
    if isinstance(state, dict) and all(type(k) is str for k in state):
        return {k: _plain(v, depth + 1) for k, v in state.items()}
    if isinstance(state, np.ndarray) and state.dtype.kind in "iu":
        return state.tolist()
    if type(state) in (int, str, bool) or isinstance(state, np.integer):
        return int(state) if isinstance(state, np.integer) else state
    raise GraphcError(f"cannot save a generator state holding {type(state).__name__}")
