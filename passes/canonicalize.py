"""The canonicalise pass and its table, CANONICALIZE: small named `local_*` rows, each with its math, run by
the rewrite engine (passes/rules.py). Imports only the graphc core; knows nothing of codegen.

NaN/Inf policy (the choice the issue asks us to document):
- x*0 -> 0 and x-x -> 0 fire only for integer dtypes: for floats inf*0 and inf-inf are NaN, so they would
  change results.
- x+0 -> x may turn x = -0.0 into -0.0 where the graph gave +0.0; zeros compare equal, so we accept it.
- exp(log x) -> x assumes x is in the domain of log (x >= 0), as PyTensor and most compilers do; for x < 0
  the unoptimised graph gives NaN and the rewritten one gives x.
- Chained constants are reassociated ((x*2)*3 -> x*6): results agree to rounding, not bit for bit; not where
  the merged constant would overflow or underflow ((x*1e308)*10 stays as it is: x*inf is NaN at x = 0).
- x**0.5 -> sqrt(x) is exact (NumPy's power special-cases it the same way); x**-0.5 is left alone: 1/sqrt(x)
  would differ from NumPy's power at -0.0 (-inf, not inf) and -inf (NaN, not 0).
- The stabilising rules (passes/stabilize.py) exist to replace Inf/NaN by the right finite value
  (log(sigmoid(-1000)) = -1000).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphc.errors import ShapeError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Variable, apply
from graphc.ops import ELEMENTWISE, IMPL, Op
from graphc.tensor import mul, neg, reshape, sqrt, sum_, transpose, true_divide
from graphc.types import broadcast_shapes, dims_equal, same_shape

from .rules import (
    Rule,
    RuleFn,
    apply_rules,
    const_like,
    filled,
    is_const,
    is_int,
    keeps_type,
    owner_op,
    scalar_const,
    split_const,
)


# --- the rules ----------------------------------------------------------------------------------------------
def _identity_operand(unit: float, commutative: bool) -> RuleFn:
    def rule(node, inputs):
        pair = split_const(inputs, commutative)
        if pair is None or not is_const(pair[1], unit):
            return None
        return keeps_type(pair[0], node)

    return rule


def _mul_zero(node, inputs):
    pair = split_const(inputs)
    if pair is None or not is_const(pair[1], 0) or not is_int(node.outputs[0]):
        return None
    return keeps_type(filled(0, node), node)


def _mul_minus_one(node, inputs):
    pair = split_const(inputs)
    if pair is None or not is_const(pair[1], -1) or node.outputs[0].type.dtype.kind == "b":
        return None
    return keeps_type(neg(pair[0]), node)


def _sub_self(node, inputs):
    x, y = inputs
    if x is not y or not is_int(node.outputs[0]):
        return None
    return keeps_type(filled(0, node), node)


def _zero_sub(node, inputs):
    x, y = inputs
    if not is_const(x, 0) or isinstance(y, Constant):
        return None
    return keeps_type(neg(y), node)


def _inverse_pair(inner: Op) -> RuleFn:
    def rule(node, inputs):
        (x,) = inputs
        return keeps_type(x.owner.inputs[0], node) if owner_op(x) is inner else None

    return rule


def _transpose_transpose(node, inputs):
    (x,) = inputs
    if owner_op(x) is not Op.TRANSPOSE:
        return None
    inner = x.owner.params["perm"]
    # y = x.T(inner); y.T(outer)[i] = x axis inner[outer[i]]
    perm = tuple(inner[p] for p in node.params["perm"])
    return keeps_type(transpose(x.owner.inputs[0], perm), node)


def _reshape_reshape(node, inputs):
    (x,) = inputs
    if owner_op(x) is not Op.RESHAPE:
        return None
    return keeps_type(reshape(x.owner.inputs[0], node.params["shape"]), node)


def _reduce_size_one_axes(node, inputs):
    (x,) = inputs
    axes = node.params["axis"]
    if not all(isinstance(x.type.shape[a], int) and x.type.shape[a] == 1 for a in axes):
        return None
    return keeps_type(reshape(x, node.outputs[0].type.shape), node)


def _sum_of_broadcast(node, inputs):
    """sum(broadcast_to(x, S), A) = sum(x, A) * (product of S over the axes of A that x broadcasts)."""
    (b,) = inputs
    if owner_op(b) is not Op.BROADCAST_TO:
        return None
    x = b.owner.inputs[0]
    target = b.type.shape
    padded = (1,) * (len(target) - x.type.ndim) + tuple(x.type.shape)
    axes, count, reduce_real = node.params["axis"], 1, False
    for i, (d, s) in enumerate(zip(padded, target, strict=True)):
        if i in axes:
            if isinstance(d, int) and d == 1:
                if not isinstance(s, int):
                    return None  # a symbolic count: leave it to the runtime
                count *= s
            else:
                reduce_real = True
        elif not dims_equal(d, s):
            return None  # a kept axis is broadcast: no saving
    lead = len(target) - x.type.ndim  # axes broadcast_to put in front of x
    keepdims = node.params["keepdims"]
    if reduce_real and not keepdims and all(i in axes for i in range(lead)):
        base = sum_(x, axis=tuple(a - lead for a in axes if a >= lead))
    elif reduce_real:
        base = sum_(reshape(x, padded), axis=axes, keepdims=keepdims)
    else:
        base = reshape(x, node.outputs[0].type.shape)
    if count != 1:
        base = mul(base, const_like(count, base))
    return keeps_type(base, node)


_POWERS: dict[float, Callable[[Variable], Variable]] = {
    1.0: lambda x: x,
    2.0: lambda x: mul(x, x),
    3.0: lambda x: mul(mul(x, x), x),
    4.0: lambda x: (lambda sq: mul(sq, sq))(mul(x, x)),
    -1.0: lambda x: true_divide(const_like(1, x), x),
    -2.0: lambda x: true_divide(const_like(1, x), mul(x, x)),
    0.5: lambda x: sqrt(x),
}


def _pow_small_constant(node, inputs):
    x, k = inputs
    exponent = scalar_const(k)
    if exponent is None or isinstance(x, Constant):
        return None
    if exponent == 0:  # x**0 is 1 for every x, NaN and inf included (IEEE pow, NumPy)
        return keeps_type(filled(1, node), node)
    if float(exponent) not in _POWERS:
        return None
    if (exponent < 0 or exponent == 0.5) and x.type.dtype.kind != "f":
        return None  # int ** negative is an error in NumPy; sqrt of an int changes the dtype
    return keeps_type(_POWERS[float(exponent)](x), node)


def _merge_constant_chain(op: Op) -> RuleFn:
    """(x op c1) op c2 -> x op (c1 op c2) for an associative, commutative op, all in one dtype."""

    def rule(node, inputs):
        pair = split_const(inputs)
        if pair is None:
            return None
        inner, c2 = pair
        if owner_op(inner) is not op:
            return None
        inner_pair = split_const(list(inner.owner.inputs))
        if inner_pair is None:
            return None
        x, c1 = inner_pair
        dtype = node.outputs[0].type.dtype
        if not all(v.type.dtype == dtype for v in (x, c1, c2, inner)):
            return None
        with np.errstate(all="ignore"):
            combined = np.asarray(IMPL[op](c1.value, c2.value))
        if combined.dtype != dtype or not _merge_is_safe(op, c1.value, c2.value, combined):
            return None
        return keeps_type(apply(op, (x, Constant(combined))), node)

    return rule


def _merge_is_safe(op: Op, c1: np.ndarray, c2: np.ndarray, combined: np.ndarray) -> bool:
    """Reassociated float constants agree to rounding unless c1 op c2 leaves the normal range: an overflow
    ((x*1e308)*10 -> x*inf, NaN at x = 0) or, for *, an underflow to 0 or a subnormal ((x*1e-200)*1e-200 ->
    x*0, NaN at x = inf). Integers wrap the same either way."""
    if combined.dtype.kind != "f":
        return True
    if not np.all(np.isfinite(combined)):
        return False
    if op is Op.MUL:
        normal = np.abs(combined) >= np.finfo(combined.dtype).tiny
        return bool(np.all(normal | (c1 == 0) | (c2 == 0)))
    return True


def _drop_broadcast(node, inputs):
    """Elementwise ops broadcast by themselves: broadcast_to(x, S) + y -> x + y where the result keeps its
    shape. (Gradients of sum and mean are full of these; left alone they would split fusion groups.)"""
    new = [v.owner.inputs[0] if owner_op(v) is Op.BROADCAST_TO else v for v in inputs]
    if all(a is b for a, b in zip(new, inputs, strict=True)):
        return None
    try:
        shape = broadcast_shapes(*(v.type.shape for v in new))
    except ShapeError:
        return None
    if not same_shape(shape, node.outputs[0].type.shape):
        return None  # the broadcast was what gave the result its shape
    return keeps_type(apply(node.op, new, **node.params), node)


CANONICALIZE: list[Rule] = [
    Rule("local_add_zero", Op.ADD, _identity_operand(0, True)),  # x + 0 -> x
    Rule("local_sub_zero", Op.SUB, _identity_operand(0, False)),  # x - 0 -> x
    Rule("local_zero_sub", Op.SUB, _zero_sub),  # 0 - x -> -x
    Rule("local_sub_self", Op.SUB, _sub_self),  # x - x -> 0 (integers only)
    Rule("local_mul_one", Op.MUL, _identity_operand(1, True)),  # x * 1 -> x
    Rule("local_mul_zero", Op.MUL, _mul_zero),  # x * 0 -> 0 (integers only)
    Rule("local_mul_minus_one", Op.MUL, _mul_minus_one),  # x * -1 -> -x
    Rule("local_div_one", Op.DIV, _identity_operand(1, False)),  # x / 1 -> x
    Rule("local_neg_neg", Op.NEG, _inverse_pair(Op.NEG)),  # --x -> x
    Rule("local_exp_log", Op.EXP, _inverse_pair(Op.LOG)),  # exp(log x) -> x (x >= 0)
    Rule("local_log_exp", Op.LOG, _inverse_pair(Op.EXP)),  # log(exp x) -> x
    Rule("local_transpose_transpose", Op.TRANSPOSE, _transpose_transpose),  # (x^T1)^T2 -> x^(T1∘T2)
    # reshape(reshape(x, s1), s2) -> reshape(x, s2)
    Rule("local_reshape_reshape", Op.RESHAPE, _reshape_reshape),
    Rule("local_sum_of_broadcast", Op.SUM, _sum_of_broadcast),  # sum(broadcast_to(x)) -> sum(x) * count
    *[
        Rule("local_reduce_size_one", op, _reduce_size_one_axes)  # sum(x[.., 1, ..], axis=1) -> reshape(x)
        for op in (Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD)
    ],
    Rule("local_pow_small_constant", Op.POW, _pow_small_constant),  # x**2 -> x*x, x**-1 -> 1/x, x**0 -> 1
    Rule("local_mul_constant_chain", Op.MUL, _merge_constant_chain(Op.MUL)),  # (x*c1)*c2 -> x*(c1*c2)
    Rule("local_add_constant_chain", Op.ADD, _merge_constant_chain(Op.ADD)),  # (x+c1)+c2 -> x+(c1+c2)
    *[
        Rule("local_drop_broadcast", op, _drop_broadcast)  # broadcast_to(x, S) * y -> x * y (same shape)
        for op in sorted(ELEMENTWISE, key=lambda o: o.value)
    ],
]
"""The canonicalising rules, tried in this order on each node."""


def canonicalize(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """x+0, x*1, --x, transpose(transpose), reshape(reshape), pow by small constants, constant chains, ..."""
    return apply_rules(fgraph, CANONICALIZE)
