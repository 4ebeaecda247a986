"""gc.distributed on a LocalCluster of two worker processes (one thread each), started once for the module:
data-parallel training equals one process (SGD and Adam, numpy and llvm), fit on Dask arrays, a worker
killed mid-epoch, the scheduler going away, bad shards, map_blocks.

Tolerance: the distributed gradient is the shards' weighted gradients summed in a fixed tree, the one-process
gradient one sum over the whole batch; they differ by float rounding only: float64 parameters agree to
rtol 1e-10 after several steps, float32 to rtol 1e-5.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
cloudpickle = pytest.importorskip("cloudpickle")
psutil = pytest.importorskip("psutil")

import graphc as gc  # noqa: E402
from graphc.codegen.llvm.cache import cache_dir  # noqa: E402
from graphc.distributed import worker  # noqa: E402

SGD = functools.partial(gc.optim.sgd, lr=0.1)
ADAM = functools.partial(gc.optim.adam, lr=0.01)
RTOL = {"float64": 1e-10, "float32": 1e-5}
MODULE_SECONDS = 300  # the whole module; a hang fails it instead of stalling the suite


@pytest.fixture(scope="module")
def client():
    def overtime(signum, frame):
        raise TimeoutError(f"tests/test_distributed.py ran past {MODULE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, overtime)
    signal.alarm(MODULE_SECONDS)
    # the workers compile from the tests' object cache
    cluster = local_cluster(n_workers=2, processes=True, env={"GRAPHC_CACHE_DIR": str(cache_dir())})
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        pids = set(client.run(os.getpid).values())
        client.close()
        cluster.close()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not [pid for pid in pids if _alive(pid)], "worker processes left running"


def local_cluster(**options):
    """A LocalCluster with one thread per worker and no dashboard; the scheduler's HTTP server (health
    checks, always started) on a free port, not 8787: Dask warns when another cluster holds that one."""
    http = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    return distributed.LocalCluster(threads_per_worker=1, scheduler_kwargs=http, **options)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def mlp(dtype: str = "float64", seed: int = 1):
    """A small classifier, from a seeded start: (x, t, cost, params)."""
    rng = np.random.default_rng(seed)
    x, t = gc.matrix("x", ("n", 8), dtype), gc.vector("t", dtype="int64")
    W1 = gc.shared((rng.standard_normal((8, 16)) * 0.3).astype(dtype), name="W1")
    b1 = gc.shared(np.zeros(16, dtype), name="b1")
    W2 = gc.shared((rng.standard_normal((16, 3)) * 0.3).astype(dtype), name="W2")
    J = gc.nn.softmax_cross_entropy(gc.relu(x @ W1 + b1) @ W2, t) + 1e-3 * (W1 * W1).sum()
    return x, t, J, [W1, b1, W2]


def data(n: int = 96, dtype: str = "float64"):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 8)).astype(dtype), rng.integers(0, 3, n)


def one_process(optimizer, batches, backend="numpy", dtype="float64"):
    x, t, J, params = mlp(dtype)
    step = gc.function([x, t], J, updates=optimizer(J, params), backend=backend)
    losses = [float(step(*batch)) for batch in batches]
    return losses, [p.get_value() for p in params]


def values(params) -> list[np.ndarray]:
    return [p.get_value() for p in params]


def assert_close(got, want, dtype="float64"):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-2)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("optimizer", [SGD, ADAM], ids=["sgd", "adam"])
def test_data_parallel_ends_where_one_process_does(client, backend, optimizer):
    X, T = data()
    batches = [(X[i : i + 13], T[i : i + 13]) for i in range(0, 65, 13)]  # 13 rows: shards of 7 and 6
    want_losses, want = one_process(optimizer, batches, backend)
    x, t, J, params = mlp()
    trainer = gc.distributed.DataParallel(
        J, params, [x, t], optimizer=optimizer, client=client, backend=backend
    )
    losses = [trainer.step(*batch) for batch in batches]
    np.testing.assert_allclose(losses, want_losses, rtol=RTOL["float64"])
    assert_close(values(params), want)
    assert trainer.last_step.compute > 0 and trainer.last_step.total >= trainer.last_step.communication


def test_float32_and_an_odd_number_of_shards(client):
    """Three shards (a tree with an odd leaf) of a float32 model: the gradient stays float32."""
    X, T = data(dtype="float32")
    batches = [(X[i : i + 20], T[i : i + 20]) for i in range(0, 60, 20)]
    _, want = one_process(ADAM, batches, dtype="float32")
    x, t, J, params = mlp("float32")
    trainer = gc.distributed.DataParallel(J, params, [x, t], optimizer=ADAM, client=client, n_shards=3)
    for batch in batches:
        trainer.step(*batch)
    assert all(p.get_value().dtype == np.float32 for p in params)
    assert_close(values(params), want, "float32")


def test_gc_train_drives_the_step_with_validation_and_checkpoints(client, tmp_path):
    """gc.train takes trainer.step: validation, and a checkpointed run resumed by a new trainer ends where an
    uninterrupted one does."""
    X, T = data(64)

    def run(epochs, checkpoint=None):
        x, t, J, params = mlp()
        trainer = gc.distributed.DataParallel(J, params, [x, t], optimizer=ADAM, client=client)
        cost = gc.function([x, t], J)
        batches = gc.training.minibatches(X, T, batch_size=32, rng=np.random.default_rng(0))
        history = gc.train(trainer.step, batches, epochs=epochs, validate=lambda: float(cost(X, T)),
                           progress=False, checkpoint=checkpoint, resume=checkpoint is not None)  # fmt: skip
        return history, values(params)

    history, want = run(2)
    assert len(history.loss) == len(history.val) == 2 and history.val[1] < history.val[0]
    run(1, tmp_path)
    resumed, got = run(2, tmp_path)
    assert resumed.loss == history.loss
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def fit_batches(X, T, shards: int, batch_size: int, rng, epochs: int):
    """The global batches DataParallel.fit makes (graphc.distributed.shards), written out with NumPy."""
    bounds = np.array_split(np.arange(len(X)), shards)
    steps = -(-len(X) // batch_size)
    for _ in range(epochs):
        orders = [rng.permutation(len(b)) for b in bounds]
        for k in range(steps):
            rows = np.concatenate(
                [b[np.array_split(o, steps)[k]] for b, o in zip(bounds, orders, strict=True)]
            )
            yield X[rows], T[rows]


def test_fit_on_dask_arrays_ends_where_one_process_does(client):
    X, T = data()
    dX, dT = da.from_array(X, chunks=(30, 8)), da.from_array(T, chunks=30)  # 4 chunks, made 2 shards
    _, want = one_process(ADAM, fit_batches(X, T, 2, 40, np.random.default_rng(5), epochs=2))
    x, t, J, params = mlp()
    trainer = gc.distributed.DataParallel(J, params, [x, t], optimizer=ADAM, client=client)
    history = trainer.fit(dX, dT, epochs=2, batch_size=40, rng=np.random.default_rng(5), progress=False)
    assert len(history.loss) == 2
    assert_close(values(params), want)


class KillAtShard(distributed.WorkerPlugin):
    """Kills (SIGKILL) the first worker process that starts the task named `key`, once in the cluster."""

    def __init__(self, key: str, marker: str):
        self.key, self.marker = key, marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).endswith(self.key):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_epoch_loses_nothing(client, tmp_path):
    """The worker running shard 0 of step 3 dies with it, and with the shard of the data it held: Dask
    computes both again on the other worker, and the run ends bit for bit where an undisturbed one does."""

    def run(kill: bool):
        x, t, J, params = mlp()
        trainer = gc.distributed.DataParallel(J, params, [x, t], optimizer=ADAM, client=client)
        if kill:
            cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
            client.register_plugin(KillAtShard("-3-shard0", str(tmp_path / "killed")), name="kill")
        X, T = data()
        try:
            dX, dT = da.from_array(X, chunks=(48, 8)), da.from_array(T, chunks=48)
            trainer.fit(dX, dT, epochs=2, batch_size=32, progress=False)
        finally:
            if kill:
                client.unregister_worker_plugin("kill")
                cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        return values(params)

    want = run(kill=False)
    pids = set(client.run(os.getpid).values())
    got = run(kill=True)
    assert (tmp_path / "killed").exists()
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids  # the nanny started a new worker
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_the_scheduler_going_away_is_a_clear_error(tmp_path):
    """A scheduler of its own, in its own process, killed while a step waits (there is no worker, so the
    step's tasks wait), then a step after it: a ClusterError naming it each time; the parameters unchanged."""
    path = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = None
    try:
        client = distributed.Client(scheduler_file=str(path), timeout=30, set_as_default=False)
        address = client.scheduler.address
        x, t, J, params = mlp()
        trainer = gc.distributed.DataParallel(J, params, [x, t], client=client)
        before, (X, T) = values(params), data(16)
        threading.Timer(0.5, scheduler.kill).start()
        with pytest.raises(
            gc.distributed.ClusterError, match=f"step 0: lost the Dask scheduler at {address}"
        ):
            trainer.step(X, T)
        with pytest.raises(
            gc.distributed.ClusterError, match=f"step 1: lost the Dask scheduler at {address}"
        ):
            trainer.step(X, T)
        for g, w in zip(values(params), before, strict=True):
            np.testing.assert_array_equal(g, w)
    finally:
        if client is not None:
            client.close()
        scheduler.kill()
        scheduler.wait()


def test_a_shard_with_the_wrong_feature_size_names_the_shard_and_the_input(client):
    x, t, J, params = mlp()
    trainer = gc.distributed.DataParallel(J, params, [x, t], client=client)
    before = values(params)
    X, T = data(48)
    shard = r"shard \d of 2 \(rows \d+:\d+ of the batch\) on worker tcp://"
    with pytest.raises(gc.ShapeError, match=shard + r".*x: expected shape \(n, 8\), got \(24, 7\)"):
        trainer.step(X[:, :7], T)
    dX = da.concatenate([da.from_array(X[:24], chunks=(24, 8)), lying_block(24)])
    with pytest.raises(gc.ShapeError, match=r"shard 1 of 2 \(rows 24:48 of the data\) on worker tcp://.*x: "):
        trainer.fit(dX, da.from_array(T, chunks=24), batch_size=16, progress=False)
    with pytest.raises(gc.InputError, match=r"same, non-zero number of rows; got x \(48, 8\), t \(47,\)"):
        trainer.step(X, T[:47])
    for g, w in zip(values(params), before, strict=True):
        np.testing.assert_array_equal(g, w)


def lying_block(rows: int):
    """A Dask array declared (rows, 8) whose one block is (rows, 7): what a faulty loader gives."""
    return da.from_delayed(dask.delayed(np.zeros)((rows, 7)), shape=(rows, 8), dtype="float64")


def test_updates_that_read_the_batch_are_refused(client):
    x, t, J, params = mlp()
    bad = {params[1]: params[1] + x.sum()}
    with pytest.raises(gc.GraphError, match=r"the update of b1 reads the batch \(x\)"):
        gc.distributed.DataParallel(J, params[:1], [x, t], updates=bad, client=client)


def test_map_blocks_evaluates_each_block_with_a_function_compiled_once_per_worker(client):
    X, _ = data()
    x = gc.matrix("x", ("n", 8))
    W = gc.shared(np.random.default_rng(2).standard_normal((8, 3)), name="W")
    predict = gc.function([x], gc.softmax(x @ W), backend="llvm")
    blocks = gc.distributed.map_blocks(predict, da.from_array(X, chunks=(20, 8)))
    assert blocks.shape == (96, 3) and blocks.chunks == ((20, 20, 20, 20, 16), (3,))
    np.testing.assert_allclose(blocks.compute(), predict(X), rtol=1e-12)
    digest = worker.Compiled(predict).digest

    def compiled_here():
        f = worker._compiled.get(digest)
        return None if f is None else id(f)

    first = client.run(compiled_here)
    assert any(first.values())
    np.testing.assert_allclose(blocks.sum().compute(), predict(X).sum())
    assert {k: v for k, v in client.run(compiled_here).items() if first.get(k)} == {
        k: v for k, v in first.items() if v
    }
    y = gc.vector("y")  # two inputs of different ranks, the second cut like the first
    shifted = gc.function([x, y], x.sum(axis=1) + y)
    Y = np.arange(96.0)
    got = gc.distributed.map_blocks(shifted, da.from_array(X, chunks=(20, 8)), da.from_array(Y, chunks=48))
    np.testing.assert_allclose(got.compute(), X.sum(axis=1) + Y)
    dX = da.concatenate(
        [da.from_array(X[:20], chunks=(20, 8)), lying_block(20), da.from_array(X[40:], chunks=(20, 8))]
    )
    with pytest.raises(
        gc.ShapeError, match=r"block 1 \(rows 20:40\) on worker tcp://.*x: expected .* got \(20, 7\)"
    ):
        gc.distributed.map_blocks(predict, dX).compute()


def test_map_blocks_refuses_what_it_cannot_split_by_rows():
    x = gc.matrix("x", ("n", 8))
    total = gc.function([x], x.sum())
    with pytest.raises(gc.InputError, match="must have the rows of x first"):
        gc.distributed.map_blocks(total, da.ones((4, 8)))
    with pytest.raises(gc.InputError, match="takes 1 Dask arrays"):
        gc.distributed.map_blocks(gc.function([x], 2 * x), np.ones((4, 8)))


def test_the_example_trains_on_a_running_cluster(client, capsys):
    """examples/distributed_mnist.py --scheduler ADDRESS, short settings, on the module's cluster."""
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "distributed_mnist.py"
    spec = importlib.util.spec_from_file_location("example_distributed_mnist", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main(["--quick", "--epochs", "3", "--scheduler", client.scheduler.address])
    printed = capsys.readouterr().out
    assert out["accuracy"] >= 0.85 and len(out["history"].loss) == 3
    assert "epoch  3: training loss" in printed and "samples/s" in printed


def test_dropout_draws_afresh_each_step_with_the_modes_updates(client):
    """A training Mode's random counter is sent with the parameters and advanced on the driver."""
    mode = gc.nn.Mode(training=True, seed=3)
    x, t, _, params = mlp()
    W1, b1, W2 = params
    J = gc.nn.softmax_cross_entropy(gc.nn.dropout(gc.relu(x @ W1 + b1), 0.5, mode) @ W2, t)
    trainer = gc.distributed.DataParallel(J, params, [x, t], client=client, updates=mode.updates)
    X, T = data(32)
    for _ in range(2):
        trainer.step(X, T)
    assert int(mode.counter.get_value()) == 2
    assert mode.counter in trainer.sent and mode.counter in trainer.fgraph.shared  # sent, and checkpointed


def test_the_readme_section_runs_as_written(client):
    """The README's Dask example, on the module's cluster instead of a new LocalCluster."""
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## More than one process (Dask)") :]
    (code,) = re.findall(r"```python\n(.*?)```", section[: section.index("\n## ")], re.S)
    made_here = "client = Client(LocalCluster(n_workers=2, threads_per_worker=1))"
    assert made_here in code
    namespace = {"the_client": client}
    exec(compile(code.replace(made_here, "client = the_client"), "README.md", "exec"), namespace)  # noqa: S102
    assert np.isfinite(namespace["loss"]) and len(namespace["history"].loss) == 2
    labels = namespace["labels"].compute()
    assert labels.shape == (2048,) and set(np.unique(labels)) <= set(range(10))


def test_a_summed_cost_is_summed(client):
    """reduction="sum": the shards' gradients added as they are (a sum over the batch stays a sum)."""
    X, T = data(30)
    x, t, _, params = mlp()
    W1, b1, W2 = params
    J = gc.nn.softmax_cross_entropy(gc.relu(x @ W1 + b1) @ W2, t, reduction="sum")
    single = gc.function([x, t], J, updates=SGD(J, params))
    want_loss, want = float(single(X, T)), values(params)
    x, t, _, params = mlp()
    W1, b1, W2 = params
    J = gc.nn.softmax_cross_entropy(gc.relu(x @ W1 + b1) @ W2, t, reduction="sum")
    trainer = gc.distributed.DataParallel(J, params, [x, t], optimizer=SGD, client=client, reduction="sum")
    assert trainer.step(X, T) == pytest.approx(want_loss, rel=1e-12)
    assert_close(values(params), want)
