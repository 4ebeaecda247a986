"""Deep graphs: a 100,000-node chain builds, compiles, runs and prints with no recursion. Owns these checks.

Every walk over a graph must be iterative (DESIGN.md). The tests run the work under a recursion limit only a
couple of hundred frames above the caller's depth, so any walk that recurses per node fails at once.
"""

from __future__ import annotations

import io
import sys
from contextlib import contextmanager

import numpy as np
import pytest

import graphc as gc
from graphc.passes import fusion

STEPS = 50_000  # each step is a mul and an add: 100,000 nodes
A, C = 1.0001, 0.0001


@contextmanager
def shallow_stack(headroom: int = 250):
    """Allow only `headroom` frames beyond the current depth: enough for graphc, NumPy and sympy calls,
    far too few for a recursive walk over a deep graph."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def expected_chain(x: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """x after `steps` of x -> A*x + C, in closed form."""
    power = A**steps
    return power * x + C * (power - 1) / (A - 1)


@pytest.fixture(scope="module")
def chain():
    x = gc.tensor("x", ("n",))
    y = x
    with shallow_stack():
        for _ in range(STEPS):
            y = y * A + C
    return x, y


def test_chain_builds(chain) -> None:
    x, y = chain
    with shallow_stack():
        nodes = gc.toposort([y])
    assert len(nodes) == 2 * STEPS
    assert nodes[0].inputs[0] is x and nodes[-1].outputs[0] is y
    assert [n.op for n in nodes[:4]] == [gc.Op.MUL, gc.Op.ADD, gc.Op.MUL, gc.Op.ADD]


def test_chain_compiles_and_runs(chain, backend: str) -> None:
    x, y = chain
    a = np.array([0.0, 1.0, -2.5])
    # llvm goes through the optimiser: unoptimised, each of the 100,000 nodes would be its own kernel call,
    # and building that much IR in llvmlite takes about a minute
    optimize = "fast" if backend == "llvm" else "none"
    with shallow_stack():
        f = gc.function([x], y, backend=backend, optimize=optimize)
        got = f(a)
    np.testing.assert_allclose(got, expected_chain(a), rtol=1e-9)
    if optimize == "none":
        assert len(f.optimized.nodes) == 2 * STEPS
    else:  # fused, in kernels of at most MAX_KERNEL_NODES operations
        assert len(f.optimized.nodes) == -(-2 * STEPS // fusion.MAX_KERNEL_NODES)


def test_chain_goes_through_the_whole_pipeline(chain) -> None:
    """The default passes on 100,000 nodes: seconds when each pass is linear (about 8 s on a loaded 2-core
    machine); a quadratic pass would take hours. The bound is loose on purpose: it catches complexity, not
    speed."""
    x, y = chain
    a = np.array([0.0, 1.0, -2.5])
    with shallow_stack():
        f = gc.function([x], y, backend="interp")
        got = f(a)
    np.testing.assert_allclose(got, expected_chain(a), rtol=1e-9)
    assert [r.nodes_before for r in f.reports][0] == 2 * STEPS
    assert {n.op for n in f.optimized.nodes} == {gc.Op.FUSED}  # kernels of bounded size, nothing left unfused
    assert sum(r.seconds for r in f.reports) < 90, f.report()


def test_chain_debugprint_is_linear(chain) -> None:
    _, y = chain
    with shallow_stack():
        text = gc.debugprint(y, file=io.StringIO())
    lines = text.splitlines()
    # one line per node, one per constant input, one for x
    assert len(lines) == 4 * STEPS + 1
    assert lines[0].startswith("#1 add -> ? [float64(n,)]")
    (leaf,) = [line for line in lines if line.endswith("└ x [float64(n,)]")]
    assert leaf.strip().startswith(f"[{2 * STEPS}] └ x")  # the depth is written, not indented
    assert len(text) < 120 * len(lines)  # bounded line length: linear in the graph size


def test_diamonds_are_walked_once(backend: str) -> None:
    """y -> exp(-y)*0.5 + y*0.5 uses y twice per step: 2^400 paths, but each node is visited once."""
    steps = 400 if backend != "llvm" else 100
    x = gc.tensor("x", ("n",))
    y = x
    with shallow_stack():
        for _ in range(steps):
            y = gc.exp(-y) * 0.5 + y * 0.5
        f = gc.function([x], y, backend=backend)
        text = gc.debugprint(y, file=io.StringIO())
        got = f(np.array([0.0, 1.0]))
    expected = np.array([0.0, 1.0])
    for _ in range(steps):
        expected = np.exp(-expected) * 0.5 + expected * 0.5
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # each of the 5 nodes of a step is printed once; the second use of each step's input y is a reference
    assert text.count(" -> ") == 5 * steps + steps - 1
