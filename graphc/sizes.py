"""What a graph assumed about its sizes when it was built, as checks to run once a call binds the sizes (in
Python before any backend runs, so every backend gives the same error and none reads out of bounds), and what
those assumptions say about sizes known at build time. Core layer.

The assumptions: sizes an op needs equal (graphc.types.unify); a size large enough for an int or a slice
applied to it (x[2:] has n - 2 rows, x[:3] has 3); a max, min or argmax over a size that is not 0 (they have
no identity: a static 0 is refused when the node is built, graphc.shape_rules).

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

from . import dims
from .dims import Size
from .errors import IndexOutOfBounds, ShapeError, where_built
from .graph import Constant, Node, Variable, toposort
from .ops import NO_IDENTITY, Op, describe
from .shape_rules import empty_reduction_message
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


class IndexFits:
    """An int or a slice applied to a size (or a slice with a size expression as a bound) fits the size."""

    __slots__ = ("node", "axis", "item", "out_dim")
    simple = False

    def __init__(self, node: Node, axis: int, item: tuple, out_dim):
        self.node, self.axis, self.item, self.out_dim = node, axis, item, out_dim

    def __str__(self) -> str:
        return f"{self.item} fits {self.node.inputs[0].type.shape[self.axis]}"

    def verify(self, sizes: dict) -> None:
        node, item = self.node, self.item
        dim = node.inputs[0].type.shape[self.axis]
        size = concrete_dim(dim, sizes)
        if item[0] == "int":
            ok, got = -size <= item[1] < size, f"index {item[1]} is out of bounds"
        else:
            bounds = (concrete_dim(b, sizes) if isinstance(b, dims.Dim) else b for b in item[1:])
            length = len(range(size)[slice(*bounds)])
            ok, got = (
                length == concrete_dim(self.out_dim, sizes),
                f"the slice has {length}, not {self.out_dim}",
            )
        if not ok:
            has = size if isinstance(dim, int) else f"{dim} = {size}"
            raise (IndexOutOfBounds if item[0] == "int" else ShapeError)(
                f"getitem of {describe(node.inputs[0])}: axis {self.axis} has {has}, so {got} "
                f"(the graph was built for larger sizes){where_built(node.origin)}"
            )


class NonEmpty:
    """A max, min or argmax reduces over a size that is not 0 at this call."""

    __slots__ = ("node", "axis")
    simple = False

    def __init__(self, node: Node, axis: int):
        self.node, self.axis = node, axis

    def __str__(self) -> str:
        return f"{self.node.inputs[0].type.shape[self.axis]} > 0"

    def verify(self, sizes: dict) -> None:
        x = self.node.inputs[0]
        dim = x.type.shape[self.axis]
        if concrete_dim(dim, sizes) == 0:
            how = f"{dim} = 0 elements in this call"
            message = empty_reduction_message(self.node.op, x, self.axis, how)
            raise ShapeError(message + where_built(self.node.origin))


def size_checks(nodes: Iterable[Node]) -> list:
    """The assumptions of `nodes`: SizeChecks (each pair once), each naming the node's inputs and the user's
    line, then IndexFits and NonEmpty checks. Each check has verify(sizes) and `simple`.

    A pair two nodes assume is checked once, for the node that reads an input or a shared variable if one
    does (x * W rather than the broadcast a gradient built to match it): its message names what the user
    named."""
    nodes = list(nodes)
    fits = [check for node in nodes for check in _fits(node)]
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
    return checks + fits


def _fits(node: Node) -> list:
    """The IndexFits of a getitem (one per int or slice applied to a symbolic size, or with a size expression
    as a bound) and the NonEmpty checks of a reduction without identity over symbolic sizes."""
    if node.op in NO_IDENTITY:
        x, axis = node.inputs[0], node.params["axis"]
        axes = range(x.type.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        return [NonEmpty(node, a) for a in axes if not isinstance(x.type.shape[a], int)]
    if node.op is not Op.GETITEM:
        return []
    checks = []
    axis, out_axis = 0, 0
    out_shape = node.outputs[0].type.shape
    for item in node.params["index"]:
        if item[0] == "newaxis":
            out_axis += 1
            continue
        symbolic = item[0] == "slice" and any(isinstance(b, dims.Dim) for b in item[1:3])
        if symbolic or not isinstance(node.inputs[0].type.shape[axis], int):
            checks.append(IndexFits(node, axis, item, out_shape[out_axis] if item[0] == "slice" else None))
        axis += 1
        out_axis += item[0] == "slice"
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


__all__ = ["SizeCheck", "IndexFits", "NonEmpty", "size_checks", "known_sizes"]
