"""Checks on named sizes at each call, in Python before any backend runs, so that every backend gives the same
error and none reads out of bounds. Core layer (the compile driver calls it).

The types assume a named size fits what is applied to it: an int or a slice (x[2:] has n - 2 rows, x[:3] has
3), and a max, min or argmax over it (they have no identity: the maximum of nothing is undefined, where NumPy
raises a bare ValueError). A static size of 0 under those reductions is refused when the node is built
(graphc.shape_rules); a named one is checked here, on each call's sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import sympy

from .errors import IndexOutOfBounds, ShapeError, where_built
from .ops import NO_IDENTITY, Op, describe
from .types import concrete_dim

SizeCheck = Callable[[dict], None]
"""check(sizes) raises a GraphcError naming the node's input, the axis and the user's line, or returns."""


def size_checks(fgraph) -> list[SizeCheck]:
    """The checks a call of `fgraph` needs (none for a graph of static shapes)."""
    checks: list[SizeCheck] = []
    for node in fgraph.nodes:
        if node.op is Op.GETITEM:
            checks += _index_checks(node)
        elif node.op in NO_IDENTITY:
            x = node.inputs[0]
            axis = node.params["axis"]
            axes = range(x.type.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
            checks += [partial(_nonempty, node, a) for a in axes if not isinstance(x.type.shape[a], int)]
    return checks


def check_sizes(checks: list[SizeCheck], sizes: dict) -> None:
    for check in checks:
        check(sizes)


def _index_checks(node) -> list[SizeCheck]:
    """One check per int or slice applied to a named size, or with a size expression as a bound."""
    checks = []
    axis, out_axis = 0, 0
    out_shape = node.outputs[0].type.shape
    for item in node.params["index"]:
        if item[0] == "newaxis":
            out_axis += 1
            continue
        symbolic = item[0] == "slice" and any(isinstance(b, sympy.Basic) for b in item[1:3])
        if symbolic or not isinstance(node.inputs[0].type.shape[axis], int):
            out_dim = out_shape[out_axis] if item[0] == "slice" else None
            checks.append(partial(_index_fits, node, axis, item, out_dim))
        axis += 1
        out_axis += item[0] == "slice"
    return checks


def _index_fits(node, axis: int, item: tuple, out_dim, sizes: dict) -> None:
    dim = node.inputs[0].type.shape[axis]
    size = concrete_dim(dim, sizes)
    if item[0] == "int":
        ok, got = -size <= item[1] < size, f"index {item[1]} is out of bounds"
    else:
        bounds = (concrete_dim(b, sizes) if isinstance(b, sympy.Basic) else b for b in item[1:])
        length = len(range(size)[slice(*bounds)])
        ok, got = length == concrete_dim(out_dim, sizes), f"the slice has {length}, not {out_dim}"
    if not ok:
        raise (IndexOutOfBounds if item[0] == "int" else ShapeError)(
            f"getitem of {describe(node.inputs[0])}: axis {axis} has {dim} = {size}, so {got} "
            f"(the graph was built for larger sizes){where_built(node.origin)}"
        )


def _nonempty(node, axis: int, sizes: dict) -> None:
    dim = node.inputs[0].type.shape[axis]
    if concrete_dim(dim, sizes) == 0:
        how = f"{dim} = 0 elements in this call"
        raise ShapeError(
            empty_reduction_message(node.op, node.inputs[0], axis, how) + where_built(node.origin)
        )


def empty_reduction_message(op: Op, x, axis: int, how: str) -> str:
    """Why a max, min or argmax over an empty axis is refused (at build time or at a call)."""
    return (
        f"{op.value} over axis {axis} of {describe(x)}: the axis has {how}, and the "
        f"{'maximum' if op is not Op.MIN else 'minimum'} of nothing is undefined"
    )
