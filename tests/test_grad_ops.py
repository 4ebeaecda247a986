"""Every differentiable op's VJP rule against central differences, on every backend, passes off and on.

Owns the GRAD_CASES table: each row builds a small graph from float64 inputs (values drawn away from kinks and
outside each op's domain edges); the cost is the output weighted by fixed random numbers, so every entry of
the output's gradient matters. A coverage test checks the rows exercise every op that has a gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc.graph import Constant, toposort
from graphc.ops import Op
from graphc.passes.vjp_rules import VJP_RULES, no_grad
from graphc.testing import check_grad


@dataclass(frozen=True)
class In:
    shape: tuple
    low: float = -2.0
    high: float = 2.0
    away: float = 0.0  # |value| >= away: keeps relu, abs, division away from 0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(self.low, self.high, size=self.shape)
        if self.away:
            x = np.sign(x + (x == 0)) * np.maximum(np.abs(x), self.away)
        return x


@dataclass(frozen=True)
class GradCase:
    name: str
    build: Callable
    args: tuple[In, ...]
    eps: float | None = None
    tol: float | None = None


M = In((3, 4))
V4 = In((4,))
POS = In((3, 4), 0.2, 2.0)
AWAY = In((3, 4), away=0.2)
swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
bump = gc.elementwise("bump", lambda x, y: x * sympy.exp(-(y**2)) + sympy.sin(x * y))

GRAD_CASES = [
    # elementwise, unary
    GradCase("neg", lambda x: -x, (M,)),
    GradCase("abs", gc.abs, (AWAY,)),
    GradCase("exp", gc.exp, (M,)),
    GradCase("log", gc.log, (POS,)),
    GradCase("log1p", gc.log1p, (POS,)),
    GradCase("expm1", gc.expm1, (M,)),
    GradCase("sqrt", gc.sqrt, (POS,)),
    GradCase("sin", gc.sin, (M,)),
    GradCase("cos", gc.cos, (M,)),
    GradCase("tanh", gc.tanh, (M,)),
    GradCase("sigmoid", gc.sigmoid, (M,)),
    GradCase("softplus", gc.softplus, (M,)),
    GradCase("relu", gc.relu, (AWAY,)),
    GradCase("cast_f32", lambda x: gc.cast(gc.cast(x, "float32") * 3.0, "float64"), (M,), eps=1e-2, tol=1e-4),
    # elementwise, binary (broadcasting included) and ternary
    GradCase("add", gc.add, (M, M)),
    GradCase("add_broadcast", gc.add, (M, V4)),
    GradCase("sub_broadcast", gc.sub, (In((3, 1)), In((1, 4)))),
    GradCase("mul_broadcast", gc.mul, (In((2, 3, 4)), In((3, 1)))),
    GradCase("div", gc.divide, (M, AWAY)),
    GradCase("div_scalar", lambda x, y: x / y, (M, In((), 0.5, 2.0))),
    GradCase("pow", gc.power, (POS, M)),
    GradCase("pow_const", lambda x: x**3.0, (M,)),
    GradCase("maximum", gc.maximum, (M, M)),
    GradCase("minimum_broadcast", gc.minimum, (M, V4)),
    GradCase("clip", lambda x: gc.clip(x, -1.0, 1.0), (In((3, 4), -3.0, 3.0),)),
    GradCase("where", lambda x, y: gc.where(x > 0.0, x * y, y - x), (AWAY, M)),
    GradCase("user_swish", swish, (M,)),
    GradCase("user_two_args", bump, (M, V4)),
    # reductions
    GradCase("sum_all", lambda x: gc.sum(x) * gc.sum(x), (M,)),
    GradCase("sum_axis", lambda x: gc.sum(x, axis=1), (In((2, 3, 4)),)),
    GradCase("sum_keepdims", lambda x: gc.sum(x, axis=(0, 2), keepdims=True), (In((2, 3, 4)),)),
    GradCase("mean_axis", lambda x: gc.mean(x, axis=0), (M,)),
    GradCase("mean_all", gc.mean, (M,)),
    GradCase("max_axis", lambda x: gc.max(x, axis=1), (M,)),
    GradCase("min_all", gc.min, (M,)),
    GradCase("prod_axis", lambda x: gc.prod(x, axis=1), (M,)),
    GradCase("logsumexp", lambda x: gc.logsumexp(x, axis=1), (M,)),
    GradCase("logsumexp_keepdims", lambda x: gc.logsumexp(x, axis=0, keepdims=True), (M,)),
    # linear algebra
    GradCase("matmul", gc.matmul, (M, In((4, 2)))),
    GradCase("matmul_vec_mat", gc.matmul, (V4, In((4, 2)))),
    GradCase("matmul_mat_vec", gc.matmul, (M, V4)),
    GradCase("matmul_vec_vec", gc.matmul, (V4, V4)),
    GradCase("matmul_batch", gc.matmul, (In((2, 3, 4)), In((4, 2)))),
    GradCase("matmul_batch_broadcast", gc.matmul, (In((2, 1, 3, 4)), In((3, 4, 2)))),
    GradCase("matmul_batch_vec", gc.matmul, (In((2, 3, 4)), V4)),
    GradCase("dot_mv", gc.dot, (M, V4)),
    GradCase("dot_scalar", gc.dot, (In(()), V4)),
    GradCase("dot_operator", lambda x, y: x @ y.T, (M, In((2, 4)))),
    # shapes and indexing
    GradCase("transpose", lambda x: gc.transpose(x, (2, 0, 1)), (In((2, 3, 4)),)),
    GradCase("reshape", lambda x: gc.reshape(x, (4, 3)), (M,)),
    GradCase("transpose_T", lambda x: x.T, (M,)),
    GradCase("expand_dims", lambda x: gc.expand_dims(x, -1), (M,)),
    GradCase("squeeze", gc.squeeze, (In((3, 1, 4, 1)),)),
    GradCase("squeeze_axis", lambda x: gc.squeeze(x, 1), (In((3, 1, 4, 1)),)),
    GradCase("broadcast_to", lambda x: gc.broadcast_to(x, (3, 4)), (V4,)),
    GradCase("broadcast_to_ones", lambda x: gc.broadcast_to(x, (2, 3, 4)), (In((3, 1)),)),
    GradCase("getitem_int", lambda x: x[1], (M,)),
    GradCase("getitem_slice", lambda x: x[:, 1:3], (M,)),
    GradCase("getitem_strided", lambda x: x[::2, ::-1], (In((5, 4)),)),
    GradCase("getitem_negative_step", lambda x: x[3:0:-2], (In((6,)),)),
    GradCase("getitem_mixed", lambda x: x[None, 1, -2:], (M,)),
    GradCase("getitem_ellipsis", lambda x: x[..., 0], (In((2, 3, 4)),)),
    GradCase("concatenate", lambda x, y: gc.concatenate([x, y, x], axis=1), (M, In((3, 2)))),
    GradCase("stack", lambda x, y: gc.stack([x, y], axis=0), (V4, V4)),
    GradCase("stack_last", lambda x, y: gc.stack([x, y], axis=-1), (M, M)),
    # compound ops
    GradCase("softmax", gc.softmax, (M,)),
    GradCase("softmax_axis0", lambda x: gc.softmax(x, axis=0), (M,)),
    GradCase("log_softmax", gc.log_softmax, (M,)),
    GradCase(
        "cross_entropy", lambda u: -gc.sum(gc.one_hot(np.array([0, 2, 1]), 4) * gc.log_softmax(u)), (M,)
    ),
]


def weighted(build: Callable, seed: int = 1) -> Callable:
    """cost = Σ out ⊙ R for fixed random R: every entry of the output's gradient is checked."""

    def cost(*xs):
        out = build(*xs)
        weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=tuple(out.type.shape))
        return gc.sum(out * Constant(weights))

    return cost


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_op_gradient(case: GradCase, optimize: str, backend: str, rng) -> None:
    inputs = [a.sample(rng) for a in case.args]
    check_grad(weighted(case.build), inputs, eps=case.eps, tol=case.tol, backend=backend, optimize=optimize)


def test_every_op_with_a_gradient_has_a_case() -> None:
    seen = set()
    for case in GRAD_CASES:
        xs = [gc.tensor(f"x{i}", a.shape) for i, a in enumerate(case.args)]
        seen |= {node.op for node in toposort([case.build(*xs)])}
    differentiable = {op for op, rule in VJP_RULES.items() if rule is not no_grad}
    missing = sorted(op.name for op in differentiable - seen)
    assert not missing, f"no GRAD_CASES row builds {missing}"
    assert Op.FUSED not in VJP_RULES
