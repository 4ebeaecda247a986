"""Fusion never makes a cycle of kernels (issue 17): units merge through passes/contraction.py, which checks
paths between *units*; the walk that orders units for the rebuild fails loudly on a cycle instead of growing
its stack forever. The Contraction is checked against networkx on random graphs: a merge is accepted exactly
when the contracted graph stays acyclic."""

from __future__ import annotations

import signal
import types
from contextlib import contextmanager

import networkx as nx
import numpy as np
import pytest
from fuzz.programs import cost_of, generate, graphc_graph
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.passes import fusion
from graphc.passes.contraction import Contraction
from graphc.passes.grouping import Grouping
from graphc.passes.manager import run_pipeline


def unoptimised_and_fast(inputs, outputs, args, backend):
    want = gc.function(inputs, outputs, backend="interp", optimize="none")(*args)
    got = gc.function(inputs, outputs, backend=backend)(*args)
    pairs = zip(
        got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,), strict=True
    )
    for g, w in pairs:
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_the_17_node_gradient_of_issue_17_compiles(backend):
    """Grouping lost track of a reader when a merge was refused, and two groups fed each other through a
    third: the unit walk then grew without end (many GB)."""
    x = gc.scalar("x")
    c = gc.vector("c", "n", "bool")
    J = gc.softplus(gc.softplus(x) + 0.5) + gc.sum(gc.softplus(gc.where(c, gc.softplus(x), 0.0)))
    unoptimised_and_fast([x, c], gc.grad(J, x), [np.array(0.3), np.array([True, False, True])], backend)


def test_a_path_that_enters_a_group_late_and_leaves_it_early(backend):
    """{exp(x), exp(x) * r} is a group; r = tanh(w) @ tanh(w) reads the group {tanh(w), tanh(w) + p} and
    p = exp(x) @ exp(x) feeds it: no path between *nodes* comes back into either group, but the groups and
    the two products form a cycle."""
    x, w = gc.vector("x", "n"), gc.vector("w", "n")
    a, q = gc.exp(x), gc.tanh(w)
    outputs = [a * (q @ q), q + a @ a]
    unoptimised_and_fast([x, w], outputs, [np.array([0.1, -0.2]), np.array([0.3, 0.5])], backend)


def test_two_sibling_pairs_never_make_a_cycle_together(backend):
    """(a1, b1) read X and (a2, b2) read Y, each pair without a path inside it; but a1 -> b2 and a2 -> b1 go
    through transposes, so merging both pairs would make two kernels wait for each other."""
    X, Y = gc.tensor("X", (3, 3)), gc.tensor("Y", (3, 3))
    a1, a2 = gc.exp(X) * 2.0, gc.exp(Y) * 3.0
    outputs = [gc.tanh(X) + gc.transpose(a2), gc.tanh(Y) + gc.transpose(a1)]
    rng = np.random.default_rng(0)
    unoptimised_and_fast([X, Y], outputs, [rng.normal(size=(3, 3)), rng.normal(size=(3, 3))], backend)
    f = gc.function([X, Y], outputs, backend="interp")
    assert f.reports[-2].rewrites.get("sibling_kernels") == 1  # one pair merged, not both


def test_a_cycle_of_units_is_a_graph_error_naming_them():
    """The rebuild's unit walk checks what it follows: a cycle is an error naming the nodes, never a hang."""
    x = gc.tensor("x", (2, 2))
    a = gc.exp(x)
    t = gc.transpose(a)
    c = a * t
    unit = types.SimpleNamespace(inputs=[x, t], outputs=[a, c], origin=None)  # {exp, mul}: reads t, feeds t
    unit_of = {id(a.owner): unit, id(c.owner): unit}
    with pytest.raises(gc.GraphError, match=r"cycle of kernels.*transpose"):
        fusion._units_in_order(FunctionGraph([x], [c]), unit_of)


@st.composite
def dags_and_merges(draw):
    """A random DAG (each node reads up to 3 earlier ones) and a sequence of merge attempts."""
    n = draw(st.integers(2, 14))
    edges = {(i, j) for j in range(1, n) for i in draw(st.sets(st.integers(0, j - 1), max_size=3))}
    attempts = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=12)
    )
    return n, edges, attempts


def _contracted(n: int, edges: set, unit_of) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from({unit_of(i) for i in range(n)})
    graph.add_edges_from((unit_of(i), unit_of(j)) for i, j in edges if unit_of(i) != unit_of(j))
    return graph


@settings(max_examples=300, deadline=None)
@given(dags_and_merges())
def test_contraction_merges_exactly_when_the_units_stay_acyclic(case):
    n, edges, attempts = case
    nodes: list = []
    for j in range(n):  # stand-ins for Nodes: the Contraction reads `inputs` and each input's `owner`
        reads = [types.SimpleNamespace(owner=nodes[i]) for i in range(j) if (i, j) in edges]
        nodes.append(types.SimpleNamespace(inputs=reads))
    units = Contraction()
    for index, node in enumerate(nodes):
        units.add(node, (index,))

    def unit_of(i: int) -> int:
        return units.find(id(nodes[i]))

    for i, j, adjacent in attempts:
        a, b = unit_of(i), unit_of(j)
        if a == b:
            continue
        trial = nx.contracted_nodes(_contracted(n, edges, unit_of), a, b, self_loops=False)
        direct = any(
            unit_of(p) in (a, b) and unit_of(q) in (a, b) for p, q in edges if unit_of(p) != unit_of(q)
        )
        allowed = nx.is_directed_acyclic_graph(trial) and (adjacent or not direct)
        assert (units.merge(a, b, adjacent) is not None) == allowed
        contracted = _contracted(n, edges, unit_of)
        assert nx.is_directed_acyclic_graph(contracted)
        for p, q in contracted.edges:  # the ranks stay a topological order of the units
            assert units.rank[p] < units.rank[q]


def test_a_rebuild_over_units_out_of_order_is_a_graph_error():
    """A unit before the one making its input would silently read the old value: refused."""
    x = gc.tensor("x", (2, 2))
    a = gc.exp(x)
    c = a * gc.transpose(a)
    graph = FunctionGraph([x], [c])
    with pytest.raises(gc.GraphError, match="comes before the unit that makes one of its inputs"):
        graph.rebuild(lambda node, inputs: None, order=list(reversed(graph.nodes)))
    assert graph.rebuild(lambda node, inputs: None, order=graph.nodes).outputs == [c]


# --- the class of inputs: random graphs with where, reductions, shared subexpressions and gradients ---------
@contextmanager
def time_limit(seconds: int):
    """A pass that does not end is a failure here, not a hung test run (POSIX alarm)."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _units_are_acyclic(graph: FunctionGraph) -> None:
    """The oracle: the graph with each fusion group contracted to one vertex has no cycle (networkx)."""
    grouping = Grouping(graph, fusion.MAX_KERNEL_NODES)
    grouping.run()
    contracted = nx.DiGraph()
    for node in graph.nodes:
        contracted.add_node(grouping.find(id(node)))
        for v in node.inputs:
            if v.owner is not None and grouping.find(id(v.owner)) != grouping.find(id(node)):
                contracted.add_edge(grouping.find(id(v.owner)), grouping.find(id(node)))
    assert nx.is_directed_acyclic_graph(contracted), nx.find_cycle(contracted)


@pytest.mark.parametrize("first", range(0, 160, 40))
def test_random_graphs_fuse_into_acyclic_kernels(first: int) -> None:
    """The fuzzer's programs (where, reductions, values used many times), each with its gradient: every pass
    ends, every stage is acyclic (networkx on gc.to_networkx), and so are the groups fusion would make."""
    for seed in range(first, first + 40):
        program = generate(seed)
        inputs, outputs = graphc_graph(program)
        floats = [v for v in inputs if v.type.dtype.kind == "f"]
        if not program.grad and floats:  # the backward graph too: it shares the forward values
            cost = cost_of(program, gc, outputs)
            outputs = [*outputs, *gc.grad(cost, floats, disconnected="zero")]
        graph = FunctionGraph(inputs, outputs)
        with time_limit(30):
            _units_are_acyclic(run_pipeline(graph, ["canonicalize", "constant_fold", "stabilize", "cse"])[0])
            f = gc.function(inputs, outputs, backend="interp")
        for name, stage in f.stages:
            assert nx.is_directed_acyclic_graph(gc.to_networkx(stage)), (seed, name)
