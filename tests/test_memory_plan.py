"""The memory plan (graphc.codegen.memory) that the numpy and llvm backends both read: values sharing a slot
never live at the same time, views keep what they view alive, and the backends' results do not change."""

from __future__ import annotations

import random

import numpy as np
import pytest

import graphc as gc
from graphc.codegen.memory import plan


def _lifetimes_are_disjoint(steps, result, in_place: bool) -> None:
    made = {v: k for k, (_, writes) in enumerate(steps) for v in writes}
    holders: dict = {}
    for v, s in result.slot.items():
        holders.setdefault(s, []).append(v)
    for values in holders.values():
        spans = sorted((made[v], result.last_use[v], v) for v in values)
        for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
            # b is written at step `start`: a must be dead before (or, in place, read last at that step)
            assert end < start or (in_place and end == start), f"{a} and {b} overlap in one slot"


def test_a_chain_reuses_the_slot_of_a_dead_value():
    steps = [((0,), (1,)), ((1,), (2,)), ((2,), (3,))]
    result = plan(steps, keep=(3,), key_of=lambda v: "8n")
    assert result.slot == {1: 0, 2: 1, 3: 0}
    assert result.dying == [[0], [1], [2]] and result.last_use[3] == 3
    in_place = plan(steps, keep=(3,), key_of=lambda v: "8n", in_place=True)
    assert in_place.slot == {1: 0, 2: 0, 3: 0}  # each step may write over the value it reads last


def test_random_graphs_never_share_a_live_slot():
    rng = random.Random(0)
    for trial in range(60):
        n, steps = rng.randint(1, 30), []
        for k in range(n):
            reads = tuple(rng.sample(range(k + 1), rng.randint(0, min(3, k + 1))))  # 0 is an input
            steps.append((reads, (k + 1,)))
        keep = rng.sample(range(1, n + 1), rng.randint(1, min(3, n)))
        in_place = trial % 2 == 1
        result = plan(steps, keep, key_of=lambda v: v % 3 if v else None, in_place=in_place)
        _lifetimes_are_disjoint(steps, result, in_place)
        assert all(result.last_use[v] == n for v in keep)


def test_a_view_keeps_its_base_alive():
    # 1 = f(0); 2 = a view of 1 (no slot of its own); 3 = g(2); 4 = h(3), 5 = k(4)
    steps = [((0,), (1,)), ((1,), (2,)), ((2,), (3,)), ((3,), (4,)), ((4,), (5,))]
    result = plan(
        steps,
        keep=(5,),
        key_of=lambda v: None if v == 2 else "8n",
        aliases=lambda v: (1,) if v == 2 else (),
    )
    assert result.last_use[1] == 2  # read through the view at step 2
    assert 2 not in result.slot and result.slot[3] != result.slot[1]
    assert result.slot[4] == result.slot[1]  # free once the view is dead


def _mlp_step():
    x, y = gc.matrix("x", ("n", 8)), gc.vector("y", dtype="int64")
    W1, W2 = gc.shared(np.full((8, 16), 0.1), name="W1"), gc.shared(np.full((16, 4), 0.1), name="W2")
    J = gc.nn.softmax_cross_entropy(gc.tanh(x @ W1) @ W2, y)
    g1, g2 = gc.grad(J, [W1, W2])
    return [x, y], J, {W1: W1 - 0.1 * g1, W2: W2 - 0.1 * g2}


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_the_backends_expose_the_plan_they_follow(backend):
    pytest.importorskip("llvmlite") if backend == "llvm" else None
    inputs, J, updates = _mlp_step()
    f = gc.function(inputs, J, updates=updates, backend=backend)
    memory = f.program.memory_plan
    nodes = f.optimized.nodes
    assert len(memory.dying) == len(nodes)
    steps = [(tuple(map(id, n.inputs)), tuple(map(id, n.outputs))) for n in nodes]
    _lifetimes_are_disjoint(steps, memory, in_place=False)
    if backend == "llvm":  # slots by byte size; fewer slots than stored values
        assert 0 < len(memory.keys) < len(memory.slot)
        assert str(memory).startswith("slot 0 [")
    else:  # the numpy code deletes each value after its last use
        assert "del " in f.source


def test_equal_sized_values_in_a_chain_share_two_slots():
    pytest.importorskip("llvmlite")
    x = gc.matrix("x", ("n", 16))
    h, weights = x, [np.eye(16) * (k + 1) for k in range(6)]
    for w in weights:
        h = gc.tanh(h @ gc.constant(w))  # matmul, then a fused tanh: neither fuses with the next
    f = gc.function([x], h.sum(), backend="llvm")
    X = np.linspace(0.1, 1, 48).reshape(3, 16)
    expected = X
    for w in weights:
        expected = np.tanh(expected @ w)
    np.testing.assert_allclose(f(X), expected.sum(), rtol=1e-12)
    assert len([k for k in f.program.memory_plan.keys if k != 8]) == 2
