"""Every differentiable op's VJP rule against central differences, on every backend, passes off and on.

Owns the GRAD_CASES table: rows of tests/cases.py's `Case`, the forward tables' type, checked by its gradient
runner. Each row builds a small graph from float64 inputs (values drawn away from kinks and outside each op's
domain edges); the cost is the output weighted by fixed random numbers, so every entry of the output's
gradient matters. A coverage test checks the rows exercise every op that has a gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import test_ops_indexing
from cases import A, Case, G, check_gradient, ids, ops_built

import graphc as gc
from graphc.ops import Op
from graphc.passes.vjp_rules import VJP_RULES, no_grad
from graphc.testing import check_grad

M = A((3, 4))
V4 = A((4,))
POS = A((3, 4), low=0.2, high=2.0)
AWAY = A((3, 4), away=0.2)
swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
bump = gc.elementwise("bump", lambda x, y: x * sympy.exp(-(y**2)) + sympy.sin(x * y))
# steps and kinks: their derivatives hold DiracDelta, taken as 0 (checked away from the kinks)
ramp = gc.elementwise("ramp", lambda x: x * sympy.Heaviside(x))
pieces = gc.elementwise("pieces", lambda x: sympy.Piecewise((x**2, x < 0), (3 * x + 1, True)))
signed_square = gc.elementwise("signed_square", lambda x: sympy.sign(x) * x**2)
abs_times = gc.elementwise("abs_times", lambda x, y: sympy.Abs(x) * y)

GRAD_CASES = [
    # elementwise, unary
    G("neg", lambda x: -x, (M,)),
    G("abs", gc.abs, (AWAY,)),
    G("exp", gc.exp, (M,)),
    G("log", gc.log, (POS,)),
    G("log1p", gc.log1p, (POS,)),
    G("expm1", gc.expm1, (M,)),
    G("sqrt", gc.sqrt, (POS,)),
    G("sin", gc.sin, (M,)),
    G("cos", gc.cos, (M,)),
    G("tanh", gc.tanh, (M,)),
    G("sigmoid", gc.sigmoid, (M,)),
    G("softplus", gc.softplus, (M,)),
    G("relu", gc.relu, (AWAY,)),
    G("cast_f32", lambda x: gc.cast(gc.cast(x, "float32") * 3.0, "float64"), (M,), eps=1e-2, tol=1e-4),
    # elementwise, binary (broadcasting included) and ternary
    G("add", gc.add, (M, M)),
    G("add_broadcast", gc.add, (M, V4)),
    G("sub_broadcast", gc.sub, (A((3, 1)), A((1, 4)))),
    G("mul_broadcast", gc.mul, (A((2, 3, 4)), A((3, 1)))),
    G("div", gc.divide, (M, AWAY)),
    G("div_scalar", lambda x, y: x / y, (M, A((), low=0.5, high=2.0))),
    G("pow", gc.power, (POS, M)),
    G("pow_const", lambda x: x**3.0, (M,)),
    G("maximum", gc.maximum, (M, M)),
    G("minimum_broadcast", gc.minimum, (M, V4)),
    G("clip", lambda x: gc.clip(x, -1.0, 1.0), (A((3, 4), low=-3.0, high=3.0),)),
    G("where", lambda x, y: gc.where(x > 0.0, x * y, y - x), (AWAY, M)),
    G("user_swish", swish, (M,)),
    G("user_two_args", bump, (M, V4)),
    # integer math and special functions (sympy-derived rules for the latter)
    G("mod", lambda x, y: x % y, (A((3, 4), low=-0.9, high=0.9, away=0.1), A((4,), low=1.1, high=2.0))),
    G("copysign", lambda x, y: gc.copysign(x, y) * y, (AWAY, AWAY)),  # y: no gradient through the sign
    G("erf", gc.erf, (M,)),
    G("erfc", gc.erfc, (M,)),
    G("arcsin", gc.arcsin, (A((3, 4), low=-0.9, high=0.9),)),
    G("arccos", gc.arccos, (A((3, 4), low=-0.9, high=0.9),)),
    G("arctan", gc.arctan, (M,)),
    G("arctan2", gc.arctan2, (AWAY, AWAY)),
    G("arcsinh", gc.arcsinh, (M,)),
    G("arccosh", gc.arccosh, (A((3, 4), low=1.2, high=3.0),)),
    G("arctanh", gc.arctanh, (A((3, 4), low=-0.9, high=0.9),)),
    G("user_heaviside", ramp, (AWAY,)),
    G("user_piecewise", pieces, (AWAY,)),
    G("user_sign", signed_square, (AWAY,)),
    G("user_abs", abs_times, (AWAY, M)),
    # reductions
    G("sum_all", lambda x: gc.sum(x) * gc.sum(x), (M,)),
    G("sum_axis", lambda x: gc.sum(x, axis=1), (A((2, 3, 4)),)),
    G("sum_keepdims", lambda x: gc.sum(x, axis=(0, 2), keepdims=True), (A((2, 3, 4)),)),
    G("mean_axis", lambda x: gc.mean(x, axis=0), (M,)),
    G("mean_all", gc.mean, (M,)),
    G("max_axis", lambda x: gc.max(x, axis=1), (M,)),
    G("min_all", gc.min, (M,)),
    G("prod_axis", lambda x: gc.prod(x, axis=1), (M,)),
    G("logsumexp", lambda x: gc.logsumexp(x, axis=1), (M,)),
    G("logsumexp_keepdims", lambda x: gc.logsumexp(x, axis=0, keepdims=True), (M,)),
    # linear algebra
    G("matmul", gc.matmul, (M, A((4, 2)))),
    G("matmul_vec_mat", gc.matmul, (V4, A((4, 2)))),
    G("matmul_mat_vec", gc.matmul, (M, V4)),
    G("matmul_vec_vec", gc.matmul, (V4, V4)),
    G("matmul_batch", gc.matmul, (A((2, 3, 4)), A((4, 2)))),
    G("matmul_batch_broadcast", gc.matmul, (A((2, 1, 3, 4)), A((3, 4, 2)))),
    G("matmul_batch_vec", gc.matmul, (A((2, 3, 4)), V4)),
    G("dot_mv", gc.dot, (M, V4)),
    G("dot_scalar", gc.dot, (A(()), V4)),
    G("dot_operator", lambda x, y: x @ y.T, (M, A((2, 4)))),
    # shapes and indexing
    G("transpose", lambda x: gc.transpose(x, (2, 0, 1)), (A((2, 3, 4)),)),
    G("reshape", lambda x: gc.reshape(x, (4, 3)), (M,)),
    G("transpose_T", lambda x: x.T, (M,)),
    G("expand_dims", lambda x: gc.expand_dims(x, -1), (M,)),
    G("squeeze", gc.squeeze, (A((3, 1, 4, 1)),)),
    G("squeeze_axis", lambda x: gc.squeeze(x, 1), (A((3, 1, 4, 1)),)),
    G("broadcast_to", lambda x: gc.broadcast_to(x, (3, 4)), (V4,)),
    G("broadcast_to_ones", lambda x: gc.broadcast_to(x, (2, 3, 4)), (A((3, 1)),)),
    G("getitem_int", lambda x: x[1], (M,)),
    G("getitem_slice", lambda x: x[:, 1:3], (M,)),
    G("getitem_strided", lambda x: x[::2, ::-1], (A((5, 4)),)),
    G("getitem_negative_step", lambda x: x[3:0:-2], (A((6,)),)),
    G("getitem_mixed", lambda x: x[None, 1, -2:], (M,)),
    G("getitem_ellipsis", lambda x: x[..., 0], (A((2, 3, 4)),)),
    G("concatenate", lambda x, y: gc.concatenate([x, y, x], axis=1), (M, A((3, 2)))),
    G("stack", lambda x, y: gc.stack([x, y], axis=0), (V4, V4)),
    G("stack_last", lambda x, y: gc.stack([x, y], axis=-1), (M, M)),
    # compound ops
    G("softmax", gc.softmax, (M,)),
    G("softmax_axis0", lambda x: gc.softmax(x, axis=0), (M,)),
    G("log_softmax", gc.log_softmax, (M,)),
    G("cross_entropy", lambda u: -gc.sum(gc.one_hot(np.array([0, 2, 1]), 4) * gc.log_softmax(u)), (M,)),
    # ops with a body: every input (the carry, the sequence, a captured weight) gets its gradient
    G(
        "scan",
        lambda xs, h, w: _rnn(xs, h, w, False),
        (A((3, 2, 4)), A((2, 4)), A((4, 4), low=-0.5, high=0.5)),
    ),
    G(
        "scan_reverse",
        lambda xs, h, w: _rnn(xs, h, w, True),
        (A((3, 4)), A((4,)), A((4, 4), low=-0.5, high=0.5)),
    ),
    G("cond_true", lambda x, y: _branch(x, y), (POS, M)),
    G("cond_false", lambda x, y: _branch(-x, y), (POS, M)),
]


def _rnn(xs, h, w, reverse):
    def step(c, x):
        return (gc.tanh(c[0] @ w + x), c[1] + c[0] * x), c[0] * 2.0

    (h, c), ys = gc.scan(step, (h, h * 0.5), xs, reverse=reverse)
    return gc.concatenate([gc.stack([h, c]), ys])


def _branch(x, y):
    return gc.cond(x.sum() > 0, lambda a, b: a * gc.sin(b), lambda a, b: gc.exp(a) + b * b, x, y)


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_op_gradient(case: Case, optimize: str, backend: str, rng) -> None:
    check_gradient(case, backend, optimize, rng)


def test_every_op_with_a_gradient_has_a_case() -> None:
    seen = ops_built(GRAD_CASES + test_ops_indexing.GRAD_CASES)  # the data-dependent ops' rows live there
    differentiable = {op for op, rule in VJP_RULES.items() if rule is not no_grad}
    missing = sorted(op.name for op in differentiable - seen)
    assert not missing, f"no GRAD_CASES row builds {missing}"
    assert Op.FUSED not in VJP_RULES


def test_gradient_limits_where_a_factor_is_infinite(backend: str) -> None:
    """PyTorch's values where the textbook rule multiplies 0 by inf: x ** 0 is constant (also at x = 0),
    0 ** y is 0 or 1 for y >= 0, so both give 0, not NaN."""
    x, y = gc.vector("x"), gc.vector("y")
    zero_exponent = gc.grad((x**0.0).sum(), [x])[0]
    zero_base = gc.grad((0.0**y).sum(), [y])[0]
    gx, gy = gc.grad((x**y).sum(), [x, y])
    f = gc.function([x, y], [zero_exponent, zero_base, gx, gy], backend=backend)
    a, b = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    got = f(a, b)
    np.testing.assert_array_equal(got[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got[1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got[2], [0.0, 0.0, 0.0])  # 2·0¹ and 0·… where y = 0
    np.testing.assert_allclose(got[3], [0.0, 0.0, np.log(2.0)])


def test_clip_passes_the_whole_gradient_at_its_bounds(backend: str) -> None:
    """As PyTorch's clamp, JAX and TensorFlow: 1 on [low, high], bounds included; 0 outside."""
    x = gc.vector("x")
    (g,) = gc.grad((gc.clip(x, -1.0, 1.0) * 3.0).sum(), [x])
    got = gc.function([x], g, backend=backend)(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(got, [0.0, 3.0, 3.0, 3.0, 0.0])


# --- named sizes: gradients slice by size expressions (issue 17) --------------------------------------------
NAMED = {
    "concatenate": (lambda x, y: gc.concatenate([x, y * 2.0, x]), ("n",), ("m",)),
    "concatenate_rows": (lambda x, y: gc.concatenate([x.T, y.T], axis=1), ("n", 2), ("m", 2)),
    "strided": (lambda x, y: x[::2] * y[:1], ("n",), (3,)),
    "strided_offset": (lambda x, y: x[1::3] + y[-1], ("n",), (3,)),
    "strided_down": (lambda x, y: x[-2::-3] * y[0], ("n",), (3,)),
    "strided_matrix": (lambda x, y: x[::2, ::-2] * y[1], ("n", "m"), (3,)),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_gradients_on_named_sizes(name: str, backend: str, rng) -> None:
    """concatenate of named sizes and strided slices of a named size, at sizes of both parities."""
    build, x_shape, y_shape = NAMED[name]
    x, y = gc.tensor("x", x_shape), gc.tensor("y", y_shape)
    out = build(x, y)
    cost = gc.sum(gc.tanh(out) * gc.cos(out))
    for n, m in ((5, 4), (6, 3)):
        concrete = {"n": n, "m": m}
        values = {
            v: rng.normal(size=[concrete.get(d, d) for d in shape])
            for v, shape in ((x, x_shape), (y, y_shape))
        }
        for optimize in ("none", "fast"):
            check_grad((cost, [x, y]), values, backend=backend, optimize=optimize)


def test_second_derivatives_through_named_slices(backend: str, rng) -> None:
    """The gradient of a concatenation is a slice by size expressions; its own gradient pads them back."""
    x, y = gc.vector("x", "n"), gc.vector("y", "m")
    gx, gy = gc.grad(gc.sum(gc.concatenate([x, y]) ** 3.0), [x, y])
    cost = gc.sum(gx * gc.sin(x)) + gc.sum(gy * gy)
    check_grad((cost, [x, y]), {x: rng.normal(size=3), y: rng.normal(size=4)}, backend=backend)
