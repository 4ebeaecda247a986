"""The stabilising pass: rewrites expressions that overflow or cancel into ops that do not. Knows no codegen.

log(softmax) -> log_softmax, log(sigmoid(x)) -> -softplus(-x), log(1-sigmoid(x)) -> -softplus(x),
log(1+x) -> log1p(x), exp(x)-1 -> expm1(x), log(sum(exp(x))) -> logsumexp(x), log1p(exp(x)) -> softplus(x);
and in gradients: (a/s)*s -> a and s*(a/s - b) -> a - s*b for s = softmax/sigmoid/exp (positive in exact
arithmetic), which is what makes the gradient of log(softmax(x)) finite at logits of ±1000.
SOFTMAX, LOG_SOFTMAX and LOGSUMEXP subtract the maximum in their reference semantics (graphc.ops.IMPL) and in
every backend, so logits of ±1000 give finite results. Replacements are simplified again with the canonical
rules (-softplus(-(-y)) -> -softplus(y)).
"""

from __future__ import annotations

from graphc.fgraph import FunctionGraph

from .canonicalize import apply_rules
from .rules import CANONICALIZE, STABILIZE


def stabilize(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    return apply_rules(fgraph, STABILIZE + CANONICALIZE)
