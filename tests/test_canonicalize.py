"""The canonicalising rules (graphc.passes.canonicalize): each fires where it should and not where it must
not, never changes results (optimize="fast" against "none" on every backend), keeps float32, NumPy's special
values and the user's line."""

from __future__ import annotations

import numpy as np
import pytest
from pass_helpers import F32, IX, V, W, X, arrays_for, ops_of

import graphc as gc
from graphc.fgraph import FunctionGraph
from graphc.ops import Op
from graphc.passes.canonicalize import canonicalize

# (rule, inputs, build, fires): `fires` False is a place the rule must NOT fire.
CASES = [
    ("local_add_zero", [X], lambda x: x + 0.0, True),
    ("local_add_zero", [X], lambda x: 0.0 + x, True),
    ("local_add_zero", [V], lambda v: v + gc.constant(np.zeros((2, 3))), False),  # would change the shape
    ("local_add_zero", [IX], lambda i: i + gc.constant(0.0), False),  # int + float: would change the dtype
    ("local_sub_zero", [X], lambda x: x - 0.0, True),
    ("local_sub_zero", [X], lambda x: x - 1.0, False),
    ("local_sub_zero", [V], lambda v: v - gc.constant(np.zeros((2, 3))), False),  # would change the shape
    ("local_zero_sub", [X], lambda x: 0.0 - x, True),
    ("local_zero_sub", [X], lambda x: 1.0 - x, False),
    ("local_zero_sub", [IX], lambda i: gc.constant(0.0) - i, False),  # 0.0 - int is float: -i is not
    ("local_sub_self", [IX], lambda i: i - i, True),
    ("local_sub_self", [X], lambda x: x - x, False),  # inf - inf is nan: floats keep it
    ("local_mul_one", [X], lambda x: x * 1.0, True),
    ("local_mul_one", [X], lambda x: 1.0 * x, True),
    ("local_mul_one", [X], lambda x: x * 1.5, False),
    ("local_mul_zero", [IX], lambda i: i * 0, True),
    ("local_mul_zero", [X], lambda x: x * 0.0, False),  # inf * 0 is nan
    ("local_mul_minus_one", [X], lambda x: x * -1.0, True),
    ("local_mul_minus_one", [X], lambda x: x * -2.0, False),
    ("local_div_one", [X], lambda x: x / 1.0, True),
    ("local_div_one", [IX], lambda i: i / 1, False),  # int / int is float
    ("local_div_one", [X], lambda x: 1.0 / x, False),
    ("local_neg_neg", [X], lambda x: gc.neg(gc.neg(x)), True),
    ("local_neg_neg", [X], lambda x: -gc.abs(x), False),
    ("local_exp_log", [X], lambda x: gc.exp(gc.log(x)), True),
    ("local_exp_log", [X], lambda x: gc.exp(gc.log1p(x)), False),
    ("local_exp_log", [X], lambda x: gc.exp(gc.log(x) * 2.0), False),
    ("local_log_exp", [X], lambda x: gc.log(gc.exp(x)), True),
    ("local_log_exp", [X], lambda x: gc.log(gc.exp(x) + 1.0), False),
    ("local_transpose_transpose", [W], lambda w: w.T.T, True),
    (
        "local_transpose_transpose",
        [gc.tensor("t", (2, 3, 4))],
        lambda t: gc.transpose(gc.transpose(t, (1, 2, 0)), (1, 0, 2)),
        True,
    ),
    ("local_transpose_transpose", [W], lambda w: gc.exp(w.T).T, False),  # an op in between
    ("local_reshape_reshape", [W], lambda w: gc.reshape(gc.reshape(w, (12,)), (4, 3)), True),
    ("local_reshape_reshape", [W], lambda w: gc.reshape(gc.reshape(w, (12,)).sum() * w, (12,)), False),
    ("local_reshape_reshape", [W], lambda w: gc.reshape(gc.reshape(w, (4, 3)).T, (12,)), False),
    ("local_reshape_reshape", [W], lambda w: gc.reshape(gc.reshape(w, (12,)), (3, 4)), True),
    ("local_sum_of_broadcast", [V], lambda v: gc.sum(gc.broadcast_to(v, (5, 3)), axis=0), True),
    ("local_sum_of_broadcast", [V], lambda v: gc.sum(gc.broadcast_to(v, (5, 3))), True),
    ("local_sum_of_broadcast", [V], lambda v: gc.sum(gc.broadcast_to(v, (5, 3)), axis=1), False),
    (  # a symbolic count
        "local_sum_of_broadcast",
        [V, X],
        lambda v, x: gc.sum(gc.broadcast_to(v, ("n", 3)), axis=0) + x,
        False,
    ),
    ("local_reduce_size_one", [gc.tensor("c", (3, 1))], lambda c: gc.max(c, axis=1), True),
    ("local_reduce_size_one", [gc.tensor("c", (3, 1))], lambda c: gc.max(c, axis=0), False),  # size 3
    (  # int32 sums to int64: a reshape would keep int32
        "local_reduce_size_one",
        [gc.tensor("k", (3, 1), dtype="int32")],
        lambda k: gc.sum(k, axis=1),
        False,
    ),
    ("local_pow_small_constant", [X], lambda x: x**2.0, True),
    ("local_pow_small_constant", [X], lambda x: x**3.0, True),
    ("local_pow_small_constant", [X], lambda x: x**4.0, True),
    ("local_pow_small_constant", [X], lambda x: x**-1.0, True),
    ("local_pow_small_constant", [X], lambda x: x**-2.0, True),
    ("local_pow_small_constant", [X], lambda x: x**0.5, True),
    ("local_pow_small_constant", [X], lambda x: x**-0.5, False),  # 1/sqrt(x) differs at -0.0 and -inf
    ("local_pow_small_constant", [X], lambda x: x**1.0, True),
    ("local_pow_small_constant", [X], lambda x: x**0.0, True),
    ("local_pow_small_constant", [IX], lambda i: i**2, True),
    ("local_pow_small_constant", [X], lambda x: x**2.5, False),
    ("local_pow_small_constant", [X], lambda x: 2.0**x, False),
    ("local_mul_constant_chain", [X], lambda x: (x * 2.0) * 3.0, True),
    ("local_mul_constant_chain", [X], lambda x: 3.0 * (2.0 * x), True),
    ("local_mul_constant_chain", [F32], lambda f: (f * 2.0) * 3.0, True),
    ("local_mul_constant_chain", [X], lambda x: (x * 2.0) * x, False),
    ("local_mul_constant_chain", [X], lambda x: (x * 1e308) * 10.0, False),  # 1e309 overflows
    ("local_mul_constant_chain", [X], lambda x: (x * 1e-200) * 1e-200, False),  # 1e-400 underflows to 0
    ("local_mul_constant_chain", [X], lambda x: (x * 1e-160) * 1e-160, False),  # 1e-320 is subnormal
    ("local_mul_constant_chain", [X], lambda x: (x * 0.0) * 3.0, True),  # a zero was there already
    ("local_drop_broadcast", [X, V], lambda x, v: gc.broadcast_to(v, ("n", 3)) * x, True),
    ("local_drop_broadcast", [X], lambda x: gc.broadcast_to(gc.sum(x), ("n", 3)) - x, True),
    ("local_drop_broadcast", [X], lambda x: gc.exp(gc.broadcast_to(gc.sum(x), ("n", 3))), False),
    ("local_drop_broadcast", [V], lambda v: gc.broadcast_to(v, (2, 3)) * v, False),  # it makes the shape
    ("local_add_constant_chain", [X], lambda x: (x + 2.0) + 3.0, True),
    ("local_add_constant_chain", [IX], lambda i: (i + 2) + gc.constant(3.0), False),  # int then float
    ("local_add_constant_chain", [X], lambda x: (x + 1e308) + 1e308, False),  # 2e308 overflows
]


@pytest.mark.parametrize(
    "rule, inputs, build, fires", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_canonical_rule(rule, inputs, build, fires, backend, rng):
    out = build(*inputs)
    graph, fired = canonicalize(FunctionGraph(inputs, [out]))
    assert (rule in fired) == fires, fired
    if fires:
        assert len(graph.nodes) <= len(FunctionGraph(inputs, [out]).nodes) + 2
    assert graph.outputs[0].type.dtype == out.type.dtype and graph.outputs[0].type.shape == out.type.shape
    args = arrays_for(inputs, rng)
    want = gc.function(inputs, out, backend="interp", optimize="none")(*args)
    got = gc.function(inputs, out, backend=backend, optimize="fast")(*args)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    "build",
    [lambda x: (x * 1e308) * 10.0, lambda x: (x * 1e-200) * 1e-200, lambda x: (x + 1e308) + 1e308],
    ids=["overflow", "underflow", "add_overflow"],
)
def test_constant_chains_never_merge_into_inf_or_zero(build, backend):
    """x*inf is NaN at x = 0 and x*0 is NaN at x = inf, where the chain as written gives a number."""
    x = gc.vector("x", 5)
    values = np.array([0.0, -0.0, np.inf, -1e308, 2.5])
    with np.errstate(all="ignore"):
        want = gc.function([x], build(x), backend="interp", optimize="none")(values)
        got = gc.function([x], build(x), backend=backend)(values)
    np.testing.assert_array_equal(got, want)


def test_rewrites_keep_float32(rng):
    f = gc.function([F32], ((F32 * 2.0) * 3.0 + 0.0) ** 2.0, backend="interp")
    assert all(v.type.dtype == np.float32 for n in f.optimized.nodes for v in n.outputs)
    assert f(*arrays_for([F32], rng)).dtype == np.float32


def test_canonical_results_simplify():
    assert ops_of(canonicalize(FunctionGraph([X], [(X * 1.0 + 0.0) / 1.0]))[0]) == []
    (node,) = canonicalize(FunctionGraph([X], [(X * 2.0) * 3.0]))[0].nodes
    assert float(node.inputs[1].value) == 6.0
    g = canonicalize(FunctionGraph([X], [X**2.0]))[0]
    assert ops_of(g) == [Op.MUL] and g.nodes[0].inputs == (X, X)
    assert ops_of(canonicalize(FunctionGraph([X], [X**0.5]))[0]) == [Op.SQRT]
    assert ops_of(canonicalize(FunctionGraph([W], [W.T.T]))[0]) == []
    (node,) = canonicalize(FunctionGraph([V], [gc.sum(gc.broadcast_to(V, (5, 3)), axis=0)]))[0].nodes
    assert node.op is Op.MUL and float(node.inputs[1].value) == 5.0  # sum over a broadcast is a product
    total, scaled = canonicalize(FunctionGraph([V], [gc.sum(gc.broadcast_to(V, (5, 3)))]))[0].nodes
    assert total.op is Op.SUM and total.inputs == (V,) and scaled.op is Op.MUL


def test_replacements_keep_the_user_origin():
    y = gc.exp(X) * 1.0 * 2.0 * 3.0
    _, mul = canonicalize(FunctionGraph([X], [y]))[0].nodes
    assert mul.origin == y.owner.origin and mul.origin[0] == __file__


@pytest.mark.parametrize("exponent", [-2.0, -1.0, 0.5, 2.0, 3.0, 4.0, -0.5])
def test_small_powers_keep_numpy_s_special_values(exponent, backend) -> None:
    x = gc.vector("x")
    values = np.array([-np.inf, -2.0, -0.0, 0.0, 1e-200, 3.0, 1e200, np.inf, np.nan])
    f = gc.function([x], x**exponent, backend=backend)
    with np.errstate(all="ignore"):
        want = values**exponent  # x**p as NumPy means it (before 2.3, np.power(-0.0, 0.5) gave +0.0)
    got = f(values)
    np.testing.assert_array_equal(np.signbit(got) & (got == 0), np.signbit(want) & (want == 0))
    np.testing.assert_allclose(got, want, rtol=1e-15)
