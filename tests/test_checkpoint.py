"""gc.train checkpoints: a run that crashes and resumes ends bit for bit where an uninterrupted run ends; a
process killed while saving leaves the previous checkpoint valid; a checkpoint of another model is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as gc

EPOCHS = 4


class Crash(Exception):
    pass


def setup(backend: str, crash_at: int | None = None):
    """A small MLP with dropout (a random counter), Adam, shuffled minibatches and early stopping, built
    afresh from the same seeds, as a new process would."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    l1, l2 = gc.nn.Dense(5, 8, rng=rng, name="l1"), gc.nn.Dense(8, 3, rng=rng, name="l2")
    x, t = gc.matrix("x", ("n", 5)), gc.vector("t", dtype="int64")
    mode = gc.nn.Mode(training=True, seed=3)
    J = gc.nn.softmax_cross_entropy(l2(gc.nn.dropout(gc.nn.relu(l1(x)), 0.7, mode)), t)
    params = l1.params + l2.params
    step = gc.function(
        [x, t], J, updates={**gc.optim.adam(J, params, lr=0.05), **mode.updates}, backend=backend
    )
    loss = gc.function([x, t], gc.nn.softmax_cross_entropy(l2(gc.nn.relu(l1(x))), t), backend=backend)
    calls = []

    def crashing_step(*batch):
        calls.append(1)
        if crash_at is not None and len(calls) == crash_at:
            raise Crash
        return step(*batch)

    crashing_step.fgraph = step.fgraph  # what the checkpoint saves: the step's shared variables
    options = {
        "batches": gc.training.minibatches(X, y, batch_size=16, rng=np.random.default_rng(1)),
        "validate": lambda: float(loss(X, y)),
        "early_stopping": gc.training.EarlyStopping(params, patience=10),
        "progress": False,
    }
    return crashing_step, step, options


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(backend, tmp_path) -> None:
    fn, step, options = setup(backend)
    whole = gc.train(fn, epochs=EPOCHS, **options)
    expected = [v.get_value() for v in step.fgraph.shared]

    fn, _, options = setup(backend, crash_at=8)  # 3 batches an epoch: dies in the third epoch
    with pytest.raises(Crash):
        gc.train(fn, epochs=EPOCHS, checkpoint=tmp_path / "run", **options)
    fn, step, options = setup(backend)  # a new "process": fresh variables from the same seeds
    resumed = gc.train(fn, epochs=EPOCHS, checkpoint=tmp_path / "run", resume=True, **options)

    assert resumed.loss == whole.loss and resumed.val == whole.val and resumed.best_epoch == whole.best_epoch
    for got, want in zip((v.get_value() for v in step.fgraph.shared), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    again = gc.train(fn, epochs=EPOCHS, checkpoint=tmp_path / "run", resume=True, **options)
    assert again.loss == whole.loss  # a finished run resumes to nothing


def test_a_checkpoint_of_another_model_is_refused(tmp_path) -> None:
    fn, step, options = setup("numpy")
    gc.train(fn, epochs=1, checkpoint=tmp_path, **options)
    x = gc.vector("x", 3)
    w = gc.shared(np.zeros(3), name="l1.W")
    other = gc.function([x], gc.sum(w * x), updates={w: w + 1.0})
    with pytest.raises(
        gc.InputError, match="another model: the step function has nothing else, the checkpoint adam.t"
    ):
        gc.train(other, [([1.0, 2.0, 3.0],)], epochs=2, checkpoint=tmp_path, resume=True, progress=False)
    assert not w.get_value().any()
    with pytest.raises(gc.InputError, match="resume=True needs checkpoint="):
        gc.train(other, [], resume=True)


KILLED_WHILE_SAVING = """
import os, signal, sys
import numpy as np
import graphc as gc

x = gc.vector("x")
w = gc.shared(np.zeros(200_000), name="w")
step = gc.function([x], gc.sum(w), updates={w: w + 1.0})
gc.train(step, [([0.0],)], epochs=1, checkpoint=sys.argv[1], progress=False)   # a first, good checkpoint
real = np.lib.format.write_array

def dies_halfway(f, array, **kw):
    f.write(array.tobytes()[: array.nbytes // 2])
    os.kill(os.getpid(), signal.SIGKILL)

np.lib.format.write_array = dies_halfway
gc.train(step, [([0.0],)], epochs=3, checkpoint=sys.argv[1], resume=True, progress=False)
"""


def test_a_process_killed_while_saving_leaves_the_previous_checkpoint(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(KILLED_WHILE_SAVING))
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    w = gc.shared(np.full(200_000, 7.0), name="w")
    step = gc.function([gc.vector("x")], gc.sum(w), updates={w: w + 1.0})
    history = gc.train(step, [([0.0],)], epochs=2, checkpoint=tmp_path / "run", resume=True, progress=False)
    assert len(history.loss) == 2 and history.loss[0] == 0.0  # epoch 1 from the checkpoint, epoch 2 rerun
    assert (w.get_value() == 2.0).all()
