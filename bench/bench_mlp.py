"""Benchmark 2: one SGD step of the fig. 6.11 MLP (no biases): U1 = X W1, H = relu(U1), U2 = H W2,
J = cross_entropy(U2, y) + lam (sum W1^2 + sum W2^2), then W <- W - eps dJ/dW.

Sizes: large = batch 256, 784-512-10 float32; small = batch 32, 64-64-10 float64.
Run: python bench/bench_mlp.py [--blas-threads 1]
(On a busy 2-core machine OpenBLAS's two spinning threads collapse, ~10x slower: try --blas-threads 1.)
"""

# ruff: noqa: B023 - timing lambdas are called inside the loop iteration that defines them

from __future__ import annotations

import numpy as np
from common import best_time, peer, pytensor_mode, table

import graphc as gc

LAM, EPS = 1e-4, 0.1


def data(batch, n_in, n_hidden, n_out, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    y = rng.integers(0, n_out, batch)
    w1 = (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(dtype)
    w2 = (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(dtype)
    return x, y, w1, w2


def graphc_step(x0, y0, w1_0, w2_0, backend):
    dtype = x0.dtype.name
    x = gc.tensor("x", ("n", x0.shape[1]), dtype)
    y = gc.tensor("y", ("n",), "int64")
    w1, w2 = gc.shared(w1_0, name="W1"), gc.shared(w2_0, name="W2")
    u1 = x @ w1
    h = gc.relu(u1)
    u2 = h @ w2
    t = gc.one_hot(y, w2_0.shape[1], dtype=dtype)
    logp = gc.log_softmax(u2, axis=1)
    n = x0.shape[0]  # the batch size is fixed for this benchmark (the compiled step still accepts any n)
    cost = -(t * logp).sum() / n + LAM * ((w1 * w1).sum() + (w2 * w2).sum())
    g1, g2 = gc.grad(cost, [w1, w2])
    f = gc.function([x, y], cost, updates={w1: w1 - EPS * g1, w2: w2 - EPS * g2}, backend=backend)
    return f, (w1, w2)


def numpy_step(x, y, params):
    w1, w2 = params
    n = x.shape[0]
    u1 = x @ w1
    h = np.maximum(u1, 0)
    u2 = h @ w2
    m = u2.max(axis=1, keepdims=True)
    logp = u2 - m - np.log(np.exp(u2 - m).sum(axis=1, keepdims=True))
    cost = -logp[np.arange(n), y].sum() / n + LAM * ((w1 * w1).sum() + (w2 * w2).sum())
    g_u2 = np.exp(logp)
    g_u2[np.arange(n), y] -= 1
    g_u2 /= n
    g2 = h.T @ g_u2 + 2 * LAM * w2
    g_u1 = (g_u2 @ w2.T) * (u1 > 0)
    g1 = x.T @ g_u1 + 2 * LAM * w1
    params[0] = w1 - EPS * g1
    params[1] = w2 - EPS * g2
    return cost


def torch_step(torch, x, y, w1_0, w2_0):
    torch.set_num_threads(2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    params = [torch.tensor(w1_0, requires_grad=True), torch.tensor(w2_0, requires_grad=True)]

    def step():
        w1, w2 = params
        u2 = torch.relu(xt @ w1) @ w2
        cost = torch.nn.functional.cross_entropy(u2, yt) + LAM * ((w1 * w1).sum() + (w2 * w2).sum())
        cost.backward()
        with torch.no_grad():
            for w in params:
                w -= EPS * w.grad
                w.grad = None
        return cost

    return step


def jax_step(jax, x, y, w1_0, w2_0):
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def loss(params, x, y):
        w1, w2 = params
        u2 = jax.nn.relu(x @ w1) @ w2
        logp = jax.nn.log_softmax(u2, axis=1)
        ce = -jnp.take_along_axis(logp, y[:, None], axis=1).sum() / x.shape[0]
        return ce + LAM * ((w1 * w1).sum() + (w2 * w2).sum())

    @jax.jit
    def update(params, x, y):
        cost, grads = jax.value_and_grad(loss)(params, x, y)
        return cost, [p - EPS * g for p, g in zip(params, grads, strict=True)]

    state = {"params": [jnp.asarray(w1_0), jnp.asarray(w2_0)]}
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def step():
        cost, state["params"] = update(state["params"], xj, yj)
        return cost.block_until_ready()

    return step


def pytensor_step(pt, x0, y0, w1_0, w2_0):
    import pytensor.tensor as ptt

    x = ptt.matrix("x", dtype=x0.dtype.name)
    y = ptt.vector("y", dtype="int64")
    w1, w2 = pt.shared(w1_0), pt.shared(w2_0)
    u2 = ptt.maximum(x @ w1, 0) @ w2
    logp = ptt.special.log_softmax(u2, axis=1)
    t = ptt.cast(ptt.eq(y[:, None], ptt.arange(w2_0.shape[1])[None, :]), x0.dtype.name)  # one-hot: C ops only
    cost = -(t * logp).sum() / x0.shape[0] + LAM * ((w1**2).sum() + (w2**2).sum())
    g1, g2 = pt.grad(cost, [w1, w2])
    dt = x0.dtype.name  # PyTensor upcasts float32 - python float to float64: cast back (graphc need not)
    updates = [(w1, ptt.cast(w1 - EPS * g1, dt)), (w2, ptt.cast(w2 - EPS * g2, dt))]
    f = pt.function([x, y], cost, updates=updates, mode=pytensor_mode())
    return lambda: f(x0, y0)


def main() -> None:
    import argparse
    import contextlib

    parser = argparse.ArgumentParser()
    parser.add_argument("--blas-threads", type=int, default=None, help="limit OpenBLAS (NumPy's and scipy's)")
    args = parser.parse_args()
    limit = contextlib.nullcontext()
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits  # installed with scipy's test extras / scikit-learn

        limit = threadpool_limits(args.blas_threads, user_api="blas")
    with limit:
        _run()


def _run() -> None:
    rows = []
    for label, sizes, dtype in (
        ("large: 256, 784-512-10", (256, 784, 512, 10), "float32"),
        ("small: 32, 64-64-10", (32, 64, 64, 10), "float64"),
    ):
        x, y, w1, w2 = data(*sizes, dtype)
        results = {}
        f_llvm, _ = graphc_step(x, y, w1, w2, "llvm")
        f_np, _ = graphc_step(x, y, w1, w2, "numpy")
        ref = numpy_step(x, y, [w1.copy(), w2.copy()])
        assert np.isclose(float(f_llvm(x, y)), ref, rtol=1e-4)
        results["graphc llvm"] = best_time(lambda: f_llvm(x, y))
        results["graphc numpy"] = best_time(lambda: f_np(x, y))
        params = [w1.copy(), w2.copy()]
        results["NumPy by hand"] = best_time(lambda: numpy_step(x, y, params))
        torch = peer("torch")
        if torch is not None:
            results["PyTorch eager"] = best_time(torch_step(torch, x, y, w1, w2))
        jax = peer("jax")
        if jax is not None:
            results["JAX jit"] = best_time(jax_step(jax, x, y, w1, w2))
        pt = peer("pytensor")
        if pt is not None:
            results["PyTensor (C)"] = best_time(pytensor_step(pt, x, y, w1, w2))
        best_peer = min(v for k, v in results.items() if not k.startswith("graphc"))
        cells = "; ".join(f"{k} {v * 1e6:.0f}" for k, v in results.items())
        rows.append(
            [
                label,
                dtype,
                f"{results['graphc llvm'] * 1e6:.0f}",
                f"{best_peer / results['graphc llvm']:.2f}x",
                cells,
            ]
        )
    table(
        "One SGD step of the fig. 6.11 MLP (µs)",
        ["size", "dtype", "graphc llvm", "best other / llvm", "all (µs)"],
        rows,
    )


if __name__ == "__main__":
    main()
