"""graphc in one screen: declare a model as a graph, differentiate it, compile it on every backend.

    python examples/quickstart.py

Logistic regression on eight 2-D points: p = sigmoid(x @ w + b), trained by gradient descent with an update
of the shared parameters w and b inside the compiled step function.
"""

from __future__ import annotations

import time

import numpy as np

import graphc as gc

# -- 1. data: two small clouds of points, labels 0 and 1 -----------------------------------------------------
X = np.array(
    [[0.0, 0.2], [0.3, 0.1], [0.1, 0.5], [0.4, 0.4], [1.0, 0.9], [0.8, 1.2], [1.3, 0.8], [0.9, 1.0]],
    dtype=np.float32,
)
T = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.float32)

# -- 2. the model, as a symbolic graph -----------------------------------------------------------------------
x = gc.tensor("x", shape=("n", 2), dtype="float32")  # "n": the batch size, known only when called
t = gc.tensor("t", shape=("n",), dtype="float32")
w = gc.shared(np.zeros(2, np.float32), name="w")  # parameters: persistent values the step updates
b = gc.shared(np.float32(0.0), name="b")

z = x @ w + b  # logits
p = gc.sigmoid(z)  # probabilities
loss = (gc.softplus(z) - t * z).mean()  # binary cross-entropy from the logits, computed stably
z.name, loss.name = "z", "loss"  # names show up in printouts, drawings and error messages
gw, gb = gc.grad(loss, [w, b])  # the backward graph: more Variables, not numbers
learning_rate = 2.0  # a Python float: w - 2.0 * gw stays float32


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 100 - len(title)))


def main(argv: list[str] | None = None) -> dict:
    """Run the demo; returns what it printed as numbers (tests/test_quickstart.py checks them)."""
    section("the forward graph of the loss (gc.debugprint)")
    gc.debugprint(loss)

    section("training for 200 steps on each backend")
    results: dict = {}
    for backend in ("interp", "numpy", "llvm"):
        w.set_value(np.zeros(2, np.float32))  # same start for every backend
        b.set_value(np.float32(0.0))
        start = time.perf_counter()
        try:
            step = gc.function(
                [x, t], loss, updates={w: w - learning_rate * gw, b: b - learning_rate * gb}, backend=backend
            )
        except gc.BackendError as exc:  # e.g. llvmlite missing on this machine
            print(f"{backend:>6}: not available here ({exc})")
            continue
        compile_ms = (time.perf_counter() - start) * 1e3
        losses = [float(step(X, T)) for _ in range(200)]
        predict = gc.function([x], p > 0.5, backend=backend)
        accuracy = float((predict(X) == T.astype(bool)).mean())
        results[backend] = {"losses": losses, "accuracy": accuracy, "w": w.get_value(), "b": b.get_value()}
        print(
            f"{backend:>6}: compiled in {compile_ms:6.1f} ms, loss {losses[0]:.4f} -> {losses[-1]:.4f}, "
            f"accuracy {accuracy:.0%}, w = {np.array2string(w.get_value(), precision=3)}, "
            f"b = {float(b.get_value()):.3f} ({w.get_value().dtype})"
        )
    for backend, r in results.items():
        if backend != "interp":
            gap = float(np.max(np.abs(r["w"] - results["interp"]["w"])))
            print(f"{backend:>6} vs the reference interpreter: largest difference in w = {gap:.1e}")

    section("what the numpy backend generated for one training step (step.source)")
    step = gc.function([x, t], loss, updates={w: w - learning_rate * gw, b: b - learning_rate * gb})
    print(step.source)

    section("what the optimisation passes did (step.report())")
    print(step.report())

    section("a new batch size needs no recompiling")
    probabilities = gc.function([x], p)
    for rows in (X[:1], X[:3], X):
        print(f"n = {len(rows):2d}: p = {np.array2string(probabilities(rows), precision=2)}")
    return {"backends": results, "source": step.source}


if __name__ == "__main__":
    main()
