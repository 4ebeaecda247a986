"""Benchmark 5: data-parallel training on Dask (gc.distributed.DataParallel) on this machine, and the cost
model of a step against the number of workers (the README's "More than one process" section).

Models: the fig. 6.11 MLP (784-512-10, relu, softmax cross-entropy, L2 decay, float32, batch 1,024) and the
CNN of examples/cnn_digits.py (batch 1,024 of 8×8 images); SGD, llvm backend. For 1 and 2 workers (local
processes, one thread each): samples/s, and where a step's time goes (the slowest shard's gradient on its
worker, the update on the driver, the rest: broadcast, scheduling, reduction, transfers). One process with
the same compiled step, on 1 thread and on both cores, is the baseline. Then Dask's own costs (round trip,
per-task overhead, transfer bandwidth) and the cost model, predicted against measured.

Run: python bench/bench_distributed.py [--steps 15]
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import statistics
import sys
import time

import numpy as np
from common import table
from threadpoolctl import threadpool_limits

import graphc as gc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from cnn_digits import cnn  # noqa: E402

BATCH, LAM, LR = 1024, 1e-4, 0.01


def mlp_model():
    """(inputs, cost, params, batch) of the fig. 6.11 MLP."""
    rng = np.random.default_rng(0)
    x, t = gc.matrix("x", ("n", 784), "float32"), gc.vector("t", dtype="int64")
    W1 = gc.shared((rng.standard_normal((784, 512)) / 28).astype(np.float32), name="W1")
    W2 = gc.shared((rng.standard_normal((512, 10)) / 22.6).astype(np.float32), name="W2")
    J = gc.nn.softmax_cross_entropy(gc.relu(x @ W1) @ W2, t) + LAM * ((W1 * W1).sum() + (W2 * W2).sum())
    batch = (rng.standard_normal((BATCH, 784)).astype(np.float32), rng.integers(0, 10, BATCH))
    return [x, t], J, [W1, W2], batch


def cnn_model():
    rng = np.random.default_rng(0)
    x, y, J, _, params = cnn(rng)
    batch = (rng.random((BATCH, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, BATCH))
    return [x, y], J, params, batch


MODELS = {"MLP 784-512-10": mlp_model, "CNN (cnn_digits)": cnn_model}


def median_time(fn, calls: int) -> float:
    """The median seconds of `calls` calls, after one to warm up (medians: this machine is shared)."""
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_process(build, threads: int, steps: int) -> float:
    """Seconds per SGD step of the model compiled as one function, on `threads` threads."""
    inputs, J, params, batch = build()
    os.environ["GRAPHC_NUM_THREADS"] = str(threads)
    gc.settings.reload()
    step = gc.function(inputs, J, updates=gc.optim.sgd(J, params, lr=LR), backend="llvm")
    with threadpool_limits(threads):
        return median_time(lambda: step(*batch), steps)


def data_parallel(client, build, steps: int) -> dict:
    """Median seconds of a DataParallel step and of its parts (gc.distributed.StepTimes)."""
    inputs, J, params, batch = build()
    trainer = gc.distributed.DataParallel(J, params, inputs, client=client, backend="llvm",
                                          optimizer=lambda g, p: gc.optim.sgd(g, p, lr=LR))  # fmt: skip
    for _ in range(2):  # warm up: each worker compiles the gradient once
        trainer.step(*batch)
    times = []
    for _ in range(steps):
        trainer.step(*batch)
        times.append(trainer.last_step)
    median = {
        part: statistics.median(getattr(t, part) for t in times) for part in ("total", "compute", "update")
    }
    median["communication"] = statistics.median(t.communication for t in times)
    median["param_bytes"] = sum(p.get_value().nbytes for p in params)
    return median


def dask_costs(client, param_bytes: int, calls: int) -> dict:
    """Dask's costs here (medians): a submit→result round trip r; the scheduler's time per task s (200
    independent trivial tasks at once); a hop h (per link of a chain of dependent tasks); the bandwidth
    between worker processes (one fetching a 32 MB array from the other); the broadcast of the
    parameters (client.scatter(..., broadcast=True)) to all the workers."""

    def noop(*args):
        return 0

    def many(k=200):
        client.gather([client.submit(noop, i, pure=False) for i in range(k)])

    def chain(k=50):
        f = client.submit(noop, pure=False)
        for _ in range(k):
            f = client.submit(noop, f, pure=False)
        f.result()

    a, b = sorted(client.scheduler_info()["workers"])[:2]
    big, params = np.ones(4 << 20), np.ones(param_bytes // 8)

    def place():
        return client.scatter(big, workers=[a], hash=False)

    def transfer():
        client.submit(np.sum, place(), workers=[b], pure=False).result()

    moved = median_time(transfer, calls) - median_time(place, calls)
    return {
        "r": median_time(lambda: client.submit(noop, pure=False).result(), 3 * calls),
        "s": median_time(many, 3) / 200,
        "h": median_time(chain, 3) / 51,
        "bandwidth": big.nbytes / max(moved, 1e-6),
        "broadcast": median_time(lambda: client.scatter([params], broadcast=True, hash=False), calls),
    }


def predicted(n: int, c: float, p: float, bw: float, costs: dict, fixed: float) -> tuple[float, float]:
    """The cost model: (compute, communication) seconds of a step with n workers.

    compute: c·B/n, c one worker's seconds per sample. communication = fixed + broadcast + scheduling +
    reduction: `fixed` the step's latency with one worker (its round trips and the update: calibrated on the
    1-worker run); the broadcast's replication (Dask's: each holder sends to 2 more per round, ⌈log₃ n⌉
    rounds of 2P/bw); the scheduler's work for the 2n − 1 tasks (s each, one after another); the tree
    reduction, ⌈log₂ n⌉ rounds of a hop and one gradient's transfer (P/bw)."""
    rounds3 = math.ceil(math.log(n, 3) - 1e-9) if n > 1 else 0
    rounds2 = math.ceil(math.log2(n)) if n > 1 else 0
    transfer = p / bw
    communication = (
        fixed + rounds3 * 2 * transfer + (2 * n - 2) * costs["s"] + rounds2 * (costs["h"] + transfer)
    )
    return c * BATCH / n, communication


def main(argv: list[str] | None = None) -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="steps (and calls) per median")
    args = parser.parse_args(argv)

    baseline = {
        name: {t: one_process(build, t, args.steps) for t in (1, 2)} for name, build in MODELS.items()
    }
    runs, costs = {}, {}
    for workers in (1, 2):
        env = {"GRAPHC_NUM_THREADS": "1", "GRAPHC_CACHE_DIR": os.environ["GRAPHC_CACHE_DIR"]}
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None, env=env
        ) as cluster:
            with Client(cluster) as client:
                for name, build in MODELS.items():
                    runs[name, workers] = data_parallel(client, build, args.steps)
                if workers == 2:
                    costs = dask_costs(client, runs["MLP 784-512-10", 1]["param_bytes"], args.steps)

    rows = []
    for name in MODELS:
        for threads in (1, 2):
            step = baseline[name][threads]
            run = f"one process, {threads} thread{'s' * (threads > 1)}"
            rows.append([name, run, f"{BATCH / step:,.0f}", f"{step * 1e3:.1f}", "", "", ""])
        for workers in (1, 2):
            t = runs[name, workers]
            run = f"DataParallel, {workers} worker{'s' * (workers > 1)}"
            parts = [f"{t[part] * 1e3:.1f}" for part in ("total", "compute", "update", "communication")]
            rows.append([name, run, f"{BATCH / t['total']:,.0f}", *parts])
    table("Data-parallel SGD, batch 1,024, llvm: samples/s, and ms per step (medians)",
          ["model", "run", "samples/s", "step", "compute", "update", "communication"], rows)  # fmt: skip

    ms = [f"{costs[k] * 1e3:.2f} ms" for k in ("r", "s", "h")]
    header = ["round trip r", "per task s", "hop h", "bandwidth", "broadcast of P"]
    row = [*ms, f"{costs['bandwidth'] / 1e9:.2f} GB/s", f"{costs['broadcast'] * 1e3:.1f} ms"]
    table("Dask on this machine (medians)", header, [row])

    rows = []
    for name in MODELS:
        one = runs[name, 1]
        c, fixed = one["compute"] / BATCH, one["communication"]  # calibrated on the 1-worker run
        for workers in (1, 2):
            run = runs[name, workers]
            compute, comm = predicted(workers, c, run["param_bytes"], costs["bandwidth"], costs, fixed)
            rows.append([name, workers, f"{(compute + comm) * 1e3:.1f}", f"{run['total'] * 1e3:.1f}",
                         f"{compute * 1e3:.1f}", f"{run['compute'] * 1e3:.1f}", f"{comm * 1e3:.1f}",
                         f"{run['communication'] * 1e3:.1f}"])  # fmt: skip
    table(
        "Cost model here, ms: predicted / measured (calibrated on the 1-worker runs)",
        ["model", "workers", "step", "measured", "compute", "measured", "communication", "measured"],
        rows,
    )

    mlp = runs["MLP 784-512-10", 1]
    c, p = mlp["compute"] / BATCH, mlp["param_bytes"]
    rows = []
    for network, bw in (("10 GbE", 1.25e9), ("1 GbE", 0.125e9)):
        fixed = (
            mlp["communication"] - p / costs["bandwidth"] + p / bw
        )  # this machine's latencies, that network
        for n in (1, 2, 4, 8, 16, 32, 64):
            compute, comm = predicted(n, c, p, bw, costs, fixed)
            rows.append(
                [network, n, f"{compute * 1e3:.1f}", f"{comm * 1e3:.1f}", f"{BATCH / (compute + comm):,.0f}"]
            )
    table("The MLP's step by the cost model beyond this machine, ms (Dask's r, s, h as measured here)",
          ["network", "workers", "compute", "communication", "samples/s"], rows)  # fmt: skip
    print(f"per-sample compute c = {c * 1e6:.1f} µs on one worker thread, parameters P = {p / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
