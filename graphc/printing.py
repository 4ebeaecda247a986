"""Text views of a graph: gc.debugprint. Iterative; shared subexpressions are printed once and referred to."""

from __future__ import annotations

import os
import sys

from .graph import Constant, SharedVariable, Variable
from .ops import Op
from .types import shape_str


def _label(v: Variable) -> str:
    kind = "shared " if isinstance(v, SharedVariable) else "const " if isinstance(v, Constant) else ""
    if isinstance(v, Constant) and v.value.size <= 4:
        value = v.value.tolist()
        return f"{kind}{v.name or value} [{v.type.dtype.name}{shape_str(v.type.shape)}]"
    return f"{kind}{v.name or '?'} [{v.type.dtype.name}{shape_str(v.type.shape)}]"


def debugprint(obj, file=None, origins: bool = False) -> str:
    """An indented dump of a graph (a Variable, a list of them, or a compiled Function's optimised graph),
    printed to `file` (stdout) and returned.

    Each node prints as `op{params} -> name [dtype(shape)]` with its inputs indented below; a node already
    printed is shown as `*id` instead of again, so a DAG prints in linear size.

    >>> x = gc.vector("x")
    >>> _ = gc.debugprint(gc.exp(x) + 1)
    #1 add -> ? [float64(x.0,)]
      └ #2 exp -> ? [float64(x.0,)]
        └ x [float64(x.0,)]
      └ const 1.0 [float64()]
    """
    roots, titles = _roots(obj)
    ids: dict[int, int] = {}
    lines: list[str] = []
    for title, root in zip(titles, roots, strict=True):
        if title:
            lines.append(title)
        stack = [(root, 0)]
        while stack:
            var, depth = stack.pop()
            pad = _indent(depth) + ("└ " if depth else "")
            node = var.owner
            if node is None:
                lines.append(pad + _label(var))
                continue
            if id(node) in ids:
                lines.append(f"{pad}*{ids[id(node)]} {node.op.value} -> {_label(var)}")
                continue
            ids[id(node)] = len(ids) + 1
            extra = _params(node)
            where = ""
            if origins and node.origin:
                where = f"  @ {os.path.basename(node.origin[0])}:{node.origin[1]}"
            lines.append(f"{pad}#{ids[id(node)]} {node.op.value}{extra} -> {_label(var)}{where}")
            if node.op is Op.FUSED:
                lines.extend(_indent(depth + 1) + "| " + text for text in node.params["kernel"].describe())
            stack.extend((inp, depth + 1) for inp in reversed(node.inputs))
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text


MAX_INDENT = 32
"""Deeper levels print their depth instead of more spaces: a 100k-node chain stays linear in size."""


def _indent(depth: int) -> str:
    if depth <= MAX_INDENT:
        return "  " * depth
    return "  " * MAX_INDENT + f"[{depth}] "


def _params(node) -> str:
    shown = []
    for key, value in node.params.items():
        if key == "kernel":
            continue
        text = getattr(value, "name", value)
        shown.append(f"{key}={text}")
    return "{" + ", ".join(shown) + "}" if shown else ""


def _roots(obj) -> tuple[list[Variable], list[str]]:
    if isinstance(obj, Variable):
        return [obj], [""]
    if hasattr(obj, "optimized"):  # a compiled Function
        fg = obj.optimized
        titles = [f"output {i}:" for i in range(len(fg.outputs))]
        titles += [f"update {var.name or '?'}:" for var, _ in fg.updates]
        return fg.roots, titles
    roots = list(obj)
    return roots, [f"output {i}:" for i in range(len(roots))]
