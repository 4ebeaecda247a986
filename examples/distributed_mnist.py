"""Data-parallel training on Dask workers: an MLP on scikit-learn's 8×8 digits, each batch split across the
workers, their gradients summed by Dask, one Adam update per step (gc.distributed.DataParallel).

    python examples/distributed_mnist.py                                  # a LocalCluster of 2 workers here
    python examples/distributed_mnist.py --scheduler tcp://10.0.0.5:8786  # a running Dask cluster
        [--workers N] [--epochs N] [--batch-size B] [--backend numpy|llvm] [--fit] [--quick]

With --fit the training set is first put on the cluster as a Dask array (each worker keeps its shard, and
only the parameters and gradients travel); without it each batch is sent from here. A real cluster: start
`dask scheduler` on one machine and `dask worker tcp://SCHEDULER:8786` on each of the others (each needs
graphc-dl[distributed] installed; it compiles into its own GRAPHC_CACHE_DIR), then pass --scheduler.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys
import time

import numpy as np

import graphc as gc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from mlp_digits import load, mlp  # noqa: E402 - the same network and data: 64 → 128 (ReLU) → 10, L2 decay


def connect(scheduler: str | None, workers: int):
    """A client of the cluster at `scheduler`, or of a new LocalCluster (closed with the client)."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scheduler", default=None, help="a Dask scheduler's address (default: a local cluster)"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--fit", action="store_true", help="put the data on the cluster first (Dask arrays)")
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    args = parser.parse_args(argv)
    epochs = args.epochs or (6 if args.quick else 15)
    Xtr, Xte, ytr, yte = load()
    x, y, J, logits, params, _ = mlp(seed=0)
    predict = gc.function([x], gc.argmax(logits, axis=1), backend=args.backend)
    cost = gc.function([x, y], J, backend=args.backend)

    client, cluster = connect(args.scheduler, args.workers)
    try:
        n_workers = len(client.scheduler_info()["workers"])
        adam = functools.partial(gc.optim.adam, lr=0.01)
        trainer = gc.distributed.DataParallel(
            J, params, [x, y], optimizer=adam, client=client, backend=args.backend
        )
        print(f"{n_workers} workers at {client.scheduler.address}, {args.backend} backend, "
              f"batch {args.batch_size} ({trainer.n_shards} shards)")  # fmt: skip
        clock = {"epoch": time.perf_counter()}
        accuracies: list[float] = []

        def end_of_epoch() -> float:
            """gc.train calls this after each epoch: the epoch's line; it returns the test error."""
            seconds = time.perf_counter() - clock["epoch"]
            accuracies.append(float((predict(Xte) == yte).mean()))
            print(f"epoch {len(accuracies):2d}: training loss {float(cost(Xtr, ytr)):.4f}, test accuracy "
                  f"{accuracies[-1]:.2%}, {len(Xtr) / seconds:,.0f} samples/s", flush=True)  # fmt: skip
            clock["epoch"] = time.perf_counter()
            return 1 - accuracies[-1]

        rng = np.random.default_rng(0)
        if args.fit:
            import dask.array as da

            dX, dy = da.from_array(Xtr, chunks=(len(Xtr) // n_workers + 1, 64)), da.from_array(ytr)
            history = trainer.fit(dX, dy, epochs=epochs, batch_size=args.batch_size, rng=rng,
                                  validate=end_of_epoch, progress=False)  # fmt: skip
        else:
            batches = gc.training.minibatches(Xtr, ytr, batch_size=args.batch_size, rng=rng)
            history = gc.train(trainer.step, batches, epochs=epochs, validate=end_of_epoch, progress=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return {"accuracy": accuracies[-1], "history": history, "step": trainer.last_step}


if __name__ == "__main__":  # required: the local cluster's workers are new processes that import this file
    main()
