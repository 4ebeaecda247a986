"""An LSTM remembers across 100 steps where a simple RNN does not (chapter 10.7-10.10; gc.scan loops).

    python examples/lstm_sequence.py [--backend numpy|interp|llvm] [--steps 100] [--quick]

Each sequence has T steps of 2 features: noise ~ N(0, 1) in the first, and in the second a single marker
at one of the first few steps, where the first feature carries a value v. The class is v > 0. Everything the
net needs is at the start; the rest is noise it must carry the answer through. The loss gradient reaching the
marked step passes through T - t applications of the recurrence: a tanh RNN's gradient vanishes on the way
(book §10.7) and it stays near chance, while the LSTM's cell state (the forget gate's path, §10.10) carries
it and the LSTM learns. Both layers (gc.nn.RNN, gc.nn.LSTM) are gc.scan loops, compiled once for any T.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphc as gc


def memory_task(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """xs (T, n, 2) time-major and labels (n,): the sign of the value at the one marked early step."""
    xs = np.zeros((steps, n, 2), np.float32)
    xs[:, :, 0] = rng.normal(size=(steps, n))
    where = rng.integers(0, 3, n)
    xs[where, np.arange(n), 1] = 1.0
    labels = (xs[where, np.arange(n), 0] > 0).astype(np.int64)
    return xs, labels


def build(kind: str, hidden: int, steps: int, rng, backend: str):
    layer = gc.nn.LSTM(2, hidden, rng=rng, name=kind) if kind == "lstm" else gc.nn.RNN(2, hidden, rng=rng)
    if kind == "lstm":  # chrono initialisation (Tallec & Ollivier 2018): forget gates that remember ~T steps
        b = layer.params["b_ih"].get_value()
        b[hidden : 2 * hidden] = np.log(rng.uniform(1, steps - 1, hidden))
        b[:hidden] = -b[hidden : 2 * hidden]
        layer.params["b_ih"].set_value(b)
    readout = gc.nn.Dense(hidden, 2, rng=rng, name=f"{kind}.readout")
    params = list(layer.params.values()) + readout.params
    xs, y = gc.tensor("xs", ("T", "n", 2), "float32"), gc.vector("y", dtype="int64")
    last, _ = layer(xs, return_sequences=False)
    logits = readout(last)
    J = gc.nn.softmax_cross_entropy(logits, y)
    grads = gc.optim.clip_by_norm(gc.grad(J, params), 1.0)
    step = gc.function([xs, y], J, updates=gc.optim.adam(grads, params, lr=0.01), backend=backend)
    accuracy = gc.function([xs, y], gc.mean(gc.cast(gc.eq(gc.argmax(logits, axis=1), y), "float32")),
                           backend=backend)  # fmt: skip
    return step, accuracy


def train(kind: str, args, data) -> float:
    (xtr, ytr), (xte, yte) = data
    step, accuracy = build(kind, args.hidden, args.steps, np.random.default_rng(1), args.backend)
    order = np.random.default_rng(2)
    for _ in range(args.epochs):
        perm = order.permutation(len(ytr))
        for i in range(0, len(ytr), args.batch):
            take = perm[i : i + args.batch]
            step(xtr[:, take], ytr[take])
    return float(accuracy(xte, yte))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 8
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    data = memory_task(1024, args.steps, rng), memory_task(512, args.steps, rng)
    results = {kind: train(kind, args, data) for kind in ("rnn", "lstm")}
    elapsed = time.perf_counter() - start
    for kind, acc in results.items():
        print(f"{kind:>4}: test accuracy {acc:.3f} at T = {args.steps} (chance: 0.5)")
    print(f"done in {elapsed:.1f} s")
    return {"accuracy": results, "seconds": elapsed}


if __name__ == "__main__":
    main()
