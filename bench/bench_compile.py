"""Benchmark 4: compile time of a 10- and a 100-layer tanh MLP with its gradient (SGD updates of every layer).

Cold compiles (an empty graphc cache directory for each measurement). Run: python bench/bench_compile.py
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
from common import peer, pytensor_mode, table

import graphc as gc

WIDTH, BATCH = 32, 16
LAYERS = (10, 100)
REPEAT = 3


def _weights(layers):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((WIDTH, WIDTH)) * 0.3 for _ in range(layers)]


def graphc_compile(layers: int, backend: str) -> float:
    x = gc.tensor("x", ("n", WIDTH), "float64")
    ws = [gc.shared(w, name=f"W{i}") for i, w in enumerate(_weights(layers))]
    hs = [x]
    for w in ws:
        hs.append(gc.tanh(hs[-1] @ w))
    cost = (hs[-1] * hs[-1]).sum()
    # An empty object cache for each measurement: nothing compiled before (the same kernels, say) is reused.
    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")
    gc.settings.reload()  # graphc reads its environment once
    start = time.perf_counter()
    grads = gc.grad(cost, ws)
    f = gc.function(
        [x], cost, updates={w: w - 0.01 * g for w, g in zip(ws, grads, strict=True)}, backend=backend
    )
    elapsed = time.perf_counter() - start
    f(np.ones((BATCH, WIDTH)))
    return elapsed


def jax_compile(jax, layers: int) -> float:
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def loss(ws, x):
        h = x
        for w in ws:
            h = jnp.tanh(h @ w)
        return (h * h).sum()

    def step(ws, x):
        cost, grads = jax.value_and_grad(loss)(ws, x)
        return cost, [w - 0.01 * g for w, g in zip(ws, grads, strict=True)]

    ws, x = [jnp.asarray(w) for w in _weights(layers)], jnp.ones((BATCH, WIDTH))
    start = time.perf_counter()
    jax.jit(step).lower(ws, x).compile()
    return time.perf_counter() - start


def pytensor_compile(pt, layers: int) -> float:
    import pytensor.tensor as ptt

    x = ptt.matrix("x", dtype="float64")
    ws = [pt.shared(w) for w in _weights(layers)]
    h = x
    start = time.perf_counter()
    for w in ws:
        h = ptt.tanh(h @ w)
    cost = (h * h).sum()
    grads = pt.grad(cost, ws)
    pt.function(
        [x], cost, updates=[(w, w - 0.01 * g) for w, g in zip(ws, grads, strict=True)], mode=pytensor_mode()
    )
    return time.perf_counter() - start


def best_of(compile_once, layers: int, repeat: int = REPEAT) -> float:
    return min(compile_once(layers) for _ in range(repeat))


def main() -> None:
    rows = {layers: {"layers": layers} for layers in LAYERS}
    graphc_compile(2, "llvm")  # first use of llvmlite in this process (target init) is not a compile
    for layers in LAYERS:  # graphc first, before the peers start their thread pools
        rows[layers]["graphc llvm"] = best_of(lambda n: graphc_compile(n, "llvm"), layers)
        rows[layers]["graphc numpy"] = best_of(lambda n: graphc_compile(n, "numpy"), layers)
    jax, pt = peer("jax"), peer("pytensor")
    for layers in LAYERS:
        if jax is not None:
            rows[layers]["JAX jit"] = best_of(lambda n: jax_compile(jax, n), layers)
        if pt is not None:  # PyTensor keeps compiled C modules on disk (~/.pytensor): warm after a first run
            rows[layers]["PyTensor (C)"] = best_of(lambda n: pytensor_compile(pt, n), layers)
    rows = list(rows.values())
    names = ["graphc llvm", "graphc numpy", "JAX jit", "PyTensor (C)"]
    table(
        f"Compile time, tanh MLP + gradient + SGD updates (ms, best of {REPEAT}, empty graphc cache each)",
        ["layers", *names],
        [[row["layers"], *(f"{row[n] * 1e3:.0f}" if n in row else "—" for n in names)] for row in rows],
    )


if __name__ == "__main__":
    main()
