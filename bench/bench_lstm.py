"""Benchmark: the LSTM layer (gc.nn.lstm, a gc.scan loop). Run: python bench/bench_lstm.py [--threads N]

1. Build + compile time (wall and CPU) and graph size of a 1-layer LSTM with its gradient at T = 10 and
   T = 10,000 (and a named T, one graph for every length): the loop is one node whatever T is. Cold compiles,
   best of 3.
2. One forward + backward pass (T = 100, batch 32, input 64, hidden 128, float32; the cost is mean(ys²), the
   gradient is every weight's) against PyTorch eager (nn.LSTM, the same weights) and JAX (lax.scan under jit),
   same run, wall and CPU time.

`--threads N` sets every implementation's threads as in bench_scan.py (whose settings this imports first):
on a shared machine, thread pools that wait for each other at every step make small matrix products erratic;
compare with `--threads 1`.
"""

from __future__ import annotations

# isort: off
from bench_scan import THREADS, graph_nodes, timed  # first: it sets the threads before NumPy is imported

# isort: on
import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import peer, table  # noqa: E402

import graphc as gc  # noqa: E402

STEPS, BATCH, INPUTS, HIDDEN = 100, 32, 64, 128


def lstm_graph(steps, batch, inputs: int, hidden: int):
    """xs -> (cost, gradients of the four weights) of a 1-layer LSTM; the layer's weights as in PyTorch."""
    layer = gc.nn.LSTM(inputs, hidden, rng=np.random.default_rng(0))
    xs = gc.tensor("xs", (steps, batch, inputs), "float32")
    ys, _ = layer(xs)
    cost = gc.mean(ys * ys)
    return layer, xs, cost, gc.grad(cost, list(layer.params.values()))


def compile_times() -> None:
    best: dict[tuple, list] = {}
    for _ in range(3):  # rounds outside, lengths inside: one-time costs and load fall on every length alike
        for steps in (10, 10_000, "T"):
            for backend in ("numpy", "llvm"):
                os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")
                gc.settings.reload()
                start, start_cpu = time.perf_counter(), time.process_time()
                _, xs, cost, grads = lstm_graph(steps, "n", 16, 32)
                gc.function([xs], [cost, *grads], backend=backend)
                wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
                old = best.get((steps, backend), [float("inf"), float("inf"), 0])
                best[steps, backend] = [min(old[0], wall), min(old[1], cpu), graph_nodes([cost, *grads])]
    rows = [
        [f"{steps:,}" if isinstance(steps, int) else f'"{steps}" (any)', backend, f"{nodes:,}",
         f"{wall * 1000:.0f}", f"{cpu * 1000:.0f}"]
        for (steps, backend), (wall, cpu, nodes) in best.items()
    ]  # fmt: skip
    table("Build + compile a 1-layer LSTM and its gradient (input 16, hidden 32), cold, best of 3, ms",
          ["T", "backend", "nodes (bodies included)", "wall", "CPU"], rows)  # fmt: skip


def versus_peers() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS, BATCH, INPUTS)).astype(np.float32)
    layer, xs, cost, grads = lstm_graph(STEPS, BATCH, INPUTS, HIDDEN)
    weights = {k: v.get_value() for k, v in layer.params.items()}
    rows, results = [], {}
    for backend in ("llvm", "numpy"):
        f = gc.function([xs], [cost, *grads], backend=backend)
        results[backend] = f(x)
        rows.append([f"graphc {backend}", *timed(lambda f=f: f(x))])
    torch = peer("torch")
    if torch is not None:
        torch.set_num_threads(THREADS)
        lstm = torch.nn.LSTM(INPUTS, HIDDEN)
        with torch.no_grad():
            for name, p in lstm.named_parameters():
                key = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}
                p.copy_(torch.from_numpy(weights[key[name.removesuffix("_l0")]]))
        tx = torch.from_numpy(x)

        def torch_step():
            lstm.zero_grad()
            ys, _ = lstm(tx)
            (ys * ys).mean().backward()

        torch_step()
        grad_ih = lstm.weight_ih_l0.grad.numpy()
        assert np.allclose(results["llvm"][1], grad_ih, rtol=1e-3, atol=1e-6), "graphc and PyTorch disagree"
        rows.append(["PyTorch eager (nn.LSTM)", *timed(torch_step)])
    jax = peer("jax")
    if jax is not None:
        jnp = jax.numpy

        def loss(p, x):
            def step(carry, xt):
                h, c = carry
                g = xt @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
                i, f, gg, o = jnp.split(g, 4, axis=1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), h

            zeros = jnp.zeros((x.shape[1], HIDDEN), x.dtype)
            _, ys = jax.lax.scan(step, (zeros, zeros), x)
            return (ys * ys).mean()

        grad = jax.jit(jax.value_and_grad(loss))
        params, jx = {k: jnp.asarray(v) for k, v in weights.items()}, jnp.asarray(x)
        rows.append(["JAX (lax.scan, jit)", *timed(lambda: jax.block_until_ready(grad(params, jx)))])
    sizes = f"T = {STEPS}, batch {BATCH}, input {INPUTS}, hidden {HIDDEN}, float32, {THREADS} thread(s)"
    table(f"One forward + backward pass of a 1-layer LSTM ({sizes}), ms", ["", "wall", "CPU"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=THREADS, help="(read by bench_scan at import)")
    parser.add_argument("--only", choices=["compile", "peers"], default=None)
    args = parser.parse_args()
    if args.only != "peers":
        compile_times()
    if args.only != "compile":
        versus_peers()
