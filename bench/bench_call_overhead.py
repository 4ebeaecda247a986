"""Benchmark 3: call overhead of a tiny compiled function, f(x, y) = x*y + sin(x) on 10-element vectors (µs);
on llvm also the same function with an update of a shared variable (the lock a step holds).

Run: python bench/bench_call_overhead.py
"""

from __future__ import annotations

import numpy as np
from common import best_time, peer, pytensor_mode, table

import graphc as gc


def main() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(10), rng.standard_normal(10)
    x, y = gc.vector("x"), gc.vector("y")
    results = {}
    for backend in ("llvm", "numpy"):
        f = gc.function([x, y], x * y + gc.sin(x), backend=backend)
        np.testing.assert_allclose(f(a, b), a * b + np.sin(a))
        results[f"graphc {backend}"] = best_time(lambda f=f: f(a, b), min_time=0.2)
    # the same function updating a shared variable: the call holds its lock (thread safety's cost)
    w = gc.shared(np.zeros(10), name="w")
    f = gc.function([x, y], x * y + gc.sin(x), updates={w: w + x}, backend="llvm")
    results["graphc llvm, updating a shared variable"] = best_time(lambda: f(a, b), min_time=0.2)
    results["NumPy by hand"] = best_time(lambda: a * b + np.sin(a), min_time=0.2)
    jax = peer("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jf = jax.jit(lambda x, y: x * y + jax.numpy.sin(x))
        results["JAX jit"] = best_time(lambda: jf(a, b).block_until_ready(), min_time=0.2)
    torch = peer("torch")
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        results["PyTorch eager"] = best_time(lambda: ta * tb + torch.sin(ta), min_time=0.2)
    pt = peer("pytensor")
    if pt is not None:
        import pytensor.tensor as ptt

        px, py = ptt.vector("x", dtype="float64"), ptt.vector("y", dtype="float64")
        pf = pt.function([px, py], px * py + ptt.sin(px), mode=pytensor_mode())
        results["PyTensor (C)"] = best_time(lambda: pf(a, b), min_time=0.2)
    rows = [[name, f"{t * 1e6:.2f}"] for name, t in results.items()]
    table("Call overhead: f(x, y) = x*y + sin(x), 10 elements (µs per call)", ["implementation", "µs"], rows)


if __name__ == "__main__":
    main()
