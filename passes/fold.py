"""Constant folding: a node whose inputs are all constants becomes a constant, computed with the ops' NumPy
reference semantics (graphc.ops.IMPL). Knows nothing of codegen.

Bounded: a result of more than MAX_FOLD_ELEMENTS elements is not folded, and neither is a result that would be
larger than its inputs put together unless it is small (folding broadcast_to(0.0, (1000, 1000)) would turn a
scalar into a megabyte constant). Random ops are never folded (NEVER_FOLD).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable
from graphc.ops import IMPL, Op
from graphc.types import is_static, symbolic_params

MAX_FOLD_ELEMENTS = 100_000
SMALL_FOLD_ELEMENTS = 4096  # results this small are folded even where they grow
# Random ops are never folded: a constant counter today is a shared counter tomorrow, and a folded sample
# would bake one draw of numbers into the graph (it is a pure function of its counter, so CSE may merge it).
NEVER_FOLD: frozenset[Op] = frozenset({Op.RANDOM_UNIFORM})


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _foldable(node: Node, inputs: list[Variable]) -> bool:
    if node.op in NEVER_FOLD or not all(isinstance(v, Constant) for v in inputs):
        return False
    if not all(is_static(out.type.shape) for out in node.outputs):
        return False
    if symbolic_params(node.params):
        return False
    out_size = sum(_size(out.type.shape) for out in node.outputs)
    in_size = sum(v.value.size for v in inputs)
    return out_size <= MAX_FOLD_ELEMENTS and (out_size <= in_size or out_size <= SMALL_FOLD_ELEMENTS)


def constant_fold(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """Replace constant subexpressions by their values; reports `fold_<op>` counts."""
    fired: Counter[str] = Counter()

    def fold(node: Node, inputs: list[Variable]):
        if not _foldable(node, inputs):
            return None
        try:
            with np.errstate(all="ignore"):
                result = IMPL[node.op](*(v.value for v in inputs), **node.params)
        except Exception:  # noqa: BLE001 - bad data (an integer to a negative power): the call's check says so
            return None
        results = result if len(node.outputs) > 1 else (result,)
        constants = []
        for out, value in zip(node.outputs, results, strict=True):
            value = np.asarray(value)
            if value.dtype != out.type.dtype or value.shape != out.type.shape:
                return None  # the reference disagrees with the type rule: leave it to the runtime check
            constants.append(Constant(value))  # Constant copies into a fresh C-ordered array
        fired[f"fold_{node.op.value}"] += 1
        return constants

    return fgraph.rebuild(fold), dict(fired)
