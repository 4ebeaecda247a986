"""Every pass, and gc.grad, is about linear in the graph's size (DESIGN: linear or n log n): the same blocks
(where, reductions, a softmax, a matrix product, values used several times) repeated 40 and 160 times, with
their gradients. Times are best of two; the bound (4x the blocks, at most 8x the time) catches quadratic
work (16x), not speed, and passes that take a few milliseconds are not timed at all."""

from __future__ import annotations

import gc as python_gc
import time

import numpy as np

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.passes.manager import fast_pipeline

BLOCKS = (40, 160)


def _network(blocks: int):
    x = gc.tensor("x", ("n", 4))
    mask = gc.tensor("mask", ("n", 4), "bool")
    weights = [gc.shared(np.eye(4) * 0.5 + 0.01 * k, name=f"W{k}") for k in range(blocks)]
    y = x
    for w in weights:
        a = gc.softplus(y) + 0.5
        b = gc.where(mask, gc.tanh(a), y * 0.1)
        p = gc.exp(b - gc.max(b, axis=1, keepdims=True))
        y = (p / gc.sum(p, axis=1, keepdims=True)) @ w + gc.sigmoid(y) * a
    cost = gc.mean(y * y)
    return [x, mask], cost, weights


def _timings(blocks: int) -> dict[str, float]:
    """CPU seconds of gc.grad and of each pass (a loaded machine disturbs CPU time less than the wall clock),
    with Python's cyclic GC off during the passes, as run_pipeline runs them."""
    inputs, cost, weights = _network(blocks)
    start = time.process_time()
    grads = gc.grad(cost, weights)
    seconds = {"grad": time.process_time() - start}
    fgraph = FunctionGraph(inputs, [cost, *grads])
    python_gc.disable()
    try:
        for name, run in fast_pipeline():
            start = time.process_time()
            fgraph, _ = run(fgraph)
            len(fgraph.nodes)  # the toposort is part of the pass's cost
            seconds[name] = time.process_time() - start
    finally:
        python_gc.enable()
    return seconds


def test_every_pass_and_grad_scale_linearly() -> None:
    best = {n: dict.fromkeys(["grad", *dict(fast_pipeline())], float("inf")) for n in BLOCKS}
    for _ in range(2):
        for n in BLOCKS:
            for name, seconds in _timings(n).items():
                best[n][name] = min(best[n][name], seconds)
    small, large = (best[n] for n in BLOCKS)
    slow = {
        name: round(large[name] / small[name], 1)
        for name in small
        if large[name] > 0.02 and large[name] / small[name] > 2 * BLOCKS[1] / BLOCKS[0]
    }
    assert not slow, f"grew faster than linearly (ratio of times for 4x the blocks): {slow}; {best}"
