"""The canonicalise pass and the driver every rule-table pass shares. Knows nothing of codegen.

The driver is one `FunctionGraph.rebuild` walk: each node, with its inputs already rewritten, is offered to
the rules for its op; a replacement that is itself a new node is offered again (a few times at most), so
`log(1 + exp(x))` goes to `log1p(exp(x))` and then to `softplus(x)` in the same walk. Linear in graph size.
"""

from __future__ import annotations

from collections import Counter

from graphc.fgraph import FunctionGraph
from graphc.graph import Node, Variable

from .rules import CANONICALIZE, Rule, table

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


def canonicalize(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """x+0, x*1, --x, transpose(transpose), reshape(reshape), pow by small constants, constant chains, ..."""
    return apply_rules(fgraph, CANONICALIZE)
