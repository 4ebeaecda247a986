"""A tanh RNN (chapter 10) learns the "adding problem"; exploding gradients shown and tamed by clipping.

    python examples/rnn_sequence.py [--backend numpy|interp|llvm] [--quick]

Each sequence has T steps of (value ~ U(0, 1), marker ∈ {0, 1}) with exactly two markers; the target is the
sum of the two marked values. Predicting the mean (1.0) gives MSE ≈ 1/6; the RNN, unrolled in the graph and
trained by back-propagation through time, must go well below. With recurrent weights scaled up (Wʰ orthogonal
× 3) the gradient norm explodes (it grows like 3ᵗ through the linear regime); clipping by norm keeps each step
bounded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphc as gc


def adding_problem(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    values = rng.random((n, steps))
    markers = np.zeros((n, steps))
    for i in range(n):
        markers[i, rng.choice(steps, 2, replace=False)] = 1.0
    return np.stack([values, markers], axis=-1), (values * markers).sum(1)


def build(steps: int, hidden: int, gain: float, rng, clip: float | None, backend: str):
    rnn = gc.nn.SimpleRNN(2, hidden, rng=rng, gain=gain)
    readout = gc.nn.Dense(hidden, 1, rng=rng, name="readout")
    params = rnn.params + readout.params
    xs, y = gc.tensor("xs", ("n", steps, 2)), gc.vector("y")
    _, last = rnn(xs)
    pred = gc.reshape(readout(last), (-1,))
    J = gc.nn.mse(pred, y)
    grads = gc.grad(J, params)
    norm = gc.sqrt(sum(gc.sum(g * g) for g in grads))
    used = gc.optim.clip_by_norm(grads, clip) if clip else grads
    step = gc.function([xs, y], [J, norm], updates=gc.optim.adam(used, params, lr=0.01), backend=backend)
    evaluate = gc.function([xs, y], J, backend=backend)
    return step, evaluate


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    Xtr, ytr = adding_problem(2000, args.steps, rng)
    Xte, yte = adding_problem(500, args.steps, rng)
    epochs = 15 if args.quick else 40

    # exploding gradients: a large Wʰ scale (gain 3) makes the first-step gradient norm several times larger
    norms = {}
    for gain in (0.5, 1.0, 3.0):
        probe, _ = build(args.steps, 16, gain, np.random.default_rng(1), None, args.backend)
        norms[gain] = float(probe(Xtr[:64] * 4, ytr[:64])[1])
    print("first-step gradient norm by Wʰ gain:", ", ".join(f"{g}: {v:.3g}" for g, v in norms.items()))
    big_norm = norms[3.0]
    step_clip, _ = build(args.steps, 16, 3.0, np.random.default_rng(1), 1.0, args.backend)

    step, evaluate = build(args.steps, 16, 1.0, np.random.default_rng(2), 1.0, args.backend)
    history = gc.train(
        step,
        gc.training.minibatches(Xtr, ytr, batch_size=50, rng=rng),
        epochs=epochs,
        validate=lambda: float(evaluate(Xte, yte)),
        progress=not args.quick,
        desc="rnn",
    )
    baseline = float(((yte - ytr.mean()) ** 2).mean())
    test_mse = history.val[-1]
    clipped_losses = [float(step_clip(Xtr[i : i + 50] * 4, ytr[i : i + 50])[0]) for i in range(0, 500, 50)]
    elapsed = time.perf_counter() - start
    print(f"adding problem, T={args.steps}: test MSE {test_mse:.4f} (predicting the mean: {baseline:.4f})")
    print(
        "gain-3 network with clipping stays finite: "
        f"losses {clipped_losses[0]:.3f} -> {clipped_losses[-1]:.3f}"
    )
    print(f"done in {elapsed:.1f} s")
    return {"test_mse": test_mse, "baseline": baseline, "big_norm": float(big_norm), "norms": norms,
            "clipped_losses": clipped_losses, "seconds": elapsed}  # fmt: skip


if __name__ == "__main__":
    main()
