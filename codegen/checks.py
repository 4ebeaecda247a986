"""Checks on the data, made during a call: the specs every backend raises the same error from. Owns
RUNTIME_CHECKS; knows the graph IR, no backend.

A check names what it guards (the node, which input, the bound) and builds the error from what a backend
found (the bad value and where). The interp and numpy backends run ``check.verify(array)`` in Python before
the node; the llvm backend's rule tests each value where it reads it, with ``ctx.fail_if(bad, check, value,
position)``, and the native entry reports the same numbers back. Adding a check to an op is a row here and,
in its llvm rule, one ``fail_if``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.errors import IndexOutOfRange, where_built
from graphc.graph import Node
from graphc.ops import Op, describe


@dataclass(frozen=True, eq=False)
class RangeCheck:
    """Every value of input ``arg`` of ``node`` must lie in [0, bound): a one_hot label, a gather index."""

    node: Node
    arg: int
    bound: int
    what: str = "index"  # how the message names one value
    measures: str = "axis 0"  # what the bound is the size of

    def error(self, value, bound, position) -> IndexOutOfRange:
        """The error for the first bad value found: ``value`` at flat (C-order) ``position``."""
        var = self.node.inputs[self.arg]
        bound = self.bound if bound is None else bound
        order = " (C order)" if var.type.ndim > 1 else ""
        where = "" if position is None else f" at index {position}{order}"
        shown = "?" if value is None else value
        return IndexOutOfRange(
            f"{self.node.op.value}: {self.what} {shown}{where} of {describe(var)} is out of range for "
            f"{self.measures} {bound}: {self.what}s must be in [0, {bound}); nothing was updated"
            f"{where_built(self.node.origin)}",
            value=value,
            bound=bound,
            position=position,
            name=var.name,
        )

    def verify(self, values: np.ndarray) -> None:
        """Raise the error for the first value outside [0, bound), in C order (what native code finds)."""
        values = np.asarray(values)
        # viewed as unsigned, a negative value is huge: one reduction finds both kinds of bad value
        if values.size and values.view(_UNSIGNED[values.dtype.itemsize]).max() >= self.bound:
            flat = values.ravel()
            position = int(np.flatnonzero((flat < 0) | (flat >= self.bound))[0])
            raise self.error(int(flat[position]), self.bound, position)


_UNSIGNED = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


def one_hot_labels(node: Node) -> RangeCheck:
    """one_hot(labels, depth): a label outside [0, depth) would silently give a zero row (and zero loss)."""
    return RangeCheck(node, 0, node.params["depth"], what="label", measures="depth")


RUNTIME_CHECKS: dict[Op, Callable[[Node], tuple[RangeCheck, ...]]] = {
    Op.ONE_HOT: lambda node: (one_hot_labels(node),),
}
"""RUNTIME_CHECKS[op](node) -> the checks on node's inputs made at every call; ops without a row need none."""


def checks_of(node: Node) -> tuple[RangeCheck, ...]:
    rows = RUNTIME_CHECKS.get(node.op)
    return rows(node) if rows is not None else ()


__all__ = ["RUNTIME_CHECKS", "RangeCheck", "checks_of", "one_hot_labels"]
