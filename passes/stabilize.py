"""The stabilising pass and its table, STABILIZE: expressions that overflow or cancel become ops that do not.
Run by the rewrite engine (passes/rules.py); knows nothing of codegen.

log(softmax) -> log_softmax, log(sigmoid(x)) -> -softplus(-x), 1-sigmoid(x) -> sigmoid(-x) (hence
log(1-sigmoid(x)) -> -softplus(x)), log(1+x) -> log1p(x), exp(x)-1 -> expm1(x), log(sum(exp(x))) ->
logsumexp(x), log1p(exp(x)) -> softplus(x); and in gradients: (a/s)*s -> a and s*(a/s - b) -> a - s*b for
s = softmax/sigmoid/exp (positive in exact arithmetic), which is what makes the gradient of log(softmax(x))
finite at logits of ±1000.
SOFTMAX, LOG_SOFTMAX and LOGSUMEXP subtract the maximum in their reference semantics (graphc.ops.IMPL) and in
every backend, so logits of ±1000 give finite results. Replacements are simplified again with the canonical
rules (-softplus(-(-y)) -> -softplus(y)).
"""

from __future__ import annotations

from graphc.fgraph import FunctionGraph
from graphc.graph import Variable, apply
from graphc.ops import Op
from graphc.tensor import broadcast_to, neg
from graphc.types import same_shape

from .canonicalize import CANONICALIZE
from .rules import Rule, apply_rules, is_const, keeps_type, owner_op, split_const


# --- the rules --------------------------------------------------------------------------------
def _log_softmax(node, inputs):
    (s,) = inputs
    if owner_op(s) is not Op.SOFTMAX:
        return None
    return keeps_type(apply(Op.LOG_SOFTMAX, s.owner.inputs, axis=s.owner.params["axis"]), node)


def _log_sigmoid(node, inputs):
    (s,) = inputs
    if owner_op(s) is not Op.SIGMOID:
        return None
    x = s.owner.inputs[0]
    minus_x = x.owner.inputs[0] if owner_op(x) is Op.NEG else neg(x)  # log(sigmoid(-y)) -> -softplus(y)
    return keeps_type(neg(apply(Op.SOFTPLUS, (minus_x,))), node)


def _log1p_minus_sigmoid(node, inputs):
    (v,) = inputs
    if owner_op(v) is not Op.NEG or owner_op(v.owner.inputs[0]) is not Op.SIGMOID:
        return None
    return keeps_type(neg(apply(Op.SOFTPLUS, v.owner.inputs[0].owner.inputs)), node)


def _log_one_plus(node, inputs):
    (v,) = inputs
    if owner_op(v) is not Op.ADD:
        return None
    pair = split_const(list(v.owner.inputs))
    if pair is None or not is_const(pair[1], 1) or not same_shape(pair[0].type.shape, v.type.shape):
        return None
    return keeps_type(apply(Op.LOG1P, (pair[0],)), node)


def _log1p_exp(node, inputs):
    (v,) = inputs
    if owner_op(v) is not Op.EXP:
        return None
    return keeps_type(apply(Op.SOFTPLUS, v.owner.inputs), node)


def _exp_minus_one(node, inputs):
    if node.op is Op.SUB:
        e, c = inputs
        if not is_const(c, 1):
            return None
    else:
        pair = split_const(inputs)
        if pair is None or not is_const(pair[1], -1):
            return None
        e = pair[0]
    if owner_op(e) is not Op.EXP:
        return None
    return keeps_type(apply(Op.EXPM1, e.owner.inputs), node)


def _log_sum_exp(node, inputs):
    (s,) = inputs
    if owner_op(s) is not Op.SUM or owner_op(s.owner.inputs[0]) is not Op.EXP:
        return None
    x = s.owner.inputs[0].owner.inputs[0]
    if x.type.dtype.kind != "f":
        return None
    return keeps_type(apply(Op.LOGSUMEXP, (x,), **s.owner.params), node)


def _softmax_by_hand(node, inputs):
    """exp(x) / sum(exp(x), axis=a, keepdims=True), with the same exp node, is softmax(x, a)."""
    e, s = inputs
    if owner_op(e) is not Op.EXP or owner_op(s) is not Op.SUM or s.owner.inputs[0] is not e:
        return None
    axis, keepdims = s.owner.params["axis"], s.owner.params["keepdims"]
    x = e.owner.inputs[0]
    if len(axis) != 1 or not keepdims or x.type.dtype.kind != "f":
        return None
    return keeps_type(apply(Op.SOFTMAX, (x,), axis=axis[0]), node)


# Ops whose result is positive in exact arithmetic: 0 or inf only by under/overflow. Dividing by such a value
# and multiplying back (what the gradient of log(softmax(x)) does) turns that underflow into 0/0 = NaN.
_POSITIVE = frozenset({Op.SOFTMAX, Op.SIGMOID, Op.EXP})


def _divided_by(d: Variable, s: Variable) -> Variable | None:
    """a where d = a / s and s is a positive op's result, else None."""
    if owner_op(d) is Op.DIV and d.owner.inputs[1] is s and owner_op(s) in _POSITIVE:
        return d.owner.inputs[0]
    return None


def _mul_div_cancel(node, inputs):
    a, b = inputs
    for d, s in ((a, b), (b, a)):
        num = _divided_by(d, s)
        if num is not None:  # a may be smaller than a/s (1/s where the gradient starts): broadcast it back
            return keeps_type(broadcast_to(num, node.outputs[0].type.shape), node)
    return None


def _softmax_grad_cancel(node, inputs):
    """s * (a/s - b) -> a - s*b: the softmax gradient through log, without 0/0 where s underflows."""
    a, b = inputs
    for t, s in ((a, b), (b, a)):
        if owner_op(t) is Op.SUB:
            num = _divided_by(t.owner.inputs[0], s)
            if num is not None:
                return keeps_type(apply(Op.SUB, (num, apply(Op.MUL, (s, t.owner.inputs[1])))), node)
    return None


def _one_minus_sigmoid(node, inputs):
    one, s = inputs
    if (
        not is_const(one, 1)
        or owner_op(s) is not Op.SIGMOID
        or not same_shape(s.type.shape, node.outputs[0].type.shape)
    ):
        return None
    return keeps_type(apply(Op.SIGMOID, (neg(s.owner.inputs[0]),)), node)


STABILIZE: list[Rule] = [
    Rule("local_softmax_by_hand", Op.DIV, _softmax_by_hand),  # exp(x)/sum(exp(x)) -> softmax(x)
    Rule("local_log_softmax", Op.LOG, _log_softmax),  # log(softmax(x)) -> log_softmax(x)
    Rule("local_log_sigmoid", Op.LOG, _log_sigmoid),  # log(sigmoid(x)) -> -softplus(-x)
    Rule("local_log_one_plus", Op.LOG, _log_one_plus),  # log(1+x) -> log1p(x)
    Rule("local_log_sum_exp", Op.LOG, _log_sum_exp),  # log(sum(exp(x))) -> logsumexp(x)
    Rule("local_log1p_exp", Op.LOG1P, _log1p_exp),  # log1p(exp(x)) -> softplus(x)
    Rule("local_log1p_minus_sigmoid", Op.LOG1P, _log1p_minus_sigmoid),  # log1p(-sigmoid(x)) -> -softplus(x)
    Rule("local_expm1", Op.SUB, _exp_minus_one),  # exp(x) - 1 -> expm1(x)
    Rule("local_one_minus_sigmoid", Op.SUB, _one_minus_sigmoid),  # 1 - sigmoid(x) -> sigmoid(-x), exactly
    # ... so log(1 - sigmoid(x)) -> log(sigmoid(-x)) -> -softplus(x) by local_log_sigmoid
    Rule("local_expm1", Op.ADD, _exp_minus_one),  # exp(x) + -1 -> expm1(x)
    Rule("local_mul_div_cancel", Op.MUL, _mul_div_cancel),  # (a / s) * s -> a, s = softmax, sigmoid, exp
    Rule("local_softmax_grad_cancel", Op.MUL, _softmax_grad_cancel),  # s * (a/s - b) -> a - s*b
]
"""The stabilising rules: each replaces an expression that overflows or cancels by an op that does not."""


def stabilize(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """The stabilising rules, and the canonical ones to simplify what they build."""
    return apply_rules(fgraph, STABILIZE + CANONICALIZE)
