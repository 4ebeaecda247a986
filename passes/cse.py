"""Common-subexpression elimination: structurally equal nodes become one. Knows nothing of codegen.

Two nodes are equal when they have the same op, the same params (`Node.param_key`) and the same inputs by
identity once earlier merges are applied (for commutative ops, in either order); constants are equal by dtype,
shape and value (bitwise, so 0.0 and -0.0 stay apart and NaN equals NaN); equal array constants become one.
One linear walk with a hash table. After CSE a backward graph built by gc.grad reuses the forward values it
recomputed (fig. 6.9).
"""

from __future__ import annotations

from collections import Counter

from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable, apply
from graphc.ops import Op

COMMUTATIVE = frozenset({Op.ADD, Op.MUL, Op.MAXIMUM, Op.MINIMUM, Op.EQ, Op.NE, Op.AND, Op.OR})


def constant_key(c: Constant) -> tuple:
    return (c.value.dtype.str, c.value.shape, c.value.tobytes())


def cse(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """Merge equal constants and equal nodes; reports `merge_constant` and `merge_<op>` counts."""
    fired: Counter[str] = Counter()
    constants: dict[tuple, Constant] = {}
    seen: dict[tuple, tuple[Variable, ...]] = {}

    def canonical(v: Variable) -> Variable:
        """Equal array constants become one object (memory); scalars are compared by value in `key_of` only,
        since swapping one scalar object for another would rebuild everything downstream for nothing."""
        if not isinstance(v, Constant) or v.value.ndim == 0:
            return v
        first = constants.setdefault(constant_key(v), v)
        if first is not v:
            fired["merge_constant"] += 1
        return first

    def key_of(v: Variable):
        return constant_key(v) if isinstance(v, Constant) else id(v)

    def merge(node: Node, inputs: list[Variable]):
        inputs = [canonical(v) for v in inputs]
        ids = tuple(key_of(v) for v in inputs)
        if node.op in COMMUTATIVE:
            ids = tuple(sorted(ids, key=lambda k: (isinstance(k, tuple), k)))  # ids first, then constant keys
        try:
            key = (node.op, node.param_key, ids)
            hash(key)
        except TypeError:  # params that cannot be hashed (none today): keep the node as it is
            key = None
        if key is not None and key in seen:
            fired[f"merge_{node.op.value}"] += 1
            return seen[key]
        if all(a is b for a, b in zip(inputs, node.inputs, strict=True)):
            outputs = node.outputs
        else:
            built = apply(node.op, inputs, origin=node.origin, **node.params)
            outputs = built if isinstance(built, tuple) else (built,)
        if key is not None:
            seen[key] = outputs
        return outputs

    graph = fgraph.rebuild(merge)
    roots = [canonical(v) for v in graph.roots]
    return graph.with_roots(roots), dict(fired)
