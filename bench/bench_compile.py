"""Benchmark 4: compile time of a 10- and a 100-layer tanh MLP with its gradient (SGD updates of every layer).

Cold compiles (an empty graphc cache directory for each measurement). Then a second, different program (one
more layer, another learning rate) compiled cold, and after the first one: it shares most of its kernels with
the first, which the object cache keeps per kernel. Wall-clock and CPU time (all threads) of each.

Run: python bench/bench_compile.py
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


def _empty_cache() -> str:
    """A new, empty object cache directory, in force from now on (graphc reads its environment once)."""
    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")
    gc.settings.reload()
    return os.environ["GRAPHC_CACHE_DIR"]


def _timed(build) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = build()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def graphc_compile(layers: int, backend: str, lr: float = 0.01, cold: bool = True):
    """(wall s, CPU s, function) of one compile; ``cold``: with an empty object cache."""
    x = gc.tensor("x", ("n", WIDTH), "float64")
    ws = [gc.shared(w, name=f"W{i}") for i, w in enumerate(_weights(layers))]
    hs = [x]
    for w in ws:
        hs.append(gc.tanh(hs[-1] @ w))
    cost = (hs[-1] * hs[-1]).sum()
    if cold:
        _empty_cache()

    def build():
        grads = gc.grad(cost, ws)
        updates = {w: w - lr * g for w, g in zip(ws, grads, strict=True)}
        return gc.function([x], cost, updates=updates, backend=backend)

    wall, cpu, f = _timed(build)
    f(np.ones((BATCH, WIDTH)))
    return wall, cpu, f


def jax_compile(jax, layers: int):
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
    return _timed(lambda: jax.jit(step).lower(ws, x).compile())


def pytensor_compile(pt, layers: int):
    import pytensor.tensor as ptt

    def build():
        x = ptt.matrix("x", dtype="float64")
        ws = [pt.shared(w) for w in _weights(layers)]
        h = x
        for w in ws:
            h = ptt.tanh(h @ w)
        cost = (h * h).sum()
        grads = pt.grad(cost, ws)
        updates = [(w, w - 0.01 * g) for w, g in zip(ws, grads, strict=True)]
        return pt.function([x], cost, updates=updates, mode=pytensor_mode())

    return _timed(build)


def best_of(compile_once, repeat: int = REPEAT) -> tuple[float, float]:
    """(wall, CPU) of the fastest of ``repeat`` compiles (by wall time)."""
    return min((run[0], run[1]) for run in (compile_once() for _ in range(repeat)))


def second_program(layers: int) -> dict:
    """A program with one more layer and another learning rate, cold and after the first program."""
    cold = best_of(lambda: graphc_compile(layers + 1, "llvm", lr=0.02))
    after = []
    for _ in range(REPEAT):
        graphc_compile(layers, "llvm")  # the first program, into a new empty cache
        wall, cpu, f = graphc_compile(layers + 1, "llvm", lr=0.02, cold=False)
        after.append((wall, cpu, f.program.compiled_units, len(f.program.units)))
    wall, cpu, compiled, units = min(after)
    return {"cold": cold, "after": (wall, cpu), "compiled": compiled, "units": units}


def _ms(pair) -> str:
    return f"{pair[0] * 1e3:.0f} ({pair[1] * 1e3:.0f})"


def main() -> None:
    rows = {layers: {"layers": layers} for layers in LAYERS}
    for backend in ("llvm", "numpy"):  # a backend's first use in a process (imports, target init) is not a
        graphc_compile(2, backend)  # compile; its kernels are not reused (every measurement has a new cache)
    second = {}
    for layers in LAYERS:  # graphc first, before the peers start their thread pools
        rows[layers]["graphc llvm"] = best_of(lambda n=layers: graphc_compile(n, "llvm"))
        rows[layers]["graphc numpy"] = best_of(lambda n=layers: graphc_compile(n, "numpy"))
        second[layers] = second_program(layers)
    jax, pt = peer("jax"), peer("pytensor")
    for layers in LAYERS:
        if jax is not None:
            rows[layers]["JAX jit"] = best_of(lambda n=layers: jax_compile(jax, n))
        if pt is not None:  # PyTensor keeps compiled C modules on disk (~/.pytensor): warm after a first run
            rows[layers]["PyTensor (C)"] = best_of(lambda n=layers: pytensor_compile(pt, n))
    names = ["graphc llvm", "graphc numpy", "JAX jit", "PyTensor (C)"]
    table(
        f"Compile time, tanh MLP + gradient + SGD, ms wall (CPU), best of {REPEAT}, empty graphc cache",
        ["layers", *names],
        [[row["layers"], *(_ms(row[n]) if n in row else "—" for n in names)] for row in rows.values()],
    )
    table(
        "A second program (one more layer, another learning rate): llvm compile, ms wall (CPU)",
        ["layers", "cold", "after the first program", "speed-up (wall)", "units compiled / all"],
        [
            [
                f"{layers} + 1",
                _ms(s["cold"]),
                _ms(s["after"]),
                f"{s['cold'][0] / s['after'][0]:.1f}×",
                f"{s['compiled']} / {s['units']}",
            ]
            for layers, s in second.items()
        ],
    )


if __name__ == "__main__":
    main()
