"""Property: random elementwise/reduction graphs give the same results with optimize="none" and "fast" on
every backend. Rewrites may turn an overflow or a NaN into the right finite value (that is what stabilising
is for), never the reverse: where the unoptimised result is finite, the optimised one must be finite and
close."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.graph import toposort
from graphc.passes.autodiff import on_a_path

SHAPES = [(3, 4), (4,), (3, 1), ()]
CONSTANTS = [0.0, 1.0, 2.0, 0.5, -1.0]
UNARY = {
    "neg": gc.neg,
    "exp": gc.exp,
    "log": lambda v: gc.log(gc.abs(v) + 1.0),
    "raw_log": gc.log,  # NaN for negative inputs: exp(log x) -> x may make it finite, which is allowed
    "tanh": gc.tanh,
    "sigmoid": gc.sigmoid,
    "softplus": gc.softplus,
    "relu": gc.relu,
    "sqrt": lambda v: gc.sqrt(gc.abs(v)),
    "square": gc.square,
    "log1p_exp": lambda v: gc.log(1.0 + gc.exp(v)),
    "log_sigmoid": lambda v: gc.log(gc.sigmoid(v)),
    "expm1": lambda v: gc.exp(v) - 1.0,
}
BINARY = {
    "add": gc.add,
    "sub": gc.sub,
    "mul": gc.mul,
    "div": lambda a, b: a / (gc.abs(b) + 1.0),
    "maximum": gc.maximum,
    "minimum": gc.minimum,
    "where": lambda a, b: gc.where(a > b, a, b * 2.0),
}
POWERS = [0.5, 1.0, 2.0, 3.0, -1.0, -2.0]


def _reduce(kind: str, v):
    if v.type.ndim != 2:
        return gc.sum(v) if kind != "max" else gc.max(v)
    fn = {"sum": gc.sum, "max": gc.max, "mean": gc.mean}[kind]
    return fn(v, axis=0) if kind != "mean" else fn(v, axis=1, keepdims=True)


@st.composite
def graphs(draw):
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs)]
    inputs = [gc.tensor(f"in{i}", shape) for i, shape in enumerate(shapes)]
    pool = list(inputs)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(
            st.sampled_from(
                [
                    "unary",
                    "binary",
                    "binary",
                    "const",
                    "chain",
                    "pow",
                    "reduce",
                    "again",
                    "shape",
                    "detour",
                    "binary",
                ]
            )
        )
        a = draw(st.sampled_from(pool[-2:] if draw(st.booleans()) else pool))  # recent values: deeper graphs
        if kind == "unary":
            value = UNARY[draw(st.sampled_from(sorted(UNARY)))](a)
        elif kind == "binary":
            value = BINARY[draw(st.sampled_from(sorted(BINARY)))](a, draw(st.sampled_from(pool)))
        elif kind == "const":
            c = draw(st.sampled_from(CONSTANTS))
            op = draw(st.sampled_from(["add", "mul", "sub", "rsub", "div"]))
            value = {"add": a + c, "mul": a * c, "sub": a - c, "rsub": c - a, "div": a / (c or 1.0)}[op]
        elif kind == "pow":
            value = gc.abs(a) ** draw(st.sampled_from(POWERS)) if draw(st.booleans()) else a**2.0
        elif kind == "reduce":
            value = _reduce(draw(st.sampled_from(["sum", "max", "mean"])), a)
        elif kind == "chain":  # (a op c1) op c2: constants to merge
            c1, c2 = draw(st.sampled_from(CONSTANTS[1:])), draw(st.sampled_from(CONSTANTS[1:]))
            value = (a * c1) * c2 if draw(st.booleans()) else (c1 + a) + c2
        elif kind == "detour":  # a non-elementwise node between elementwise ones: fusion must not make cycles
            value = (a[::-1] if a.type.ndim else gc.reshape(a, (1,))) * 1.5
        elif kind == "shape":  # transpose of transpose; sum over a broadcast
            if a.type.ndim == 2:
                value = gc.transpose(gc.transpose(a)) * 2.0
            else:
                value = gc.sum(gc.broadcast_to(a, (3, 4)), axis=0)
        else:  # the same expression built a second time: work for CSE
            value = gc.tanh(a) * 2.0 + gc.tanh(a) * 2.0
        pool.append(value)
    outputs = [pool[-1]] + ([draw(st.sampled_from(pool[n_inputs:]))] if draw(st.booleans()) else [])
    seed = draw(st.integers(0, 2**16))
    return inputs, outputs, seed


def _compare(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    finite = np.isfinite(want)
    assert np.all(np.isfinite(got[finite])), "an optimisation made a finite result infinite or NaN"
    scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=graphs())
def test_optimised_equals_unoptimised(case, backend):
    inputs, outputs, seed = case
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-2.0, 2.0, size=v.type.shape) for v in inputs]
    want = gc.function(inputs, outputs, backend="interp", optimize="none")(*args)
    plain = gc.function(inputs, outputs, backend=backend, optimize="none")(*args)
    fast = gc.function(inputs, outputs, backend=backend, optimize="fast")(*args)
    for got_plain, got_fast, ref in zip(plain, fast, want, strict=True):
        np.testing.assert_allclose(got_plain, ref, rtol=1e-12, atol=1e-300)  # the backend itself, unoptimised
        _compare(got_fast, ref)


@settings(max_examples=30, deadline=None)
@given(case=graphs())
def test_structure_against_networkx(case):
    """networkx as an independent oracle: every stage of the pipeline is acyclic (fusion must not make a
    cycle), graphc's topological order is valid for it, and autodiff's pruning (Alg. 6.5) keeps exactly the
    nodes on a float path from an input to the output."""
    nx = pytest.importorskip("networkx")
    inputs, outputs, _ = case
    f = gc.function(inputs, outputs, backend="interp")
    for name, fg in f.stages:
        G = gc.to_networkx(f, stage=name)
        assert nx.is_directed_acyclic_graph(G), name
        position = {node: i for i, node in enumerate(fg.nodes)}
        assert set(position) == {n for n, kind in G.nodes(data="kind") if kind == "op"}, name
        assert all(position[u] < position[v] for u, v in G.edges if u in position), name
    root = outputs[0]
    G = gc.to_networkx(root)
    floats = G.subgraph(n for n, t in G.nodes(data="type") if t.is_float)  # gradients flow through floats
    reached = set().union(*(nx.descendants(floats, v) for v in inputs if v in floats))
    on_path = reached & (nx.ancestors(G, root.owner) | {root.owner}) if root.owner else set()
    relevant, _ = on_a_path(toposort([root]), inputs)
    assert set(relevant) == on_path
