"""Constant folding, CSE and DCE, and the pass manager: its report and stages, custom pipelines, and a scaling
test that would catch a quadratic pass. (The rule tables: test_canonicalize.py, test_stabilize.py.)"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
from pass_helpers import V, X, arrays_for, ops_of

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant
from graphc.kernel import Instr, Kernel
from graphc.ops import Op
from graphc.passes.cse import cse
from graphc.passes.dce import dce
from graphc.passes.fold import MAX_FOLD_ELEMENTS, constant_fold
from graphc.passes.manager import fast_pipeline, run_pipeline


# --- constant folding ---------------------------------------------------------------------------------------
def test_fold_constant_subexpressions(backend, rng):
    c = gc.constant(np.arange(6.0).reshape(2, 3))
    y = X * gc.exp(c).sum(axis=0) + gc.log(gc.constant(2.0)) * 3.0
    graph, fired = constant_fold(FunctionGraph([X], [y]))
    assert fired == {"fold_exp": 1, "fold_sum": 1, "fold_log": 1, "fold_mul": 1}
    assert ops_of(graph) == [Op.MUL, Op.ADD]
    args = arrays_for([X], rng)
    want = args[0] * np.exp(np.arange(6.0).reshape(2, 3)).sum(axis=0) + np.log(2.0) * 3.0
    np.testing.assert_allclose(gc.function([X], y, backend=backend)(*args), want)


def test_fold_is_bounded():
    big = gc.constant(np.ones(MAX_FOLD_ELEMENTS + 1))
    assert constant_fold(FunctionGraph([], [gc.exp(big)]))[1] == {}
    grown = gc.broadcast_to(gc.constant(0.0), (1000, 1000))  # a scalar must not become a megabyte constant
    assert constant_fold(FunctionGraph([], [grown]))[1] == {}
    small = gc.broadcast_to(gc.constant(0.0), (4, 4))
    assert constant_fold(FunctionGraph([], [small]))[1] == {"fold_broadcast_to": 1}


def test_fold_never_samples_random_numbers():
    noise = gc.graph.apply(
        Op.RANDOM_UNIFORM, [gc.constant(np.int64(3))], shape=(2, 3), seed=7, dtype=np.dtype("f8")
    )
    graph, fired = constant_fold(FunctionGraph([], [noise * 2.0]))
    assert fired == {} and [n.op for n in graph.nodes] == [Op.RANDOM_UNIFORM, Op.MUL]


def test_fold_keeps_symbolic_shapes():
    y = gc.broadcast_to(gc.constant(1.0), ("n", 3)) + X
    assert constant_fold(FunctionGraph([X], [y]))[1] == {}


# --- CSE ----------------------------------------------------------------------------------------------------
def test_cse_merges_equal_nodes_and_constants(backend, rng):
    a = gc.exp(X) * 2.0
    b = gc.exp(X) * 2.0  # the same expression built twice: two exp, two mul, two constants
    c = gc.tanh(X) + gc.sigmoid(X)
    d = gc.sigmoid(X) + gc.tanh(X)  # commutative: the same value
    graph, fired = cse(FunctionGraph([X], [a + b + c * d]))
    assert fired["merge_exp"] == 1 and fired["merge_mul"] == 1 and fired["merge_add"] == 1
    assert Counter(ops_of(graph)) == Counter({Op.EXP: 1, Op.TANH: 1, Op.SIGMOID: 1, Op.MUL: 2, Op.ADD: 3})
    args = arrays_for([X], rng)
    np.testing.assert_allclose(
        gc.function([X], a + b + c * d, backend=backend)(*args),
        gc.function([X], a + b + c * d, backend="interp", optimize="none")(*args),
    )


def test_cse_respects_params_and_constant_values():
    s0, s1 = gc.sum(X, axis=0), gc.sum(X, axis=1)
    assert cse(FunctionGraph([X], [s0, s1]))[1] == {}
    assert cse(FunctionGraph([X], [X * 2.0, X * 3.0]))[1] == {}
    assert cse(FunctionGraph([X], [X * 0.0, X * -0.0]))[1] == {}  # 0.0 and -0.0 are different constants
    f32 = gc.tensor("g", (3,), dtype="float32")
    assert cse(FunctionGraph([f32], [f32 * np.float32(2), f32 * np.float32(2)]))[1] == {"merge_mul": 1}
    big = [gc.constant(np.arange(3.0)) for _ in range(2)]  # equal array constants become one object
    graph, fired = cse(FunctionGraph([V], [V * big[0], V + big[1]]))
    assert (
        fired == {"merge_constant": 1}
        and graph.outputs[0].owner.inputs[1] is graph.outputs[1].owner.inputs[1]
    )


def test_cse_tells_user_functions_apart_by_argument_order(backend):
    """f(x, y) = x - y and g(y, x) = x - y share a name and an expression but are different functions."""
    f = gc.elementwise("f", lambda x, y: x - y)
    g = gc.elementwise("f", lambda y, x: x - y)
    same = gc.elementwise("f", lambda x, y: x - y)
    a, b = gc.vector("a", 3), gc.vector("b", 3)
    assert cse(FunctionGraph([a, b], [f(a, b), g(a, b)]))[1] == {}
    assert cse(FunctionGraph([a, b], [f(a, b), same(a, b)]))[1] == {"merge_scalar_fn": 1}
    got = gc.function([a, b], [f(a, b), g(a, b)], backend=backend)(np.arange(3.0), np.zeros(3))
    np.testing.assert_array_equal(got[0], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(got[1], [-0.0, -1.0, -2.0])


def test_cse_makes_the_backward_graph_reuse_forward_values():
    """Fig. 6.9: z = f(f(f(w))) with f = exp; a gradient written as the book's recomputing form
    f'(f(f(w))) f'(f(w)) f'(w) shares x = f(w) and y = f(x) with the forward pass after CSE."""
    w = gc.vector("w")
    z = gc.exp(gc.exp(gc.exp(w)))
    dz = gc.exp(gc.exp(gc.exp(w))) * gc.exp(gc.exp(w)) * gc.exp(w)  # recomputes, as a naive backprop would
    graph, fired = cse(FunctionGraph([w], [z, dz]))
    assert fired == {"merge_exp": 6}
    assert sum(1 for n in graph.nodes if n.op is Op.EXP) == 3
    z_new, dz_new = graph.outputs
    assert dz_new.owner.inputs[0].owner.inputs[0] is z_new  # f'(y) = exp(y) is the forward z itself


# --- DCE ----------------------------------------------------------------------------------------------------
def test_dce_drops_noop_updates_and_unread_kernel_outputs(backend, rng):
    s = gc.shared(np.ones(3), name="s")
    t = gc.shared(np.ones(3), name="t")
    kernel = Kernel(
        ("float64",),
        (
            Instr(Op.EXP, (0,), (), "float64"),
            Instr(Op.TANH, (0,), (), "float64"),
            Instr(Op.NEG, (2,), (), "float64"),
        ),
        (1, 3),
        (None, None),
    )
    e, unread = gc.graph.apply(Op.FUSED, [V], kernel=kernel)
    graph, fired = dce(FunctionGraph([V], [e], [(s, s), (t, t + e)]))
    assert fired == {"noop_update": 1, "dead_kernel_output": 1, "dead_kernel_instr": 2}
    (node, _) = graph.nodes
    assert node.params["kernel"].instrs == (Instr(Op.EXP, (0,), (), "float64"),)
    assert [var for var, _ in graph.updates] == [t]
    f = gc.function([V], e, updates={s: s, t: t + e}, backend=backend, optimize=[dce])
    arg = arrays_for([V], rng)[0]
    np.testing.assert_allclose(f(arg), np.exp(arg))
    np.testing.assert_allclose(t.get_value(), 1 + np.exp(arg))
    np.testing.assert_allclose(s.get_value(), np.ones(3))
    del unread


# --- the pass manager ---------------------------------------------------------------------------------------
def test_report_stages_and_custom_pipelines():
    y = gc.log(gc.softmax(X * 1.0)) + gc.exp(X) * 2.0
    f = gc.function([X], y)
    text = f.report()
    names = [name for name, _ in fast_pipeline()]
    assert [r.name for r in f.reports] == names
    for line, r in zip(text.splitlines(), f.reports, strict=True):
        assert line.split()[:4] == [r.name, str(r.nodes_before), "->", str(r.nodes_after)]
    assert "local_log_softmax×1" in text and "local_mul_one×1" in text
    stages = f.stages
    assert [name for name, _ in stages] == ["input", *names]
    assert stages[0][1] is f.fgraph and stages[-1][1] is f.optimized
    assert any(n.op is Op.FUSED for n in dict(stages)["fusion"].nodes)
    assert not any(n.op is Op.FUSED for n in dict(stages)["cse"].nodes)
    custom = gc.function([X], y, optimize=["canonicalize", cse])
    assert [r.name for r in custom.reports] == ["canonicalize", "cse"]
    assert gc.function([X], y, optimize="none").report() == "no passes ran"
    with pytest.raises(gc.GraphcError, match="unknown pass 'nope'"):
        gc.function([X], y, optimize=["nope"])
    with pytest.raises(gc.GraphcError, match="unknown optimize level"):
        gc.function([X], y, optimize="fastest")


def test_passes_never_mutate_the_users_graph():
    y = gc.log(gc.softmax(X * 1.0)) + gc.exp(X) * 2.0
    before = [(n.op, n.inputs) for n in FunctionGraph([X], [y]).nodes]
    gc.function([X], y)
    assert [(n.op, n.inputs) for n in FunctionGraph([X], [y]).nodes] == before


def _wide_graph(blocks: int) -> FunctionGraph:
    """A graph that exercises every pass, `blocks` times (18 nodes per block before optimisation)."""
    x = gc.tensor("x", ("n", 8))
    w = gc.shared(np.eye(8) * 0.5, name="W")
    h = x
    for _ in range(blocks):
        a = (h * 1.0 + 0.0) * 2.0 * 0.5
        b = gc.tanh(a) + gc.exp(a) * 0.01
        c = gc.log(gc.softmax(b @ w))
        d = gc.exp(gc.log(gc.exp(c) + 1.0)) + gc.exp(gc.log(gc.exp(c) + 1.0)) + c
        h = d - (gc.sum(d, axis=1, keepdims=True) ** 2.0) * 1e-3
    return FunctionGraph([x], [h.sum()])


def test_pipeline_scales_linearly():
    """4x the nodes must cost well under 16x the time (a quadratic pass); the ratio is ~4 when linear.
    Small and large runs alternate and the best of each counts: a burst of load elsewhere cannot fake it."""
    graphs = {150: _wide_graph(150), 600: _wide_graph(600)}
    best = dict.fromkeys(graphs, float("inf"))
    for _ in range(2):
        for blocks, graph in graphs.items():
            start = time.perf_counter()
            _, reports = run_pipeline(graph, "fast")
            best[blocks] = min(best[blocks], time.perf_counter() - start)
            fired = {k for r in reports for k in r.rewrites}
            assert {"local_log_softmax", "local_mul_one", "fused_kernel"} <= fired
    assert len(graphs[600].nodes) > 10_000
    assert best[600] / best[150] < 9, best


def test_optimized_results_match_on_the_wide_graph(backend, rng):
    graph = _wide_graph(3)
    args = [rng.uniform(-1, 1, (4, 8))]
    want = gc.function(graph.inputs, graph.outputs[0], backend="interp", optimize="none")(*args)
    got = gc.function(graph.inputs, graph.outputs[0], backend=backend)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_constant_outputs_are_owned_copies(backend):
    f = gc.function([X], [X * 2.0, gc.exp(gc.constant(np.zeros(3)))], backend=backend)
    _, c = f(np.ones((2, 3)))
    c[0] = 5.0  # a folded constant must not be handed out by reference
    np.testing.assert_allclose(f(np.ones((2, 3)))[1], np.ones(3))
    assert isinstance(f.optimized.outputs[1], Constant)
