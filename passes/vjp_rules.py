"""The gradient (VJP) rules: VJP_RULES, one row per Op. Imports only the graphc core; knows no codegen.

Each rule is ``rule(g, out, *inputs, **params) -> one cotangent per input`` (None: no gradient flows to that
input), where ``g`` is the gradient of the cost with respect to ``out``, the node's output. Rules build
ordinary graph nodes, so a gradient can be compiled, drawn and differentiated again.

Conventions the driver (graphc.passes.autodiff) provides, so that no rule mentions them:
- a cotangent may have the output's (broadcast) shape: the driver sums broadcast axes away and reshapes to the
  input's shape; it also casts to the input's dtype (float32 parameters get float32 gradients);
- integer and boolean inputs never receive a gradient (the driver does not ask for one).

Rules reuse forward values where the book does (fig. 6.9: store, don't recompute): exp' = out,
tanh' = 1 - out², sigmoid' = out·(1 - out), softmax's Jacobian-vector product from out. Every elementwise op
with a sympy definition (graphc.ops.SCALAR_DEFS) also has a *derived* rule (g · ∂f/∂xᵢ as a SCALAR_FN node
built from sympy's derivative): the fallback for an op without a hand-written row, and the reference the tests
compare the hand-written rows with. Hand-written rows reuse forward values, use native ops (cos, sign) that
fuse and vectorise, and avoid overflow (softplus' = sigmoid, not eˣ/(1 + eˣ)).

Non-differentiable points (the choice the course asks us to make and keep):
- relu'(0) = 0 and |x|'(0) = 0;
- ties in maximum/minimum and in the max/min reductions share the gradient evenly among the tied values
  (a valid subgradient, and the same choice for gc.maximum(x, y) and gc.max(gc.stack([x, y])));
- piecewise-constant ops (sign, comparisons, argmax, one_hot, logical ops) pass no gradient (None).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from graphc.elementwise import ScalarFunction, derivative
from graphc.graph import Constant, Variable, apply
from graphc.ops import BITWISE, COMPARISONS, ROUNDING, SCALAR_DEFS, Op
from graphc.tensor import (
    broadcast_to,
    cast,
    cos,
    eq,
    exp,
    ge,
    getitem,
    gt,
    log,
    logical_and,
    matmul,
    reshape,
    sigmoid,
    sign,
    sin,
    size,
    sum_,
    transpose,
    where,
)
from graphc.types import dims_equal, is_static

from . import vjp_control
from .vjp_indexing import GATHER_RULES, concatenate_vjp, getitem_vjp
from .vjp_math import MATH_RULES
from .vjp_scans import SCAN_RULES

VJPRule = Callable[..., tuple[Variable | None, ...]]


# --- helpers: shapes of reductions and indexing -------------------------------------------------------------
def keep(g: Variable, axis: tuple[int, ...], keepdims: bool, x: Variable) -> Variable:
    """g (a reduction's output gradient) with the reduced axes back as size 1: broadcasts against x."""
    if keepdims:
        return g
    return reshape(g, tuple(1 if i in axis else d for i, d in enumerate(x.type.shape)))


def spread(g: Variable, axis, keepdims, x: Variable) -> Variable:
    """A reduction's output gradient copied to every element it reduced (the sum's VJP)."""
    return broadcast_to(keep(g, axis, keepdims, x), x.type.shape)


def count(x: Variable, axis: tuple[int, ...]):
    """How many elements a reduction over `axis` combines: an int, or a scalar node for symbolic sizes."""
    dims = [x.type.shape[a] for a in axis]
    if is_static(dims):
        return int(np.prod(dims, dtype=np.int64))
    return size(_earliest_with_dims(x, axis), axis, x.type.dtype)


def _earliest_with_dims(x: Variable, axis: tuple[int, ...]) -> Variable:
    """The value furthest up x's producers with x's sizes along `axis` (an input, usually): the size node
    reads only its shape, and should not keep an intermediate alive (or make a kernel write it out)."""
    while x.owner is not None:
        same = [
            v
            for v in x.owner.inputs
            if v.type.ndim == x.type.ndim and all(dims_equal(v.type.shape[a], x.type.shape[a]) for a in axis)
        ]
        if not same:
            break
        x = same[0]
    return x


def as_float(mask: Variable, like: Variable) -> Variable:
    return cast(mask, like.type.dtype)


def swap_last(x: Variable) -> Variable:
    """Transpose the last two axes (the matrix transpose of a batch of matrices)."""
    perm = tuple(range(x.type.ndim - 2)) + (x.type.ndim - 1, x.type.ndim - 2)
    return transpose(x, perm)


# --- rules that need more than one line ---------------------------------------------------------------------
def maximum_vjp(g, out, x, y):
    hx, hy = as_float(eq(x, out), out), as_float(eq(y, out), out)  # both 1 at a tie: split evenly
    return g * hx / (hx + hy), g * hy / (hx + hy)


def pow_vjp(g, out, x, y):
    """d xʸ = y·xʸ⁻¹ dx + xʸ·log(x) dy, with PyTorch's limits where one factor is 0 and the other infinite:
    no dx where y = 0 (x⁰ is 1, also at x = 0), no dy where x = 0 and y ≥ 0 (0ʸ is 0 or 1 there). A
    constant exponent (x**2) gets no gradient, and y - 1 is folded now."""
    if isinstance(y, Constant):
        if not np.any(y.value):  # x ** 0 is constant
            return broadcast_to(Constant(np.zeros((), g.type.dtype)), g.type.shape), None
        dx = g * y * x ** Constant(y.value - 1)
        return (where(eq(y, 0.0), 0.0, dx) if not np.all(y.value) else dx), None
    dx = where(eq(y, 0.0), 0.0, g * y * x ** (y - 1.0))
    dy = g * out * log(x)
    if not (isinstance(x, Constant) and np.all(x.value)):
        dy = where(logical_and(eq(x, 0.0), ge(y, 0.0)), 0.0, dy)
    return dx, dy


def extreme_vjp(g, out, x, axis, keepdims):
    """max/min reduction: the gradient goes to the extreme value, split evenly among ties."""
    out_k = keep(out, axis, keepdims, x)
    hit = as_float(eq(x, out_k), x)
    return (keep(g, axis, keepdims, x) * hit / sum_(hit, axis=axis, keepdims=True),)


def prod_vjp(g, out, x, axis, keepdims):
    """∂/∂xᵢ Π xⱼ = Π_{j≠i} xⱼ, exact with zeros: the product of the non-zero entries, where it applies."""
    is_zero = eq(x, 0.0)
    nonzero = where(is_zero, 1.0, x)
    p = apply(Op.PROD, (nonzero,), axis=axis, keepdims=True)  # product of the non-zero entries
    n_zero = sum_(as_float(is_zero, x), axis=axis, keepdims=True)
    at_zero = where(eq(n_zero, 1.0), p, 0.0)  # the single zero gets the product of the others
    elsewhere = where(eq(n_zero, 0.0), p / nonzero, 0.0)  # with a zero elsewhere, the product is 0 anyway
    return (keep(g, axis, keepdims, x) * where(is_zero, at_zero, elsewhere),)


def matmul_vjp(g, out, a, b):
    """∇A = G·Bᵀ, ∇B = Aᵀ·G (book §6.5.9), with vectors promoted to matrices as np.matmul does."""
    if a.type.ndim == 1 and b.type.ndim == 1:  # inner product: g is a scalar
        return g * b, g * a
    a2 = reshape(a, (1,) + a.type.shape) if a.type.ndim == 1 else a
    b2 = reshape(b, b.type.shape + (1,)) if b.type.ndim == 1 else b
    g2 = g
    if a.type.ndim == 1:  # the output lost axis -2
        g2 = reshape(g2, g2.type.shape[:-1] + (1,) + g2.type.shape[-1:] if b.type.ndim > 1 else g2.type.shape)
    if b.type.ndim == 1:  # the output lost axis -1
        g2 = reshape(g2, g2.type.shape + (1,))
    ga, gb = matmul(g2, swap_last(b2)), matmul(swap_last(a2), g2)
    if a.type.ndim == 1:
        ga = getitem(ga, (..., 0, slice(None)))
    if b.type.ndim == 1:
        gb = getitem(gb, (..., 0))
    return ga, gb  # batch dimensions that were broadcast are summed away by the driver


def transpose_vjp(g, out, x, perm):
    return (transpose(g, tuple(int(i) for i in np.argsort(perm))),)


def scalar_fn_vjp(g, out, *xs, fn: ScalarFunction):
    """g · ∂f/∂xᵢ, each partial derivative itself an elementwise function (sympy derives it once)."""
    if is_stop_gradient(fn):
        return (None,)
    grads = []
    for i in range(len(xs)):
        d = fn.partial(i)
        grads.append(None if d.expr == 0 else g * d(*xs))
    return tuple(grads)


@cache
def _derived(op: Op, i: int) -> ScalarFunction:
    symbols, expr = SCALAR_DEFS[op]
    return ScalarFunction(f"d{op.value}_d{symbols[i]}", symbols, derivative(expr, symbols[i]))


def derived_rule(op: Op) -> VJPRule:
    """The VJP of an elementwise op from its sympy definition: g · ∂f/∂xᵢ (a SCALAR_FN node per input)."""

    def rule(g, out, *xs):
        return tuple(g * _derived(op, i)(*xs) for i in range(len(xs)))

    rule.__name__ = f"derived_{op.value}_vjp"
    return rule


@cache
def stop_gradient_function() -> ScalarFunction:
    """The identity, as an elementwise function whose VJP is no gradient (gc.stop_gradient builds it). Made at
    the first use: it is a sympy expression, and sympy is imported by the paths that need it only."""
    import sympy

    x = sympy.Symbol("x", real=True)
    return ScalarFunction("stop_gradient", (x,), x)


def is_stop_gradient(fn: ScalarFunction) -> bool:
    return fn.name == "stop_gradient" and fn is stop_gradient_function()


def no_grad(g, out, *xs, **params):
    """Piecewise-constant ops and integer results: no gradient flows to any input."""
    return (None,) * len(xs)


# --- the table ----------------------------------------------------------------------------------------------
# Each rule: (g, out, *inputs, **params) -> one cotangent per input, in the output's (or the input's) shape.
VJP_RULES: dict[Op, VJPRule] = {
    **{op: derived_rule(op) for op in SCALAR_DEFS},  # the fallback; every row below overrides it
    # elementwise, unary
    Op.NEG: lambda g, out, x: (-g,),
    Op.ABS: lambda g, out, x: (g * sign(x),),  # subgradient 0 at 0
    Op.SIN: lambda g, out, x: (g * cos(x),),
    Op.COS: lambda g, out, x: (-g * sin(x),),
    Op.LOG1P: lambda g, out, x: (g / (x + 1.0),),
    Op.EXP: lambda g, out, x: (g * out,),  # d exp = exp: reuse the forward value
    Op.EXPM1: lambda g, out, x: (g * (out + 1.0),),
    Op.LOG: lambda g, out, x: (g / x,),
    Op.SQRT: lambda g, out, x: (g * 0.5 / out,),
    Op.TANH: lambda g, out, x: (g * (1.0 - out * out),),
    Op.SIGMOID: lambda g, out, x: (g * out * (1.0 - out),),
    Op.SOFTPLUS: lambda g, out, x: (g * sigmoid(x),),  # sympy's eˣ/(1 + eˣ) overflows to inf/inf
    Op.RELU: lambda g, out, x: (where(gt(x, 0.0), g, 0.0),),  # subgradient 0 at 0
    Op.CAST: lambda g, out, x, dtype: (g,),  # the driver casts back to x's dtype
    Op.SIGN: no_grad,
    **{op: no_grad for op in COMPARISONS | BITWISE},
    # elementwise, binary and ternary
    Op.ADD: lambda g, out, x, y: (g, g),
    Op.SUB: lambda g, out, x, y: (g, -g),
    Op.MUL: lambda g, out, x, y: (g * y, g * x),
    Op.DIV: lambda g, out, x, y: (g / y, -g * out / y),
    Op.POW: pow_vjp,
    Op.MAXIMUM: maximum_vjp,
    Op.MINIMUM: maximum_vjp,  # same rule: the gradient goes to whichever input equals the output
    Op.WHERE: lambda g, out, c, x, y: (None, where(c, g, 0.0), where(c, 0.0, g)),
    Op.SCALAR_FN: scalar_fn_vjp,
    # reductions
    Op.SUM: lambda g, out, x, axis, keepdims: (spread(g, axis, keepdims, x),),
    Op.MEAN: lambda g, out, x, axis, keepdims: (spread(g, axis, keepdims, x) / count(x, axis),),
    Op.MAX: extreme_vjp,
    Op.MIN: extreme_vjp,
    Op.PROD: prod_vjp,
    Op.ARGMAX: no_grad,
    Op.LOGSUMEXP: lambda g, out, x, axis, keepdims: (
        keep(g, axis, keepdims, x) * exp(x - keep(out, axis, keepdims, x)),  # softmax over the axes
    ),
    # linear algebra and shapes
    Op.MATMUL: matmul_vjp,
    Op.TRANSPOSE: transpose_vjp,
    Op.RESHAPE: lambda g, out, x, shape: (reshape(g, x.type.shape),),
    Op.BROADCAST_TO: lambda g, out, x, shape: (g,),  # the driver sums the broadcast axes away
    Op.GETITEM: getitem_vjp,
    Op.CONCATENATE: concatenate_vjp,
    # compound ops
    Op.SOFTMAX: lambda g, out, x, axis: (out * (g - sum_(g * out, axis=axis, keepdims=True)),),
    Op.LOG_SOFTMAX: lambda g, out, x, axis: (g - exp(out) * sum_(g, axis=axis, keepdims=True),),
    Op.ONE_HOT: no_grad,  # labels are integers
    Op.SIZE: no_grad,  # depends on the shape only
    Op.RANDOM_UNIFORM: no_grad,  # its only input is an integer counter
    **{op: no_grad for op in ROUNDING | {Op.FLOOR_DIV, Op.ARANGE}},  # piecewise constant; no inputs
    **MATH_RULES,  # x % y, copysign; the special functions (erf, atan2, ...) use their derived rows
    # data-dependent indexing and scans
    **GATHER_RULES,  # gathers and scatter-adds, each the other's transpose
    **SCAN_RULES,
    Op.ARGSORT: no_grad,  # an integer result; sort's gradient flows through its gather
    # ops with a body: (backprop, gs, outs, ...) with every output's gradient (passes/vjp_control.py)
    **vjp_control.RULES,
}
"""VJP_RULES[op](g, out, *inputs, **params) -> cotangents. No FUSED row: fusion runs after differentiation."""

HAND_WRITTEN = frozenset(op for op in SCALAR_DEFS if VJP_RULES[op].__name__ != f"derived_{op.value}_vjp")
"""Elementwise ops whose sympy-derived rule is overridden by a hand-written one (tests compare the two)."""

__all__ = ["VJP_RULES", "HAND_WRITTEN", "derived_rule", "is_stop_gradient", "stop_gradient_function"]
