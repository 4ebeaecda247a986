"""An MLP on scikit-learn's bundled 8×8 digits (1,797 real images, no download), every optimiser compared.

    python examples/mlp_digits.py [--backend numpy|interp|llvm] [--quick] [--epochs N]

64 → 128 (ReLU) → 10 (softmax cross-entropy) with a little L2 weight decay on the weights (not the biases).
The main run uses Adam; the table then trains the same network from the same start with every optimiser.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import graphc as gc


def load(seed: int = 0):
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    return train_test_split(X, digits.target.astype(np.int64), test_size=0.25, random_state=seed,
                            stratify=digits.target)  # fmt: skip


OPTIMISERS = {
    "sgd": lambda J, p: gc.optim.sgd(J, p, lr=0.2, lr_end=0.02, tau=1000),
    "momentum": lambda J, p: gc.optim.momentum(J, p, lr=0.05, alpha=0.9),
    "nesterov": lambda J, p: gc.optim.nesterov(J, p, lr=0.05, alpha=0.9),
    "adagrad": lambda J, p: gc.optim.adagrad(J, p, lr=0.05),
    "rmsprop": lambda J, p: gc.optim.rmsprop(J, p, lr=0.002),
    "adam": lambda J, p: gc.optim.adam(J, p, lr=0.003),
}


def train_mlp(optimiser: str, data, epochs: int, backend: str, seed: int = 0, progress: bool = False):
    Xtr, Xte, ytr, yte = data
    rng = np.random.default_rng(seed)
    l1 = gc.nn.Dense(64, 128, rng=rng, dtype="float32", name="h1")
    l2 = gc.nn.Dense(128, 10, rng=rng, dtype="float32", name="out")
    params = l1.params + l2.params
    x, y = gc.matrix("x", ("n", 64), dtype="float32"), gc.vector("y", dtype="int64")
    logits = l2(gc.nn.relu(l1(x)))
    J = gc.nn.softmax_cross_entropy(logits, y) + 1e-4 * gc.nn.l2_penalty(l1.weights + l2.weights)
    step = gc.function([x, y], J, updates=OPTIMISERS[optimiser](J, params), backend=backend)
    predict = gc.function([x], gc.argmax(logits, axis=1), backend=backend)
    start = time.perf_counter()
    history = gc.train(step, gc.training.minibatches(Xtr, ytr, batch_size=32, rng=rng), epochs=epochs,
                       progress=progress, desc=optimiser)  # fmt: skip
    seconds = time.perf_counter() - start
    return {"loss": history.loss[-1], "accuracy": float((predict(Xte) == yte).mean()), "seconds": seconds}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI (no optimiser table)")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load()
    epochs = args.epochs or (15 if args.quick else 30)
    main_run = train_mlp("adam", data, epochs, args.backend, progress=not args.quick)
    print(f"adam, {epochs} epochs: test accuracy {main_run['accuracy']:.2%} ({main_run['seconds']:.1f} s)")
    table = {}
    if not args.quick:
        print(f"\n{'optimiser':<10} {'final loss':>10} {'test acc':>9} {'time':>7}")
        for name in OPTIMISERS:
            table[name] = r = train_mlp(name, data, 20, args.backend)
            print(f"{name:<10} {r['loss']:>10.4f} {r['accuracy']:>9.2%} {r['seconds']:>6.1f}s")
    elapsed = time.perf_counter() - start
    print(f"done in {elapsed:.1f} s")
    return {"accuracy": main_run["accuracy"], "table": table, "seconds": elapsed}


if __name__ == "__main__":
    with threadpool_limits(1):  # tiny matrices: BLAS threads cost more than they give (and thrash on 2 cores)
        main()
