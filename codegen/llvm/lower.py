"""The LLVM lowering table LLVM_RULES: one row per Op (the completeness test checks it). Knows ops, not
graphs.

Elementwise ops map to scalar rules ``rule(s, *args)`` (``scalar.SCALAR_RULES``: the IR for one element, run
inside a vectorised loop); every other op maps to a node rule ``rule(lowerer, node, input_views)``
(``nodes.NODE_RULES``: reductions, BLAS matmul, views, softmax, ...). A missing row is a NotImplementedError
at compile time naming the op.
"""

from __future__ import annotations

from collections.abc import Callable

from graphc.ops import Op

from .nodes import NODE_RULES
from .scalar import SCALAR_RULES

LLVM_RULES: dict[Op, Callable] = {**SCALAR_RULES, **NODE_RULES}
"""Every op's lowering: a scalar rule for elementwise ops, a node rule for the rest."""

__all__ = ["LLVM_RULES", "NODE_RULES", "SCALAR_RULES"]
