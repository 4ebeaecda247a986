"""A small CNN on scikit-learn's bundled 8×8 digits: conv + max-pool, ≥ 97% test accuracy.

    python examples/cnn_digits.py [--backend numpy|interp|llvm] [--quick] [--epochs N]
                                  [--checkpoint runs/cnn] [--save cnn.gcz]

conv 3×3 "same" (1 → 16) → ReLU → max-pool 2×2 → conv 3×3 "same" (16 → 32) → ReLU → max-pool 2×2 → dense 128 →
ReLU → dense 10, Adam. Convolution and pooling are graphc composites (strided slices + one matrix product), so
their gradients come from gc.grad like everything else.
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
    X = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(X, digits.target.astype(np.int64), test_size=0.25, random_state=seed,
                            stratify=digits.target)  # fmt: skip


def conv_kernel(out_c: int, in_c: int, k: int, rng, name: str) -> gc.SharedVariable:
    fan_in, fan_out = gc.nn.init.fans((out_c, in_c, k, k))
    value = gc.nn.init.glorot_uniform(fan_in, fan_out, rng, "float32", shape=(out_c, in_c, k, k))
    return gc.shared(value, name=name)


def cnn(rng):
    """The network, from a seeded start: (x, y, cost J, logits, params)."""
    k1, k2 = conv_kernel(16, 1, 3, rng, "conv1.W"), conv_kernel(32, 16, 3, rng, "conv2.W")
    b1, b2 = (
        gc.shared(np.zeros((1, 16, 1, 1), np.float32), name="conv1.b"),
        gc.shared(np.zeros((1, 32, 1, 1), np.float32), name="conv2.b"),
    )
    fc = gc.nn.Dense(32 * 2 * 2, 128, rng=rng, dtype="float32", name="fc")
    out = gc.nn.Dense(128, 10, rng=rng, dtype="float32", name="out")
    params = [k1, b1, k2, b2] + fc.params + out.params

    x, y = gc.tensor("x", ("n", 1, 8, 8), dtype="float32"), gc.vector("y", dtype="int64")
    h = gc.nn.max_pool2d(gc.nn.relu(gc.nn.conv2d(x, k1, padding="same") + b1), 2)  # (n, 16, 4, 4)
    h = gc.nn.max_pool2d(gc.nn.relu(gc.nn.conv2d(h, k2, padding="same") + b2), 2)  # (n, 32, 2, 2)
    logits = out(gc.nn.relu(fc(gc.reshape(h, (-1, 32 * 2 * 2)))))
    return x, y, gc.nn.softmax_cross_entropy(logits, y), logits, params


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="a folder: checkpoint every epoch, resume from it")
    parser.add_argument("--save", default=None, help="write the trained predict function here (gc.save)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    Xtr, Xte, ytr, yte = load()
    rng = np.random.default_rng(args.seed)
    x, y, J, logits, params = cnn(rng)
    step = gc.function([x, y], J, updates=gc.optim.adam(J, params, lr=0.003), backend=args.backend)
    predict = gc.function([x], gc.argmax(logits, axis=1), backend=args.backend)
    compiled = time.perf_counter() - start

    epochs = args.epochs or (15 if args.quick else 20)
    # The per-epoch validation error comes from a tenth of the training set, never from the test set.
    Xfit, Xval, yfit, yval = train_test_split(Xtr, ytr, test_size=0.1, random_state=args.seed, stratify=ytr)
    history = gc.train(step, gc.training.minibatches(Xfit, yfit, batch_size=32, rng=rng), epochs=epochs,
                       validate=lambda: float((predict(Xval) != yval).mean()), progress=not args.quick,
                       desc="cnn", checkpoint=args.checkpoint, resume=bool(args.checkpoint))  # fmt: skip
    accuracy = float((predict(Xte) == yte).mean())
    if args.save:
        gc.save(args.save, predict)  # later: predict = gc.load(path); predict(images)
    elapsed = time.perf_counter() - start
    print(f"cnn, {epochs} epochs on {args.backend}: test accuracy {accuracy:.2%} "
          f"(build+compile {compiled:.1f} s, total {elapsed:.1f} s)")  # fmt: skip
    return {"accuracy": accuracy, "seconds": elapsed, "history": history}


if __name__ == "__main__":
    with threadpool_limits(1):  # tiny matrices: BLAS threads cost more than they give (and thrash on 2 cores)
        main()
