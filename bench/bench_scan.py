"""Benchmark: loops in the graph (gc.scan). Run: python bench/bench_scan.py

1. Compile time and graph size against the sequence length T: a tanh RNN with its gradient (BPTT), built with
   gc.scan (the same graph for every T) and unrolled in Python (the graph grows with T). Cold compiles.
2. Per-step overhead of a tiny body (hidden 8, batch 1): h = tanh(h @ W + x @ U), T = 10,000 steps, forward
   and forward + backward, per backend (llvm: a native loop, no Python per step).
3. One forward + backward pass of a tanh RNN (T = 100, batch 32, input 64, hidden 128, float32) against
   PyTorch eager (nn.RNN) and JAX (lax.scan under jit), where installed.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
from common import best_time, peer, table

import graphc as gc


def rnn_graph(steps: int | str, hidden: int, inputs: int, batch, unrolled: bool, dtype="float64"):
    """xs (T, batch, inputs) -> (cost, grads of the weights) of a tanh RNN, as a scan or unrolled."""
    rng = np.random.default_rng(0)
    W = gc.shared((rng.normal(size=(hidden, hidden)) * 0.3).astype(dtype), name="W")
    U = gc.shared((rng.normal(size=(inputs, hidden)) * 0.3).astype(dtype), name="U")
    b = gc.shared(np.zeros(hidden, dtype), name="b")
    xs, h0 = gc.tensor("xs", (steps, batch, inputs), dtype), gc.tensor("h0", (batch, hidden), dtype)

    def step(h, x):
        h = gc.tanh(h @ W + x @ U + b)
        return h, h

    if unrolled:
        h, ys = h0, []
        for t in range(steps):
            h, y = step(h, xs[t])
            ys.append(y)
        ys = gc.stack(ys)
    else:
        h, ys = gc.scan(step, h0, xs)
    cost = (ys * ys).mean()
    return [xs, h0], cost, gc.grad(cost, [W, U, b])


def graph_nodes(outputs) -> int:
    """Nodes of the graph as built, bodies included."""
    count, stack = 0, list(gc.toposort(outputs))
    while stack:
        node = stack.pop()
        count += 1
        for body in (v for v in node.params.values() if isinstance(v, gc.fgraph.FunctionGraph)):
            stack.extend(body.nodes)
    return count


def compile_times() -> None:
    rows = []
    for unrolled, lengths in ((False, (10, 10_000)), (True, (10, 100, 1000))):
        for steps in lengths:
            for backend in ("numpy", "llvm"):
                best, nodes = float("inf"), 0
                for _ in range(3):
                    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")
                    gc.settings.reload()
                    start = time.perf_counter()
                    inputs, cost, grads = rnn_graph(steps, 32, 16, "n", unrolled)
                    gc.function(inputs, [cost, *grads], backend=backend)
                    best = min(best, time.perf_counter() - start)
                    nodes = graph_nodes([cost, *grads])
                    if unrolled and steps >= 1000:
                        break  # seconds each: once is enough
                how = "unrolled" if unrolled else "gc.scan"
                rows.append([how, f"{steps:,}", backend, f"{nodes:,}", f"{best * 1000:.0f} ms"])
    table("Build + compile a tanh RNN and its gradient (hidden 32), cold", ["graph", "T", "backend", "nodes",
          "build + compile"], rows)  # fmt: skip


def per_step() -> None:
    rows = []
    steps = 10_000
    rng = np.random.default_rng(0)
    for backend in ("llvm", "numpy", "interp"):
        inputs, cost, grads = rnn_graph("T", 8, 8, 1, unrolled=False, dtype="float32")
        args = [rng.normal(size=(steps, 1, 8)).astype(np.float32), np.zeros((1, 8), np.float32)]
        forward = gc.function(inputs, cost, backend=backend)
        both = gc.function(inputs, [cost, *grads], backend=backend)
        repeat = 5 if backend == "llvm" else 1
        fwd = best_time(lambda f=forward, a=args: f(*a), repeat=repeat, min_time=0.02) / steps
        bwd = best_time(lambda f=both, a=args: f(*a), repeat=repeat, min_time=0.02) / steps
        rows.append([backend, f"{fwd * 1e9:,.0f} ns", f"{bwd * 1e9:,.0f} ns"])
    table(f"Time per step of a tiny body (hidden 8, batch 1, float32), T = {steps:,}",
          ["backend", "forward", "forward + backward"], rows)  # fmt: skip


def versus_peers() -> None:
    steps, batch, n_in, hidden = 100, 32, 64, 128
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps, batch, n_in)).astype(np.float32)
    h0 = np.zeros((batch, hidden), np.float32)
    rows = []
    inputs, cost, grads = rnn_graph(steps, hidden, n_in, batch, unrolled=False, dtype="float32")
    for backend in ("llvm", "numpy"):
        f = gc.function(inputs, [cost, *grads], backend=backend)
        rows.append([f"graphc {backend}", f"{best_time(lambda f=f: f(x, h0)) * 1000:.2f} ms"])
    torch = peer("torch")
    if torch is not None:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        rnn = torch.nn.RNN(n_in, hidden, nonlinearity="tanh")
        tx, th = torch.from_numpy(x), torch.from_numpy(h0)[None]

        def torch_step():
            rnn.zero_grad()
            ys, _ = rnn(tx, th)
            (ys * ys).mean().backward()

        rows.append(["PyTorch eager (nn.RNN)", f"{best_time(torch_step) * 1000:.2f} ms"])
    jax = peer("jax")
    if jax is not None:
        jnp = jax.numpy
        shapes = ((hidden, hidden), (n_in, hidden), (hidden,))
        params = [jnp.asarray(rng.normal(size=s).astype(np.float32)) for s in shapes]

        def loss(params, x, h0):
            W, U, b = params
            _, ys = jax.lax.scan(lambda h, xt: (jnp.tanh(h @ W + xt @ U + b),) * 2, h0, x)
            return (ys * ys).mean()

        grad = jax.jit(jax.value_and_grad(loss))
        jx, jh = jnp.asarray(x), jnp.asarray(h0)
        seconds = best_time(lambda: jax.block_until_ready(grad(params, jx, jh)))
        rows.append(["JAX (lax.scan, jit)", f"{seconds * 1000:.2f} ms"])
    sizes = f"T = {steps}, batch {batch}, input {n_in}, hidden {hidden}, float32"
    table(f"One forward + backward pass of a tanh RNN ({sizes})", ["", "time"], rows)


if __name__ == "__main__":
    compile_times()
    per_step()
    versus_peers()
