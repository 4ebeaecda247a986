"""Loops and branches in the graph: gc.scan and gc.cond build SCAN and COND nodes whose body is a sub-graph
(graphc.bodies has their semantics). Core layer: builders only.

A body is traced once: the step function runs on placeholder Variables, and what it builds is the body.
Values from the enclosing graph that it uses (weights, an encoder's outputs) are *captured*: each becomes an
input of the body and of the node, so the body is a closed graph (saved to files, differentiated, lowered
on its own). Scalar constants stay inside. Values the step function builds are told from older ones by their
ids, which only grow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import DTypeError, GraphcError, ShapeError, where_built
from .fgraph import FunctionGraph
from .graph import Constant, Node, SharedVariable, Variable, _ids, apply, as_variable
from .ops import Op, describe
from .origin import here, user_origin
from .types import Type, as_dim, mismatch, shapes_unify, unify


def scan(step: Callable, init, xs=None, length=None, reverse: bool = False):
    """Loop `step` over the leading axis of `xs`, threading a carry: JAX's ``lax.scan`` contract.

    ``step(carry, x) -> (new_carry, y)``; `init` and `xs` are Variables or tuples/lists of them (nested
    tuples/lists work), and so is what `step` returns (y may be None). Returns ``(final_carry, ys)``, the ys
    stacked along a new axis 0. The number of steps T is the sequences' length (a named size such as "T":
    a new length never recompiles), or `length` when xs is None. T = 0 runs no step: the carry is `init` and
    each ys is empty, of shape (0, ...). Values of the enclosing graph used in `step` (weights) become inputs
    of the loop, and gc.grad through it is another (reverse) scan in the same graph.

        >>> import numpy as np, graphc as gc
        >>> xs = gc.tensor("xs", ("T", 3))
        >>> total, running = gc.scan(lambda c, x: (c + x, c + x), gc.constant(np.zeros(3)), xs)
        >>> gc.function([xs], running)(np.ones((4, 3)))[:, 0]
        array([1., 2., 3., 4.])
    """
    init_leaves, init_tree = _flatten(init, "init")
    if not init_leaves:
        raise GraphcError(f"scan: init must hold at least one Variable (the carry){here()}")
    init_leaves = [as_variable(v) for v in init_leaves]
    xs_leaves, xs_tree = ([], None) if xs is None else _flatten(xs, "xs")
    xs_leaves = [as_variable(v) for v in xs_leaves]
    steps = _length(xs_leaves, length)
    mark = next(_ids)  # every Variable the step function makes has a larger id
    carries = [Variable(v.type, _carry_name(v, k)) for k, v in enumerate(init_leaves)]
    slices = [
        Variable(Type(v.type.dtype, v.type.shape[1:]), _slice_name(v, k)) for k, v in enumerate(xs_leaves)
    ]
    result = step(_unflatten(init_tree, carries), None if xs is None else _unflatten(xs_tree, slices))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise GraphcError(
            f"scan: the step function must return (new_carry, y), got {type(result).__name__}{_where(step)}"
        )
    new_leaves, new_tree = _flatten(result[0], "the new carry")
    if new_tree != init_tree:
        raise GraphcError(f"scan: the step function returns a carry shaped {new_tree}, not {init_tree} "
                          f"like init{_where(step)}")  # fmt: skip
    new_leaves = [as_variable(v, like=c) for v, c in zip(new_leaves, carries, strict=True)]
    for k, (carry, new) in enumerate(zip(init_leaves, new_leaves, strict=True)):
        _check_carry(k, carry, new, step)
    y_leaves, y_tree = ([], None) if result[1] is None else _flatten(result[1], "y")
    y_leaves = [as_variable(v) for v in y_leaves]
    body, captured = close_body(carries + slices, new_leaves + y_leaves, mark, step)
    outs = apply(
        Op.SCAN,
        [*init_leaves, *xs_leaves, *captured],
        body=body,
        n_carry=len(carries),
        n_seq=len(slices),
        length=steps,
        reverse=bool(reverse),
        save=tuple(range(len(carries))),
    )
    outs = outs if isinstance(outs, tuple) else (outs,)
    finals, ys = outs[: len(carries)], outs[len(carries) : len(carries) + len(y_leaves)]
    return _unflatten(init_tree, list(finals)), (None if result[1] is None else _unflatten(y_tree, list(ys)))


def cond(pred, true_fn: Callable, false_fn: Callable, *operands):
    """``true_fn(*operands)`` if `pred` else ``false_fn(*operands)``, lazily: only the branch taken runs.

    `pred` is a bool scalar; both functions return a Variable or a tuple/list of them with the same types.
    Values of the enclosing graph they use are captured, as in gc.scan; gc.grad gives a cond of the branches'
    gradients.

        >>> import graphc as gc
        >>> x = gc.scalar("x")
        >>> y = gc.cond(x > 0, lambda v: v * 2, lambda v: -v, x)
        >>> float(gc.function([x], y)(-3.0))
        3.0
    """
    pred = as_variable(pred)
    if pred.type.dtype.kind != "b" or pred.type.ndim != 0:
        raise DTypeError(f"cond: the predicate must be a bool scalar, got {describe(pred)} (compare first, "
                         f"e.g. x > 0){here()}")  # fmt: skip
    operands = [as_variable(v) for v in operands]
    mark = next(_ids)
    params = [Variable(v.type, v.name or f"operand{k}") for k, v in enumerate(operands)]
    traced = []
    for fn in (true_fn, false_fn):
        leaves, tree = _flatten(fn(*params), "a branch's result")
        traced.append((fn, [as_variable(v) for v in leaves], tree))
    (_, true_out, true_tree), (_, false_out, false_tree) = traced
    if true_tree != false_tree or not all(map(_same_type, true_out, false_out)):
        shown = [", ".join(describe(v) for v in outs) for outs in (true_out, false_out)]
        raise ShapeError(f"cond: the branches return different types: ({shown[0]}) from true_fn"
                         f"{_where(true_fn)}\nand ({shown[1]}) from false_fn{_where(false_fn)}")  # fmt: skip
    closed = [close_body(params, outs, mark, fn) for fn, outs, _ in traced]
    captured = list({id(v): v for _, c in closed for v in c}.values())  # the union, in first-use order
    bodies = [_taking(body, len(params), c, captured) for body, c in closed]
    outs = apply(Op.COND, [pred, *operands, *captured], true_body=bodies[0], false_body=bodies[1])
    return _unflatten(true_tree, list(outs if isinstance(outs, tuple) else (outs,)))


# --- bodies -------------------------------------------------------------------------------------------------
def close_body(inputs: list[Variable], outputs: list[Variable], mark: int, fn=None):
    """The closed body making `outputs` from `inputs` (placeholders): (FunctionGraph, captured outer values).

    Walks back from the outputs through the nodes the step function built (ids above `mark`); an older value
    (or a shared variable or array constant) is captured: a new placeholder input takes its place.
    """
    given = {id(v) for v in inputs}
    captured: dict[int, tuple[Variable, Variable]] = {}  # id(outer value) -> (the value, its placeholder)
    order: list[Node] = []
    done: set[int] = set()

    def leaf(v: Variable) -> bool:
        """v is not walked into; captures it where it must be."""
        if id(v) in given or id(v) in captured:
            return True
        inside = v.id > mark
        if inside and v.owner is not None:
            return False
        if isinstance(v, Constant) and v.value.ndim == 0:
            return True
        if inside and not isinstance(v, (Constant, SharedVariable)):
            raise GraphcError(f"a loop or branch body makes a new input {describe(v)}: use values from the "
                              f"enclosing graph, or pass them as operands{_where(fn)}")  # fmt: skip
        captured[id(v)] = (v, Variable(v.type, v.name))
        return True

    for out in outputs:
        if leaf(out) or id(out.owner) in done:
            continue
        stack = [(out.owner, iter(out.owner.inputs))]
        while stack:
            node, pending = stack[-1]
            for v in pending:
                if not leaf(v) and id(v.owner) not in done:
                    stack.append((v.owner, iter(v.owner.inputs)))
                    break
            else:
                stack.pop()
                done.add(id(node))
                order.append(node)
    mapping = {key: placeholder for key, (_, placeholder) in captured.items()}
    for node in order:
        new_inputs = [mapping.get(id(v), v) for v in node.inputs]
        if any(a is not b for a, b in zip(new_inputs, node.inputs, strict=True)):
            rebuilt = Node(node.op, new_inputs, node.params, [v.type for v in node.outputs], node.origin)
            mapping.update((id(a), b) for a, b in zip(node.outputs, rebuilt.outputs, strict=True))
    body_outputs = [mapping.get(id(v), v) for v in outputs]
    body = FunctionGraph(inputs + [p for _, p in captured.values()], body_outputs)
    _check_sizes(body, fn)
    return body, [v for v, _ in captured.values()]


def _taking(body: FunctionGraph, n_operands: int, own: list[Variable], everything: list[Variable]):
    """`body` taking every captured value of both branches (its own placeholders where it has them)."""
    mine = dict(zip(map(id, own), body.inputs[n_operands:], strict=True))
    extra = [mine[id(v)] if id(v) in mine else Variable(v.type, v.name) for v in everything]
    return FunctionGraph(body.inputs[:n_operands] + extra, body.outputs)


def _check_sizes(body: FunctionGraph, fn) -> None:
    """Every named size inside the body comes with one of its inputs (a backend reads sizes from them)."""
    known = set().union(*(v.type.symbols for v in body.inputs)) if body.inputs else set()
    for node in body.nodes:
        for out in node.outputs:
            unknown = out.type.symbols - known
            if unknown:
                raise ShapeError(
                    f"a loop or branch body makes {describe(out)} with the size "
                    f"{', '.join(map(str, unknown))}, which none of its inputs has{where_built(node.origin)}"
                )


# --- checks and helpers -------------------------------------------------------------------------------------
def _length(xs: list[Variable], length):
    if length is not None:
        length = as_dim(length)
    for x in xs:
        if x.type.ndim == 0:
            raise ShapeError(f"scan: the sequence {describe(x)} has no axis to scan along{here()}")
    if not xs:
        if length is None:
            raise GraphcError(f"scan: give xs to scan over, or length= (the number of steps) when xs is None"
                              f"{here()}")  # fmt: skip
        return length
    first = xs[0].type.shape[0]
    for x in [*xs[1:]] + ([] if length is None else [None]):
        other = length if x is None else x.type.shape[0]
        if unify(first, other) is None:  # sizes that may be equal are checked at each call (the node's rule)
            what = "length=" if x is None else describe(x)
            hint = "" if isinstance(first - other, int) else f"; {mismatch(first, other)}"
            raise ShapeError(f"scan: {describe(xs[0])} has {first} steps but {what} {other}: every sequence "
                             f"of one scan must have the same length{hint}{here()}")  # fmt: skip
    return first if length is None else unify(first, length)


def _check_carry(k: int, carry: Variable, new: Variable, fn) -> None:
    """A new carry must keep the carry's dtype and shape: the error points at the line that made it."""
    if _same_type(carry, new):
        return
    where = where_built(new.origin) if new.origin is not None else _where(fn)
    error = DTypeError if carry.type.dtype != new.type.dtype else ShapeError
    hint = f"; cast it with gc.cast(..., '{carry.type.dtype.name}')" if error is DTypeError else ""
    raise error(f"scan: the step function returns the carry {k} as {describe(new)}, but it is "
                f"{describe(carry)}: a carry must keep its dtype and shape{hint}{where}")  # fmt: skip


def _same_type(a: Variable, b: Variable) -> bool:
    """One dtype and shapes that may be equal (the node's type rule records the sizes a call must check)."""
    return a.type.dtype == b.type.dtype and shapes_unify(a.type.shape, b.type.shape)


def _carry_name(init: Variable, k: int) -> str:
    """The carry inside the body is named after init, less a trailing 0: h0 -> h (the book's h⁽ᵗ⁾)."""
    return (re.sub(r"_?0$", "", init.name) or init.name) if init.name else f"carry{k}"


def _slice_name(x: Variable, k: int) -> str:
    """One step of a sequence is named after it: xs -> x, inputs -> input, seq -> seq_t."""
    if not x.name:
        return f"x{k}_t"
    return x.name[:-1] if len(x.name) > 1 and x.name.endswith("s") else f"{x.name}_t"


def _where(fn) -> str:
    """Where a step or branch function is defined, for errors about what it returns."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return where_built(user_origin())
    return where_built((code.co_filename, code.co_firstlineno))


# --- trees of tuples and lists ------------------------------------------------------------------------------
def _flatten(tree, what: str) -> tuple[list, object]:
    """(leaves, structure) of nested tuples/lists; anything else is a leaf (a Variable, array, number)."""
    if tree is None:
        raise GraphcError(f"scan/cond: {what} is None; give a Variable or a tuple/list of them{here()}")
    leaves: list = []

    def walk(t):
        if isinstance(t, (tuple, list)):
            return (type(t), tuple(walk(item) for item in t))
        leaves.append(t)
        return None

    return leaves, walk(tree)


def _unflatten(tree, leaves: list):
    items = iter(leaves)

    def build(t):
        if t is None:
            return next(items)
        kind, children = t
        return kind(build(c) for c in children)

    return build(tree)


__all__ = ["close_body", "cond", "scan"]
