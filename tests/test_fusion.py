"""Elementwise fusion: maximal groups, values used outside stay kernel outputs, no cycles, every kernel
output has the iteration shape, trailing SUM/MAX reductions, results equal to the unfused graph everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.ops import ELEMENTWISE, Op
from graphc.passes import fusion
from graphc.passes.fusion import fuse_elementwise
from graphc.passes.manager import run_pipeline
from graphc.types import broadcast_shapes


def fused_nodes(fgraph):
    return [n for n in fgraph.nodes if n.op is Op.FUSED]


def adjacent_unfused(fgraph) -> list:
    """Pairs of plain elementwise nodes where one reads the other: what fusion must not leave behind."""
    return [
        (v.owner, n)
        for n in fgraph.nodes
        if n.op in ELEMENTWISE
        for v in n.inputs
        if v.owner is not None and v.owner.op in ELEMENTWISE
    ]


def check_kernel_shapes(fgraph) -> None:
    """Every plain kernel output has the iteration shape (the broadcast of the kernel's inputs)."""
    for node in fused_nodes(fgraph):
        kernel = node.params["kernel"]
        full = broadcast_shapes(*(v.type.shape for v in node.inputs))
        for out, red in zip(node.outputs, kernel.reductions, strict=True):
            if red is None:
                assert out.type.shape == full, (out.type, full)


def same_results(inputs, outputs, args, backend, updates=None):
    want = gc.function(inputs, outputs, backend="interp", optimize="none")(*args)
    f = gc.function(inputs, outputs, backend=backend)
    got = f(*args)
    for g, w in zip(
        got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,), strict=True
    ):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-300)
    return f


X = gc.tensor("x", ("n", 4))
B = gc.tensor("b", (4,))
W = gc.tensor("w", (4, 4))


def test_a_chain_becomes_one_kernel(backend, rng):
    y = gc.tanh(gc.exp(X * 0.5) + B) * gc.sigmoid(X) - 1.5
    f = same_results([X, B], y, [rng.normal(size=(3, 4)), rng.normal(size=4)], backend)
    (node,) = f.optimized.nodes
    assert node.op is Op.FUSED and node.inputs == (X, B)
    ops = [i.op for i in node.params["kernel"].instrs]
    assert ops.count(None) == 2 and {Op.MUL, Op.EXP, Op.ADD, Op.TANH, Op.SIGMOID, Op.SUB} <= set(ops)
    assert {"fused_kernel": 1, "fused_node": 7}.items() <= dict(f.reports[-2].rewrites).items()


def test_a_value_used_outside_stays_an_output(backend, rng):
    e = gc.exp(X) * 2.0
    y = (e + 1.0) @ W  # the kernel's result and e, read again below, leave the group
    z = gc.tanh(e) * y.sum()
    f = same_results([X, W], [y, z], [rng.normal(size=(3, 4)), rng.normal(size=(4, 4))], backend)
    first = fused_nodes(f.optimized)[0]
    assert len(first.outputs) == 2  # e + 1 (read by the matmul) and e (read by tanh, in another kernel)
    assert not adjacent_unfused(f.optimized)
    check_kernel_shapes(f.optimized)


def test_sibling_consumers_join_one_kernel(backend, rng):
    e = gc.exp(X)
    f = same_results([X], [e * 2.0, e + 1.0, gc.sqrt(e)], [rng.normal(size=(2, 4))], backend)
    (node,) = f.optimized.nodes
    assert node.op is Op.FUSED and len(node.outputs) == 3


def test_groups_never_make_cycles(backend, rng):
    """b -> transpose -> c and b -> c: fusing b with c would make the kernel wait for itself."""
    x = gc.tensor("x", (4, 4))
    b = gc.exp(x) + 1.0
    c = (b * gc.transpose(b)) - 2.0
    f = same_results([x], c, [rng.normal(size=(4, 4))], backend)
    kernels = fused_nodes(f.optimized)
    assert len(kernels) == 2  # {exp, add} and {mul, sub}, with the transpose between them
    transpose = next(n for n in f.optimized.nodes if n.op is Op.TRANSPOSE)
    assert transpose.inputs[0].owner is kernels[0] and kernels[1].inputs[0].owner is kernels[0]


def test_a_long_detour_is_found(backend, rng):
    """The path that leaves the group and comes back goes through several non-elementwise nodes."""
    x = gc.tensor("x", (4, 4))
    a = gc.exp(x)
    detour = gc.transpose(gc.reshape(gc.transpose(a)[::-1], (16,))[::-1].reshape((4, 4)))
    y = gc.sin(a) * detour
    f = same_results([x], y, [rng.normal(size=(4, 4))], backend)
    (kernel,) = fused_nodes(f.optimized)  # {exp, sin}; the mul waits for the detour, so it cannot join
    ops = [i.op for i in kernel.params["kernel"].instrs]
    assert Op.EXP in ops and Op.MUL not in ops and Op.MUL in [n.op for n in f.optimized.nodes]


def test_smaller_intermediates_are_internal_only(backend, rng):
    s = B * 2.0 + 1.0  # shape (4,): may live inside an (n, 4) kernel only if nothing else reads it
    inside = same_results([X, B], gc.exp(X) * s, [rng.normal(size=(3, 4)), rng.normal(size=4)], backend)
    (node,) = inside.optimized.nodes
    assert node.op is Op.FUSED and node.inputs == (X, B)
    outside = same_results([X, B], [gc.exp(X) * s, s], [rng.normal(size=(3, 4)), rng.normal(size=4)], backend)
    check_kernel_shapes(outside.optimized)
    small, big = sorted(fused_nodes(outside.optimized), key=lambda n: len(n.outputs[0].type.shape))
    assert small.outputs[0].type.shape == (4,) and big.inputs == (X, small.outputs[0])


def test_trailing_reductions(backend, rng):
    y = gc.sum(gc.exp(X) * B, axis=1)
    m = gc.max(gc.tanh(X) + 1.0, axis=0, keepdims=True)
    f = same_results([X, B], [y, m], [rng.normal(size=(3, 4)), rng.normal(size=4)], backend)
    kernels = fused_nodes(f.optimized)
    # Both read X, but they stay two loops: the max over axis 0 cannot be split across threads, exp(X) can.
    assert len(kernels) == 2 and len(f.optimized.nodes) == 2
    reductions = sorted(
        (k.params["kernel"].reductions[0][0].value, k.params["kernel"].reductions[0][1:]) for k in kernels
    )
    assert reductions == [("max", ((0,), True)), ("sum", ((1,), False))]
    # Without exp and tanh they are siblings of plain arithmetic, merged into one loop.
    f = same_results([X, B], [gc.sum(X * B, axis=1), gc.max(X + 1.0, axis=0, keepdims=True)],
                     [rng.normal(size=(3, 4)), rng.normal(size=4)], backend)  # fmt: skip
    (kernel,) = fused_nodes(f.optimized)
    assert {"sibling_kernels": 1, "trailing_reduction": 2}.items() <= f.reports[-2].rewrites.items()


def test_siblings_merge_only_without_a_path_between_them(backend, rng):
    """Σ W² (the weight decay) and W's update both read W: one loop. A kernel that reads another's result
    (a path between them) stays apart: merging would make a cycle."""
    w = gc.shared(rng.normal(size=(3, 4)), name="W")
    g = gc.tensor("g", (3, 4))
    decay = (w * w).sum()
    f = gc.function([g], decay, updates={w: w - 0.1 * (g + 2e-4 * w)}, backend=backend)
    (kernel,) = fused_nodes(f.optimized)
    assert kernel.params["kernel"].reductions.count(None) == 1
    gv, w0 = rng.normal(size=(3, 4)), w.get_value()
    np.testing.assert_allclose(f(gv), (w0 * w0).sum(), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * (gv + 2e-4 * w0), rtol=1e-12)
    # exp(X) is reduced, and the reduction scales tanh(X): a path from one kernel to the other
    s = gc.sum(gc.exp(X), axis=1, keepdims=True)
    h = gc.tanh(X) * s
    f2 = same_results([X], [h], [rng.normal(size=(3, 4))], backend)
    assert len(fused_nodes(f2.optimized)) == 2


def test_reductions_that_cannot_trail(backend, rng):
    i = gc.tensor("i", (3, 4), dtype="int32")
    y = gc.sum(i * 2, axis=1)  # int32 sums to int64: the kernel's output would change dtype
    z = gc.mean(gc.exp(X) * 2.0, axis=1)  # MEAN is not a kernel reduction
    s = gc.sum(gc.exp(X) * 2.0, axis=1, keepdims=True)
    u = gc.exp(s) + X  # a reduced value read inside the same elementwise region is a kernel input, not a loop
    f = same_results(
        [i, X], [y, z, u], [rng.integers(-3, 3, (3, 4)).astype("int32"), rng.normal(size=(3, 4))], backend
    )
    ops = [n.op for n in f.optimized.nodes]
    assert Op.SUM in ops and Op.MEAN in ops
    check_kernel_shapes(f.optimized)


def test_single_nodes_stay_plain():
    graph, fired = fuse_elementwise(FunctionGraph([X], [gc.exp(X) @ W]))
    assert fired == {} and [n.op for n in graph.nodes] == [Op.EXP, Op.MATMUL]


def test_fused_kernels_are_shape_polymorphic(backend, rng):
    f = gc.function([X, B], gc.sum(gc.exp(X) * B + 1.0, axis=1), backend=backend)
    for n in (1, 5, 17):
        x, b = rng.normal(size=(n, 4)), rng.normal(size=4)
        np.testing.assert_allclose(f(x, b), (np.exp(x) * b + 1.0).sum(axis=1))


def test_float32_kernels_stay_float32(backend, rng):
    x = gc.tensor("x", ("n", 4), dtype="float32")
    f = gc.function([x], gc.sum(gc.tanh(x) * 0.5 + 1.0, axis=1), backend=backend)
    kernel = fused_nodes(f.optimized)[0].params["kernel"]
    assert all(i.dtype == "float32" for i in kernel.instrs)
    arg = rng.normal(size=(3, 4)).astype("float32")
    got = f(arg)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (np.tanh(arg) * 0.5 + 1.0).sum(axis=1), rtol=1e-6)


def test_numpy_lowering_is_one_block_reusing_buffers(rng):
    f = gc.function([X], gc.exp(X) * 2.0 + gc.sin(X) - 3.0)
    (node,) = f.optimized.nodes
    assert node.op is Op.FUSED
    assert "out=" in f.source and f.source.count("# fused") == 1


def test_user_elementwise_functions_fuse(backend, rng):
    import sympy

    swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    f = same_results([X], swish(X * 2.0) + 1.0, [rng.normal(size=(3, 4))], backend)
    (node,) = f.optimized.nodes
    assert Op.SCALAR_FN in [i.op for i in node.params["kernel"].instrs]


def _mlp_by_hand():
    """Fig. 6.11's MLP (no biases) with its gradient written out by hand (Alg. 6.4), as gc.grad makes it."""
    x = gc.tensor("X", ("n", 5))
    t = gc.tensor("T", ("n", 3))
    w1 = gc.shared(np.linspace(-1, 1, 20).reshape(5, 4), name="W1")
    w2 = gc.shared(np.linspace(1, -1, 12).reshape(4, 3), name="W2")
    lam = 1e-2
    u1 = x @ w1
    h = gc.relu(u1)
    u2 = h @ w2
    nll = -gc.sum(t * gc.log_softmax(u2)) / 4.0
    cost = nll + lam * (gc.sum(gc.square(w1)) + gc.sum(gc.square(w2)))
    g_u2 = (gc.softmax(u2) - t) / 4.0
    g_w2 = h.T @ g_u2 + 2.0 * lam * w2
    g_h = g_u2 @ w2.T
    g_u1 = gc.where(u1 > 0.0, g_h, 0.0 * g_h)
    g_w1 = x.T @ g_u1 + 2.0 * lam * w1
    return [x, t], cost, {w1: w1 - 0.1 * g_w1, w2: w2 - 0.1 * g_w2}


def test_mlp_by_hand_fuses_and_matches(backend, rng):
    inputs, cost, updates = _mlp_by_hand()
    args = [rng.normal(size=(4, 5)), np.eye(3)[rng.integers(0, 3, 4)]]
    start = {w: w.get_value() for w in updates}
    plain = gc.function(inputs, cost, updates=updates, backend="interp", optimize="none")
    want = plain(*args)
    want_w = {w: w.get_value() for w in updates}
    for w, v in start.items():
        w.set_value(v)
    f = gc.function(inputs, cost, updates=updates, backend=backend)
    np.testing.assert_allclose(f(*args), want, rtol=1e-12)
    for w in updates:
        np.testing.assert_allclose(w.get_value(), want_w[w], rtol=1e-12)
    assert not adjacent_unfused(f.optimized)
    check_kernel_shapes(f.optimized)
    assert fused_nodes(f.optimized)
    report = f.report()
    assert "fusion" in report and "fused_kernel" in report


@pytest.mark.parametrize("blocks", [1, 4])
def test_deep_elementwise_chains_fuse_without_recursion(blocks):
    y = X
    for _ in range(500 * blocks):
        y = gc.tanh(y) * 0.9 + 0.01
    graph, fired = fuse_elementwise(FunctionGraph([X], [y]))
    kernels = -(-1500 * blocks // fusion.MAX_KERNEL_NODES)  # a chain longer than the cap is cut
    assert [n.op for n in graph.nodes] == [Op.FUSED] * kernels and fired["fused_node"] == 1500 * blocks


def test_a_kernel_of_constants_only(backend):
    """Without constant folding a kernel may read no input at all: its iteration shape is ()."""
    v = gc.vector("v")
    f = gc.function(
        [v], [gc.exp(gc.constant(2.0)) + 1.0, v * 2.0 + 1.0], optimize=[fuse_elementwise], backend=backend
    )
    assert [n.op for n in f.optimized.nodes] == [Op.FUSED, Op.FUSED]
    a, b = f(np.ones(3))
    np.testing.assert_allclose(a, np.exp(2.0) + 1.0)
    np.testing.assert_allclose(b, [3.0, 3.0, 3.0])


def _fig_6_11():
    """Fig. 6.11: U1 = X W1, H = relu(U1), U2 = H W2, J = cross_entropy(U2, y) + λ(Σ sqr(W1) + Σ sqr(W2))."""
    x = gc.tensor("X", ("n", 5))
    y = gc.tensor("y", ("n", 3))
    w1 = gc.shared(np.linspace(-1, 1, 20).reshape(5, 4), name="W1")
    w2 = gc.shared(np.linspace(1, -1, 12).reshape(4, 3), name="W2")
    u1 = gc.matmul(x, w1)
    h = gc.relu(u1)
    u2 = gc.matmul(h, w2)
    j_mle = gc.mean(-gc.sum(y * gc.log(gc.softmax(u2)), axis=1))
    j = j_mle + 1e-2 * (gc.sum(gc.square(w1)) + gc.sum(gc.square(w2)))
    g1, g2 = gc.grad(j, [w1, w2])
    return [x, y], [j, g1, g2], (w1, w2)


def test_fig_6_11_mlp_with_its_gradient(backend, rng):
    inputs, outputs, _ = _fig_6_11()
    args = [rng.normal(size=(6, 5)), np.eye(3)[rng.integers(0, 3, 6)]]
    want = gc.function(inputs, outputs, backend="interp", optimize="none")(*args)
    f = gc.function(inputs, outputs, backend=backend)
    for got, ref in zip(f(*args), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    report = f.report()
    lines = {line.split()[0]: line.split() for line in report.splitlines()}
    assert list(lines) == ["canonicalize", "constant_fold", "stabilize", "cse", "loops", "fusion", "dce"]
    for r in f.reports:  # nodes before and after each pass, as the report prints them
        assert lines[r.name][1:4] == [str(r.nodes_before), "->", str(r.nodes_after)]
    counts = {r.name: (r.nodes_before, r.nodes_after) for r in f.reports}
    assert counts["fusion"][1] < counts["fusion"][0] and counts["canonicalize"][0] == len(f.fgraph.nodes)
    assert "local_log_softmax" in report
    assert not adjacent_unfused(f.optimized)
    check_kernel_shapes(f.optimized)


def test_after_cse_the_backward_graph_shares_forward_values():
    inputs, outputs, (w1, _) = _fig_6_11()
    f = gc.function(inputs, outputs)
    graph = dict(f.stages)["cse"]
    keys = [(n.op, n.param_key, tuple(id(v) for v in n.inputs)) for n in graph.nodes]
    assert len(keys) == len(set(keys))  # no two structurally equal nodes are left
    assert any(k.startswith("merge_") for k in f.reports[3].rewrites)  # and gc.grad had made some
    # relu's gradient reads the forward U1 = X W1 itself, not a recomputed copy
    (u1,) = [n for n in graph.nodes if n.op is Op.MATMUL and w1 in n.inputs]
    mask = [n for n in graph.nodes if n.op is Op.GT]
    assert mask and all(n.inputs[0] is u1.outputs[0] for n in mask)


def _chain_with_side_reads(steps: int) -> FunctionGraph:
    """One long elementwise chain whose every value is also reduced and every 7th also transposed: a single
    group that collects thousands of reductions, outputs and outside readers."""
    y, outs = X, []
    for i in range(steps):
        y = gc.tanh(y) * 0.9
        outs.append(gc.sum(y, axis=1))
        if i % 7 == 0:
            outs.append(gc.transpose(y))
    return FunctionGraph([X], [y, *outs])


def test_fusion_scales_linearly_on_one_huge_group(monkeypatch):
    """Merging, cycle checks and reduction bookkeeping stay n log n when one group gets huge."""
    import time

    monkeypatch.setattr(fusion, "MAX_KERNEL_NODES", 10**9)  # the algorithm, without the backend's cap
    graphs = {steps: _chain_with_side_reads(steps) for steps in (1000, 4000)}
    best = dict.fromkeys(graphs, float("inf"))
    for _ in range(2):
        for steps, graph in graphs.items():
            assert len(graph.nodes) > 3 * steps  # the toposort, outside the timing
            start = time.perf_counter()  # through the pass manager: it pauses Python's cyclic GC
            fused, (report,) = run_pipeline(graph, [("fusion", fuse_elementwise)])
            best[steps] = min(best[steps], time.perf_counter() - start)
            assert report.rewrites == {
                "fused_kernel": 1,
                "fused_node": 2 * steps,
                "trailing_reduction": steps,
            }
    assert best[4000] / best[1000] < 9, best


def test_one_huge_group_computes_the_same(backend, rng):
    graph = _chain_with_side_reads(30)
    arg = rng.normal(size=(3, 4))
    want = gc.function([X], graph.outputs, backend="interp", optimize="none")(arg)
    f = gc.function([X], graph.outputs, backend=backend)
    assert len(fused_nodes(f.optimized)) == 1
    for got, ref in zip(f(arg), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_a_group_stops_growing_at_the_kernel_size_cap(backend, rng, monkeypatch):
    """Past MAX_KERNEL_NODES a chain is cut into several kernels (LLVM compiles huge bodies superlinearly)."""
    monkeypatch.setattr(fusion, "MAX_KERNEL_NODES", 50)
    y = X
    for _ in range(60):
        y = gc.tanh(y) * 0.9  # 120 elementwise nodes in one chain
    f = gc.function([X], y, backend=backend)
    kernels = fused_nodes(f.optimized)
    assert len(kernels) == 3
    assert all(sum(i.op is not None for i in k.params["kernel"].instrs) <= 50 for k in kernels)
    assert not adjacent_unfused(f.optimized)
    arg = rng.normal(size=(3, 4))
    want = gc.function([X], y, backend="interp", optimize="none")(arg)
    np.testing.assert_allclose(f(arg), want, rtol=1e-12)


def test_sibling_search_stays_linear():
    """Thousands of kernels read X, each also the previous one's result (a path between every two): the
    search tries a bounded number of siblings per kernel, with a bounded path search each."""
    import time

    def chain(steps: int) -> FunctionGraph:
        s = gc.sum(gc.exp(X), axis=1, keepdims=True)
        for _ in range(steps):
            s = gc.sum(gc.exp(X) * s, axis=1, keepdims=True)
        return FunctionGraph([X], [s])

    graphs = {steps: chain(steps) for steps in (500, 2000)}
    best = dict.fromkeys(graphs, float("inf"))
    for _ in range(2):
        for steps, graph in graphs.items():
            assert len(graph.nodes) >= 3 * steps  # the toposort, outside the timing
            start = time.perf_counter()
            fused, (report,) = run_pipeline(graph, [("fusion", fuse_elementwise)])
            best[steps] = min(best[steps], time.perf_counter() - start)
            assert report.rewrites["fused_kernel"] == steps + 1 and "sibling_kernels" not in report.rewrites
    assert best[2000] / best[500] < 9, best
