"""An MLP on scikit-learn's bundled 8×8 digits (1,797 real images, no download), every optimiser compared.

    python examples/mlp_digits.py [--backend numpy|interp|llvm] [--quick] [--epochs N]

64 → 128 (ReLU) → 10 (softmax cross-entropy) with a little L2 weight decay on the weights (not the biases).
The main run uses Adam; the table then trains the same network from the same start with every optimiser:
the minibatch ones of gc.optim (updates dicts) and nonlinear conjugate gradients (Fletcher–Reeves and
Polak–Ribière, full batch, a line search per step). Newton's method is left out: its Hessian would have
9,610² entries (it is for small problems; see tests/test_optim.py).
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


# minibatch optimisers: each returns gc.function's updates
OPTIMISERS = {
    "sgd": lambda J, p: gc.optim.sgd(J, p, lr=0.2, lr_end=0.02, tau=1000),
    "momentum": lambda J, p: gc.optim.momentum(J, p, lr=0.05, alpha=0.9),
    "nesterov": lambda J, p: gc.optim.nesterov(J, p, lr=0.05, alpha=0.9),
    "adagrad": lambda J, p: gc.optim.adagrad(J, p, lr=0.05),
    "rmsprop": lambda J, p: gc.optim.rmsprop(J, p, lr=0.003),
    "adam": lambda J, p: gc.optim.adam(J, p, lr=0.003),
}


# full-batch conjugate gradients (book Alg. 8.9): a Python loop around compiled cost and gradient functions
CONJUGATE = {"cg (FR)": "fletcher-reeves", "cg (PR)": "polak-ribiere"}


def mlp(seed: int):
    """The network, from a seeded start: (x, y, cost J, logits, params, rng)."""
    rng = np.random.default_rng(seed)
    l1 = gc.nn.Dense(64, 128, rng=rng, dtype="float32", name="h1")
    l2 = gc.nn.Dense(128, 10, rng=rng, dtype="float32", name="out")
    x, y = gc.matrix("x", ("n", 64), dtype="float32"), gc.vector("y", dtype="int64")
    logits = l2(gc.nn.relu(l1(x)))
    J = gc.nn.softmax_cross_entropy(logits, y) + 1e-4 * gc.nn.l2_penalty(l1.weights + l2.weights)
    return x, y, J, logits, l1.params + l2.params, rng


def train_mlp(optimiser: str, data, epochs: int, backend: str, seed: int = 0, progress: bool = False):
    """Train with a minibatch optimiser (epochs over the data) or conjugate gradients (epochs = CG steps)."""
    Xtr, Xte, ytr, yte = data
    x, y, J, logits, params, rng = mlp(seed)
    predict = gc.function([x], gc.argmax(logits, axis=1), backend=backend)
    start = time.perf_counter()
    if optimiser in CONJUGATE:
        cg = gc.optim.ConjugateGradient(J, params, inputs=[x, y], beta=CONJUGATE[optimiser], backend=backend)
        for _ in range(epochs):
            cg.step(Xtr, ytr)
        loss = float(cg.cost_fn(Xtr, ytr))
    else:
        step = gc.function([x, y], J, updates=OPTIMISERS[optimiser](J, params), backend=backend)
        history = gc.train(step, gc.training.minibatches(Xtr, ytr, batch_size=32, rng=rng), epochs=epochs,
                           progress=progress, desc=optimiser)  # fmt: skip
        loss = history.loss[-1]
    seconds = time.perf_counter() - start
    return {"loss": loss, "accuracy": float((predict(Xte) == yte).mean()), "seconds": seconds}


def optimiser_table(data, backend: str, epochs: int, cg_steps: int) -> dict:
    """Every optimiser from the same start; prints the table and returns {name: result}."""
    print(f"\nsame start, {epochs} epochs (minibatches of 32) or {cg_steps} CG steps (full batch):")
    print(f"{'optimiser':<10} {'final loss':>10} {'test acc':>9} {'time':>7}")
    table = {}
    for name in [*OPTIMISERS, *CONJUGATE]:
        table[name] = r = train_mlp(name, data, cg_steps if name in CONJUGATE else epochs, backend)
        print(f"{name:<10} {r['loss']:>10.4f} {r['accuracy']:>9.2%} {r['seconds']:>6.1f}s")
    return table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI (a shorter main run)")
    parser.add_argument("--no-table", action="store_true", help="skip the table of optimisers")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load()
    epochs = args.epochs or (15 if args.quick else 30)
    main_run = train_mlp("adam", data, epochs, args.backend, progress=not args.quick)
    print(f"adam, {epochs} epochs: test accuracy {main_run['accuracy']:.2%} ({main_run['seconds']:.1f} s)")
    table = {} if args.no_table else optimiser_table(data, args.backend, epochs=20, cg_steps=40)
    elapsed = time.perf_counter() - start
    print(f"done in {elapsed:.1f} s")
    return {"accuracy": main_run["accuracy"], "table": table, "seconds": elapsed}


if __name__ == "__main__":
    with threadpool_limits(1):  # tiny matrices: BLAS threads cost more than they give (and thrash on 2 cores)
        main()
