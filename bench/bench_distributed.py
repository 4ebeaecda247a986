"""Benchmark 8: data-parallel training on Dask (gc.distributed.DataParallel) on this machine, and the cost
model of a step against the number of workers (the README's "More than one process" section).

Models: the fig. 6.11 MLP (784-512-10, relu, softmax cross-entropy, L2 decay, float32, batch 1,024) and the
CNN of examples/cnn_digits.py (batch 1,024 of 8×8 images); SGD, llvm backend. For 1 and 2 workers (local
processes, one thread each): samples/s, and where a step's time goes (the slowest shard's gradient on its
worker, the update on the driver, the rest: broadcast, scheduling, reduction, transfers). One process with
the same compiled step, on 1 thread and on both cores, is the baseline. Then Dask's own costs (round trip,
per-task overhead, transfer bandwidth) and the cost model, predicted against measured.

Run: python bench/bench_distributed.py [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
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


def fastest(fn, calls: int) -> float:
    """The fastest of `calls` calls, after one to warm up: this machine is shared, and interference only
    ever adds time."""
    fn()
    best = math.inf
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def one_process(build, threads: int, steps: int) -> float:
    """Seconds per SGD step of the model compiled as one function, on `threads` threads."""
    inputs, J, params, batch = build()
    os.environ["GRAPHC_NUM_THREADS"] = str(threads)
    gc.settings.reload()
    step = gc.function(inputs, J, updates=gc.optim.sgd(J, params, lr=LR), backend="llvm")
    with threadpool_limits(threads):
        return fastest(lambda: step(*batch), steps)


def data_parallel(client, build, steps: int):
    """The fastest of `steps` DataParallel steps (gc.distributed.StepTimes: its total and parts), and the
    parameters' size in bytes."""
    inputs, J, params, batch = build()
    trainer = gc.distributed.DataParallel(J, params, inputs, client=client, backend="llvm",
                                          optimizer=lambda g, p: gc.optim.sgd(g, p, lr=LR))  # fmt: skip
    for _ in range(2):  # warm up: each worker compiles the gradient once
        trainer.step(*batch)
    times = []
    for _ in range(steps):
        trainer.step(*batch)
        times.append(trainer.last_step)
    return min(times, key=lambda t: t.total), sum(p.get_value().nbytes for p in params)


def dask_costs(client, param_bytes: int, calls: int) -> dict:
    """Dask's costs here (fastest of several): a submit→result round trip r; the scheduler's time per task s
    (200 independent trivial tasks at once); a hop h (per link of a chain of dependent tasks); the bandwidth
    between worker processes (one fetching a 32 MB array from the other); the broadcast of the parameters
    (client.scatter(..., broadcast=True)) to all the workers."""

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

    moved = fastest(transfer, calls) - fastest(place, calls)
    return {
        "r": fastest(lambda: client.submit(noop, pure=False).result(), 3 * calls),
        "s": fastest(many, 3) / 200,
        "h": fastest(chain, 3) / 51,
        "bandwidth": big.nbytes / max(moved, 1e-6),
        "broadcast": fastest(lambda: client.scatter([params], broadcast=True, hash=False), calls),
    }


def predicted(
    n: int, c: float, p: float, bw: float, costs: dict, fixed: float, batch: int = BATCH
) -> tuple[float, float]:
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
    return c * batch / n, communication


def measure(rounds: int, steps: int) -> tuple[dict, dict, dict]:
    """Rounds of everything, the fastest kept: one process; DataParallel on 1 and 2 workers; Dask's costs."""
    from distributed import Client, LocalCluster

    baseline: dict = {}
    runs: dict = {}
    costs: dict = {}
    for _ in range(rounds):
        for name, build in MODELS.items():
            for threads in (1, 2):
                t = one_process(build, threads, steps)
                baseline[name, threads] = min(baseline.get((name, threads), math.inf), t)
        for workers in (1, 2):
            env = {"GRAPHC_NUM_THREADS": "1", "GRAPHC_CACHE_DIR": os.environ["GRAPHC_CACHE_DIR"]}
            options = {"threads_per_worker": 1, "dashboard_address": None, "env": env}
            with LocalCluster(n_workers=workers, **options) as cluster, Client(cluster) as client:
                for name, build in MODELS.items():
                    times, size = data_parallel(client, build, steps)
                    if (name, workers) not in runs or times.total < runs[name, workers][0].total:
                        runs[name, workers] = (times, size)
                if workers == 2:
                    got = dask_costs(client, runs["MLP 784-512-10", 1][1], steps)
                    costs = {k: min(v, costs.get(k, math.inf)) for k, v in got.items()}
                    costs["bandwidth"] = max(got["bandwidth"], costs.get("bandwidth", 0.0))
    return baseline, runs, costs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps (and calls) per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    baseline, runs, costs = measure(args.rounds, args.steps)

    rows = []
    for name in MODELS:
        for threads in (1, 2):
            step = baseline[name, threads]
            run = f"one process, {threads} thread{'s' * (threads > 1)}"
            rows.append([name, run, f"{BATCH / step:,.0f}", f"{step * 1e3:.1f}", "", "", ""])
        for workers in (1, 2):
            t = runs[name, workers][0]
            run = f"DataParallel, {workers} worker{'s' * (workers > 1)}"
            parts = [f"{v * 1e3:.1f}" for v in (t.total, t.compute, t.update, t.communication)]
            rows.append([name, run, f"{BATCH / t.total:,.0f}", *parts])
    header = ["model", "run", "samples/s", "step", "compute", "update", "communication"]
    table("Data-parallel SGD, batch 1,024, llvm: samples/s, and ms per step (the fastest step)", header, rows)

    ms = [f"{costs[k] * 1e3:.2f} ms" for k in ("r", "s", "h")]
    header = ["round trip r", "per task s", "hop h", "bandwidth", "broadcast of P"]
    row = [*ms, f"{costs['bandwidth'] / 1e9:.2f} GB/s", f"{costs['broadcast'] * 1e3:.1f} ms"]
    table("Dask on this machine", header, [row])

    rows = []
    for name in MODELS:
        one, size = runs[name, 1]
        c, fixed = one.compute / BATCH, one.communication  # calibrated on the 1-worker run
        for workers in (1, 2):
            t = runs[name, workers][0]
            compute, comm = predicted(workers, c, size, costs["bandwidth"], costs, fixed)
            values = (compute + comm, t.total, compute, t.compute, comm, t.communication)
            rows.append([name, workers, *(f"{v * 1e3:.1f}" for v in values)])
    header = ["model", "workers", "step", "measured", "compute", "measured", "communication", "measured"]
    table("The cost model here, ms: predicted, measured (calibrated on the 1-worker runs)", header, rows)

    one, p = runs["MLP 784-512-10", 1]
    c, rows, big = one.compute / BATCH, [], 16 * BATCH
    for network, bw in (("10 GbE", 1.25e9), ("1 GbE", 0.125e9)):
        # this machine's latencies; that network's transfers (the 1-worker step has two: parameters, gradient)
        fixed = one.communication + 2 * (p / bw - p / costs["bandwidth"])
        for n in (1, 2, 4, 8, 16, 32, 64):
            compute, comm = predicted(n, c, p, bw, costs, fixed)
            compute_big, _ = predicted(n, c, p, bw, costs, fixed, big)
            speeds = [f"{BATCH / (compute + comm):,.0f}", f"{big / (compute_big + comm):,.0f}"]
            rows.append([network, n, f"{compute * 1e3:.1f}", f"{comm * 1e3:.1f}", *speeds])
    header = ["network", "workers", "compute", "communication", "samples/s", "samples/s, batch 16,384"]
    table("The MLP's step by the cost model beyond this machine, ms (Dask's r, s, h as here)", header, rows)
    print(f"per-sample compute c = {c * 1e6:.1f} µs on one worker thread, parameters P = {p / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
