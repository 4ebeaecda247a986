"""The sizes a graph assumed equal when it was built (graphc.types.unify), as checks to run once a call binds
the sizes, and what those assumptions say about sizes known at build time. Core layer.

    >>> import numpy as np, graphc as gc
    >>> x = gc.matrix("x")
    >>> y = x @ gc.shared(np.ones((3, 4)))          # x.1 must be 3: an assumption of the matmul
    >>> [str(c) for c in size_checks(gc.toposort([y]))]
    ['x.1 = 3']
    >>> known_sizes([y])
    {x.1: 3}
"""

from __future__ import annotations

from collections.abc import Iterable

from .dims import Size
from .errors import ShapeError, where_built
from .graph import Constant, Node, Variable, toposort
from .ops import describe
from .types import Dim, concrete_dim


class SizeCheck:
    """Two sizes `what` (a node, an update) needs equal, checked each call once the inputs bind the sizes."""

    __slots__ = ("what", "a", "b", "origin")

    def __init__(self, what: str, a: Dim, b: Dim, origin):
        self.what, self.a, self.b, self.origin = what, a, b, origin

    def __str__(self) -> str:
        return f"{self.a} = {self.b}"

    @property
    def simple(self) -> bool:
        """Both sides are numbers or sizes an input gives directly (the fast input check compares them)."""
        return isinstance(self.a, int | Size) and isinstance(self.b, int | Size)

    def verify(self, sizes: dict) -> None:
        """A ShapeError naming both sizes, their values at this call and the user's line, if they differ."""
        got_a, got_b = concrete_dim(self.a, sizes), concrete_dim(self.b, sizes)
        if got_a == got_b:
            return
        (a, got_a), (b, got_b) = sorted(
            [(self.a, got_a), (self.b, got_b)], key=lambda s: isinstance(s[0], int)
        )
        if isinstance(b, int):
            problem = f"{a} must be {b}, but it is {got_a} at this call"
        else:
            problem = f"{a} and {b} must be equal, but {a} = {got_a} and {b} = {got_b} at this call"
        raise ShapeError(f"{self.what}: {problem}{where_built(self.origin)}")


def size_checks(nodes: Iterable[Node]) -> list[SizeCheck]:
    """The assumptions of `nodes` (each pair once), each naming the node's inputs and the user's line.

    A pair two nodes assume is checked once, for the node that reads an input or a shared variable if one
    does (x * W rather than the broadcast a gradient built to match it): its message names what the user
    named."""
    nodes = sorted(
        nodes, key=lambda n: not any(v.owner is None and not isinstance(v, Constant) for v in n.inputs)
    )
    seen: set = set()
    checks = []
    for node in nodes:
        for a, b in node.assumes:
            if frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                what = f"{node.op.value} of " + " and ".join(describe(v) for v in node.inputs)
                checks.append(SizeCheck(what, a, b, node.origin))
    return checks


def known_sizes(outputs: Iterable[Variable]) -> dict:
    """{size: number} for each size the graph of `outputs` assumed equal to a number, directly or through
    other sizes (x.1 = W.0 and W.0 = 3 give x.1 = 3 and W.0 = 3)."""
    parent: dict = {}

    def find(d):
        while d in parent:
            d = parent[d]
        return d

    for node in toposort(outputs):
        for a, b in node.assumes:
            ra, rb = find(a), find(b)
            if ra != rb:
                if isinstance(rb, int):  # a number is the representative of its class
                    ra, rb = rb, ra
                parent[rb] = ra
    known = {}
    for d in parent:
        root = find(d)
        if isinstance(root, int) and not isinstance(d, int):
            known[d] = root
    return known


__all__ = ["SizeCheck", "size_checks", "known_sizes"]
