"""Benchmark: loops in the graph (gc.scan). Run: python bench/bench_scan.py [--threads N]

1. Compile time and graph size against the sequence length T: a tanh RNN with its gradient (BPTT), built with
   gc.scan (the same graph for every T) and unrolled in Python (the graph grows with T). Cold compiles.
2. Per-step overhead of a tiny body (hidden 8, batch 1): h = tanh(h @ W + x @ U), forward and forward +
   backward, per backend (llvm: a native loop, no Python per step).
3. One forward + backward pass of a tanh RNN (T = 100, batch 32, input 64, hidden 128, float32) against
   PyTorch eager (nn.RNN) and JAX (lax.scan under jit), where installed.

Wall and CPU time (this process, all threads) are both shown in 1 and 2: on a shared machine the CPU time is
what a quiet machine's wall time comes close to. `--threads N` (default: the CPUs this process may use) sets
every implementation's threads (OpenBLAS, graphc, PyTorch, XLA's Eigen pool: one or all): on a shared
machine, thread pools that wait for each other slow small matrix products 5-20x; compare with `--threads 1`.
"""

from __future__ import annotations

import os
import sys

THREADS = (
    int(sys.argv[sys.argv.index("--threads") + 1])
    if "--threads" in sys.argv
    else len(os.sched_getaffinity(0))
)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GRAPHC_NUM_THREADS"):  # before NumPy is imported
    os.environ[_var] = str(THREADS)
if THREADS == 1:
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"

import tempfile  # noqa: E402 - the thread settings above must come first
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import best_time, peer, table  # noqa: E402

import graphc as gc  # noqa: E402


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


def compile_once(steps: int | str, backend: str, unrolled: bool) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, nodes built) of building and compiling the RNN with an empty cache."""
    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")
    gc.settings.reload()
    wall, cpu = time.perf_counter(), time.process_time()
    inputs, cost, grads = rnn_graph(steps, 32, 16, "n", unrolled)
    gc.function(inputs, [cost, *grads], backend=backend)
    return time.perf_counter() - wall, time.process_time() - cpu, graph_nodes([cost, *grads])


def compile_times(rounds: int = 5) -> None:
    """Best of `rounds`, the lengths interleaved (a busy machine slows each alike); wall and CPU time."""
    runs = [(False, 10), (False, 10_000), (False, "T"), (True, 10), (True, 100), (True, 1000)]
    best: dict = {}
    for round_ in range(rounds):
        for unrolled, steps in runs:
            if unrolled and steps * round_ >= 300:
                continue  # the long unrolled graphs take seconds each: fewer rounds
            for backend in ("numpy", "llvm"):
                wall, cpu, nodes = compile_once(steps, backend, unrolled)
                old = best.get((unrolled, steps, backend), (float("inf"), float("inf")))
                best[(unrolled, steps, backend)] = (min(old[0], wall), min(old[1], cpu), nodes)
    rows = [
        ["unrolled" if unrolled else "gc.scan", f"{steps:,}" if isinstance(steps, int) else f'"{steps}" any',
         backend, f"{nodes:,}", f"{wall * 1000:,.0f}", f"{cpu * 1000:,.0f}"]
        for (unrolled, steps, backend), (wall, cpu, nodes) in best.items()
    ]  # fmt: skip
    header = ["graph", "T", "backend", "nodes", "wall", "CPU"]
    table("Build + compile a tanh RNN and its gradient (hidden 32), cold, ms", header, rows)


def per_step() -> None:
    """Per step: T = 10,000 on llvm, 1,000 elsewhere (a Python call per step there); wall and CPU time."""
    rows = []
    rng = np.random.default_rng(0)
    for backend in ("llvm", "numpy", "interp"):
        steps = 10_000 if backend == "llvm" else 1000
        inputs, cost, grads = rnn_graph("T", 8, 8, 1, unrolled=False, dtype="float32")
        args = [rng.normal(size=(steps, 1, 8)).astype(np.float32), np.zeros((1, 8), np.float32)]
        forward = gc.function(inputs, cost, backend=backend)
        both = gc.function(inputs, [cost, *grads], backend=backend)
        repeat = 7 if backend == "llvm" else 2
        row = [backend, f"{steps:,}"]
        for f in (forward, both):
            for clock in (time.perf_counter, time.process_time):
                seconds = best_time(lambda f=f, a=args: f(*a), repeat=repeat, min_time=0.05, clock=clock)
                row.append(f"{seconds / steps * 1e9:,.0f}")
        rows.append(row)
    table("Time per step of a tiny body (hidden 8, batch 1, float32), ns", ["backend", "T", "forward, wall",
          "CPU", "forward + backward, wall", "CPU"], rows)  # fmt: skip


def timed(fn) -> list[str]:
    """Best wall and CPU time of fn, ms."""
    return [f"{best_time(fn, clock=clock) * 1000:.2f}" for clock in (time.perf_counter, time.process_time)]


def versus_peers() -> None:
    steps, batch, n_in, hidden = 100, 32, 64, 128
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps, batch, n_in)).astype(np.float32)
    h0 = np.zeros((batch, hidden), np.float32)
    rows = []
    inputs, cost, grads = rnn_graph(steps, hidden, n_in, batch, unrolled=False, dtype="float32")
    for backend in ("llvm", "numpy"):
        f = gc.function(inputs, [cost, *grads], backend=backend)
        rows.append([f"graphc {backend}", *timed(lambda f=f: f(x, h0))])
    torch = peer("torch")
    if torch is not None:
        torch.set_num_threads(THREADS)
        rnn = torch.nn.RNN(n_in, hidden, nonlinearity="tanh")
        tx, th = torch.from_numpy(x), torch.from_numpy(h0)[None]

        def torch_step():
            rnn.zero_grad()
            ys, _ = rnn(tx, th)
            (ys * ys).mean().backward()

        rows.append(["PyTorch eager (nn.RNN)", *timed(torch_step)])
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
        rows.append(["JAX (lax.scan, jit)", *timed(lambda: jax.block_until_ready(grad(params, jx, jh)))])
    sizes = f"T = {steps}, batch {batch}, input {n_in}, hidden {hidden}, float32, {THREADS} thread(s) each"
    table(f"One forward + backward pass of a tanh RNN ({sizes}), ms", ["", "wall", "CPU"], rows)


if __name__ == "__main__":
    compile_times()
    per_step()
    versus_peers()
