"""Benchmark 6: how compile time grows with the graph: a long elementwise chain, and many inputs.

- chain: y = tanh(y)*0.5 + x and y = y*1.0001 + 0.1, alternately, on an 8-vector, until the graph has N
  nodes (issue 17's chain; fusion makes one kernel of it);
- chain, every constant different: the same with y*(1 + k*1e-6) + 0.1 at step k, so no two pieces of it
  are the same kernel;
- inputs: y = x0 + x1 + ... + x(N-1), N 8-vectors.

Cold compiles (an empty graphc cache each), wall-clock and CPU seconds (all threads), graphc's llvm and numpy
backends and JAX's jit in the same run. Run: python bench/bench_compile_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from common import peer, table

import graphc as gc

CHAIN_NODES = (1000, 4000, 16000)
INPUTS = (1000, 10000)


def chain_steps(nodes: int, varied: bool):
    """The chain's steps (a tanh step is 3 nodes, a linear one 2) up to ``nodes`` graph nodes."""
    steps, count = [], 0
    while count < nodes:
        k = len(steps)
        steps.append(("tanh", 0.5) if k % 2 == 0 else ("lin", 1.0 + k * 1e-6 if varied else 1.0001))
        count += 3 if k % 2 == 0 else 2
    return steps


def _cold() -> None:
    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-scaling-")
    gc.settings.reload()


def _timed(build) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    build()
    return time.perf_counter() - wall, time.process_time() - cpu


def graphc_chain(nodes: int, varied: bool, backend: str) -> tuple[float, float]:
    x = gc.vector("x", 8)
    y = x
    for kind, c in chain_steps(nodes, varied):
        y = gc.tanh(y) * c + x if kind == "tanh" else y * c + 0.1
    _cold()
    return _timed(lambda: gc.function([x], y, backend=backend))


def graphc_inputs(n: int, backend: str) -> tuple[float, float]:
    xs = [gc.vector(f"x{k}", 8) for k in range(n)]
    y = xs[0]
    for v in xs[1:]:
        y = y + v
    _cold()
    return _timed(lambda: gc.function(xs, y, backend=backend))


def jax_chain(jax, nodes: int, varied: bool) -> tuple[float, float]:
    steps = chain_steps(nodes, varied)

    def f(x):
        y = x
        for kind, c in steps:
            y = jax.numpy.tanh(y) * c + x if kind == "tanh" else y * c + 0.1
        return y

    x = np.ones(8)
    return _timed(lambda: jax.jit(f).lower(x).compile())


def jax_inputs(jax, n: int) -> tuple[float, float]:
    def f(*xs):
        y = xs[0]
        for v in xs[1:]:
            y = y + v
        return y

    xs = [np.ones(8)] * n
    return _timed(lambda: jax.jit(f).lower(*xs).compile())


def _cell(pair) -> str:
    return f"{pair[0]:.2f} ({pair[1]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only the smaller sizes")
    args = parser.parse_args()
    chain_sizes = CHAIN_NODES[:2] if args.quick else CHAIN_NODES
    input_sizes = INPUTS[:1] if args.quick else INPUTS
    jax = peer("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    graphc_chain(10, False, "llvm")  # first use of llvmlite in this process (target init) is not a compile
    names = ["graphc llvm", "graphc numpy", "JAX jit"]
    rows, llvm_times = [], {}
    cases = (("chain", chain_sizes), ("chain, constants differ", chain_sizes), ("inputs", input_sizes))
    for case, sizes in cases:
        for n in sizes:
            if case == "inputs":
                runs = {"graphc llvm": graphc_inputs(n, "llvm"), "graphc numpy": graphc_inputs(n, "numpy")}
                if jax is not None:
                    runs["JAX jit"] = jax_inputs(jax, n)
            else:
                varied = case != "chain"
                runs = {b: graphc_chain(n, varied, b.split()[1]) for b in names[:2]}
                if jax is not None:
                    runs["JAX jit"] = jax_chain(jax, n, varied)
            llvm_times[case, n] = runs["graphc llvm"]
            rows.append([case, n, *(_cell(runs[k]) if k in runs else "—" for k in names)])
    table("Compile time against graph size, s wall (CPU), empty graphc cache", ["graph", "N", *names], rows)
    for case, sizes in cases[:2]:
        ratios = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            (wall_a, cpu_a), (wall_b, cpu_b) = llvm_times[case, a], llvm_times[case, b]
            ratios.append(f"{wall_b / wall_a:.1f}x ({cpu_b / cpu_a:.1f}x)")
        print(f"{case}: llvm compile time per 4x nodes, wall (CPU): " + ", ".join(ratios))


if __name__ == "__main__":
    main()
