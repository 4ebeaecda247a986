"""Regularisation on a small slice of the digits (chapter 7): weight decay, dropout, early stopping.

    python examples/regularization.py [--backend numpy|interp|llvm] [--quick] [--plot curves.png]

A wide MLP (64 → 256 → 256 → 10) trained on only 200 images overfits (100% training accuracy, validation
loss rising again); L2 weight decay (weights only) and dropout (keep 0.8 on inputs, 0.5 on hidden units,
inverted scaling, off at evaluation) end at a lower validation loss after 100 epochs, and early stopping
(Alg. 7.1: patience p, best parameters restored) picks the epoch to stop at.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import graphc as gc


def load():
    digits = load_digits()
    X, y = (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)
    Xtr, Xrest, ytr, yrest = train_test_split(X, y, train_size=200, random_state=0, stratify=y)
    Xval, Xte, yval, yte = train_test_split(Xrest, yrest, test_size=0.5, random_state=0, stratify=yrest)
    return Xtr, ytr, Xval, yval, Xte, yte


def model(x, layers, mode: gc.nn.Mode, dropout: bool):
    h = gc.nn.dropout(x, 0.8, mode) if dropout else x
    for layer in layers[:-1]:
        h = gc.nn.relu(layer(h))
        h = gc.nn.dropout(h, 0.5, mode) if dropout else h
    return layers[-1](h)


def run(setting: str, data, epochs: int, backend: str, patience: int | None = None) -> dict:
    Xtr, ytr, Xval, yval, Xte, yte = data
    rng = np.random.default_rng(0)
    sizes = [64, 256, 256, 10]
    layers = [gc.nn.Dense(a, b, rng=rng, dtype="float32", name=f"l{i}") for i, (a, b) in
              enumerate(zip(sizes, sizes[1:], strict=False))]  # fmt: skip
    params = [p for layer in layers for p in layer.params]
    weights = [w for layer in layers for w in layer.weights]
    x, y = gc.matrix("x", ("n", 64), dtype="float32"), gc.vector("y", dtype="int64")
    train_mode, eval_mode = gc.nn.Mode(training=True, seed=1), gc.nn.Mode(training=False)
    dropout = setting == "dropout"
    J = gc.nn.softmax_cross_entropy(model(x, layers, train_mode, dropout), y)
    if setting == "weight decay":
        J = J + 1e-3 * gc.nn.l2_penalty(weights)
    updates = {**gc.optim.adam(J, params, lr=0.001), **train_mode.updates}
    step = gc.function([x, y], J, updates=updates, backend=backend)
    eval_logits = model(x, layers, eval_mode, dropout)
    loss = gc.function([x, y], gc.nn.softmax_cross_entropy(eval_logits, y), backend=backend)
    accuracy = gc.function([x, y], gc.mean(gc.cast(gc.eq(gc.argmax(eval_logits, axis=1), y), "float32")),
                           backend=backend)  # fmt: skip
    stopper = gc.training.EarlyStopping(params, patience=patience) if patience else None
    history = gc.train(
        step,
        gc.training.minibatches(Xtr, ytr, batch_size=20, rng=rng),
        epochs=epochs,
        validate=lambda: float(loss(Xval, yval)),
        early_stopping=stopper,
        progress=False,
    )
    return {"history": history, "train_acc": float(accuracy(Xtr, ytr)),
            "val_acc": float(accuracy(Xval, yval)),
            "test_acc": float(accuracy(Xte, yte)), "val_loss": float(loss(Xval, yval))}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    parser.add_argument("--plot", default=None, help="save the validation curves here (needs matplotlib)")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = load()
    epochs = args.epochs or (40 if args.quick else 100)
    results = {name: run(name, data, epochs, args.backend) for name in ("none", "weight decay", "dropout")}
    results["early stopping"] = run("none", data, epochs, args.backend, patience=5)
    print(f"{'setting':<15} {'train acc':>9} {'val acc':>8} {'test acc':>8} {'val loss':>8}  epochs")
    for name, r in results.items():
        h = r["history"]
        ran = len(h.loss)
        note = f"{ran} (best {h.best_epoch + 1}, restored)" if h.best_epoch is not None else str(ran)
        print(f"{name:<15} {r['train_acc']:>9.2%} {r['val_acc']:>8.2%} {r['test_acc']:>8.2%} "
              f"{r['val_loss']:>8.4f}  {note}")  # fmt: skip
    if args.plot:
        try:
            ax = None
            for name, r in results.items():  # every setting's curves on one set of axes
                ax = r["history"].plot(ax=ax, label=name).axes[0]
            ax.figure.savefig(args.plot)
            print(f"curves: {args.plot}")
        except gc.GraphcError as exc:  # no matplotlib: say so, the table above stands
            print(f"--plot: {exc}")
    elapsed = time.perf_counter() - start
    print(f"done in {elapsed:.1f} s")
    return {"results": results, "seconds": elapsed}


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
