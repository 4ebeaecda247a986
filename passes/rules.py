"""The rewrite engine every rule-table pass shares: `Rule`, `apply_rules`, and the helpers rules are written
with. Imports only the graphc core; the tables live beside their passes (CANONICALIZE in canonicalize.py,
STABILIZE in stabilize.py).

A rule is `fn(node, inputs) -> Variable | None`: given a single-output node and its (already rewritten)
inputs, it returns an equal value built from other nodes, or None where it does not apply. A rule never
changes the dtype or the shape of the value it replaces (`keeps_type` guards every replacement).

`apply_rules` is one `FunctionGraph.rebuild` walk: each node, with its inputs already rewritten, is offered to
the rules for its op; a replacement that is itself a new node is offered again (a few times at most), so
`log(1 + exp(x))` goes to `log1p(exp(x))` and then to `softplus(x)` in the same walk. Linear in graph size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable
from graphc.ops import Op
from graphc.tensor import broadcast_to
from graphc.types import same_shape

RuleFn = Callable[[Node, list[Variable]], Variable | None]


@dataclass(frozen=True)
class Rule:
    name: str
    op: Op
    fn: RuleFn


def table(rules: list[Rule]) -> dict[Op, list[Rule]]:
    """Rules grouped by the op they match, keeping their order."""
    by_op: dict[Op, list[Rule]] = {}
    for rule in rules:
        by_op.setdefault(rule.op, []).append(rule)
    return by_op


MAX_REWRITES_PER_NODE = 8  # a bound on re-offering replacements; rules shrink or stabilise, so 2-3 suffice


def apply_rules(fgraph: FunctionGraph, rules: list[Rule]) -> tuple[FunctionGraph, dict[str, int]]:
    """Rewrite `fgraph` with `rules` in one walk; returns the new graph and {rule name: times fired}."""
    by_op = table(rules)
    fired: Counter[str] = Counter()

    def first_match(node: Node, inputs: list[Variable]) -> tuple[str, Variable] | None:
        for rule in by_op.get(node.op, ()):
            new = rule.fn(node, inputs)
            if new is not None:
                return rule.name, new
        return None

    def rewrite(node: Node, inputs: list[Variable]):
        if len(node.outputs) != 1 or node.op not in by_op:
            return None
        # Values made inside a rule have larger ids than everything that existed before (ids only grow and an
        # ancestor is always made before its descendants), which tells new nodes from old ones cheaply.
        mark = max(node.outputs[-1].id, max(v.id for v in inputs)) if inputs else node.outputs[-1].id
        result, current, current_inputs = None, node, inputs
        for _ in range(MAX_REWRITES_PER_NODE):
            match = first_match(current, current_inputs)
            if match is None:
                break
            name, result = match
            fired[name] += 1
            if result.owner is None or result.id <= mark:
                break
            current, current_inputs = result.owner, list(result.owner.inputs)
        return None if result is None else [result]

    return fgraph.rebuild(rewrite), dict(fired)


# --- helpers ------------------------------------------------------------------------------------------------
def const_value(v: Variable) -> np.ndarray | None:
    return v.value if isinstance(v, Constant) else None


def is_const(v: Variable, c: float) -> bool:
    """v is a constant whose every element equals c."""
    if not isinstance(v, Constant):
        return False
    value = v.value
    if value.size == 1:  # the common case, without NumPy's reduction machinery
        return value.item() == c
    return value.size > 0 and bool(np.all(value == c))


def scalar_const(v: Variable) -> float | None:
    """The single value of a constant whose elements are all equal (a scalar in disguise), else None."""
    value = const_value(v)
    if value is None or value.size == 0 or value.dtype.kind == "b":
        return None
    first = value.flat[0]
    return first.item() if bool(np.all(value == first)) else None


def keeps_type(new: Variable | None, node: Node) -> Variable | None:
    """`new` if it has exactly the dtype and shape of the node's output, else None (the rule fails)."""
    out = node.outputs[0]
    if new is None or new.type.dtype != out.type.dtype or not same_shape(new.type.shape, out.type.shape):
        return None
    return new


def const_like(value, like: Variable) -> Constant:
    return Constant(np.asarray(value, dtype=like.type.dtype))


def filled(value, node: Node) -> Variable:
    """A constant with the node output's dtype, broadcast to its (possibly symbolic) shape."""
    out = node.outputs[0]
    return broadcast_to(const_like(value, out), out.type.shape)


def split_const(inputs: list[Variable], commutative: bool = True) -> tuple[Variable, Variable] | None:
    """(x, c) for a binary node with one constant operand c (on the right, or either side if commutative)."""
    a, b = inputs
    if isinstance(b, Constant) and not isinstance(a, Constant):
        return a, b
    if commutative and isinstance(a, Constant) and not isinstance(b, Constant):
        return b, a
    return None


def owner_op(v: Variable) -> Op | None:
    return v.owner.op if v.owner is not None else None


def is_int(v: Variable) -> bool:
    return v.type.dtype.kind in "iu"
