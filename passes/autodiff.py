"""Reverse-mode autodiff (symbol to symbol, book §6.5, fig. 6.10). Owns the driver; knows nothing of codegen.

    >>> import graphc as gc
    >>> w = gc.vector("w")
    >>> gw = gc.grad(gc.sum(gc.tanh(w) ** 2), w)      # a Variable in the same graph as w

`grad` walks the cost's graph once, in reverse topological order, over the nodes that lie on a path from a
`wrt` variable to the cost (Alg. 6.5/6.6's pruning), calls each node's rule in VJP_RULES
(graphc.passes.vjp_rules) and sums the contributions of a value's several consumers. The result is more graph,
built next to the forward graph: it reuses the forward values (fig. 6.9) and can be compiled, drawn, optimised
and differentiated again.

Rules about what carries a gradient:
- only float values do: integer and boolean inputs and results (labels, argmax, comparisons) get none;
- a `wrt` variable that no float path joins to the cost is *disconnected*: an error naming it
  (`disconnected="raise"`, the default) or a zero gradient (`disconnected="zero"`); an integer `wrt` is
  disconnected by this rule (its zero gradient is float64);
- `stop_gradient(x)` is x in the forward pass and a disconnection in the backward pass;
- a FUSED node (made by the fusion pass inside gc.function) cannot be differentiated: differentiate first,
  then compile.
Backward nodes inherit the origin (file:line) of the forward node they differentiate.

Elementwise functions a user declares from a sympy expression are differentiated by sympy (each partial
derivative is again such a function, so it can be differentiated again):

    >>> import sympy
    >>> swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    >>> g = gc.grad(gc.sum(swish(w)), w)          # g · ∂swish/∂x: a SCALAR_FN node of sympy's derivative
    >>> g2 = gc.grad(gc.sum(g), w)                # and its derivative, derived again
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphc.errors import DTypeError, GraphcError, GraphError, ShapeError, where_built
from graphc.graph import Constant, Variable, toposort
from graphc.ops import Op, describe
from graphc.origin import origin_scope
from graphc.tensor import add, as_variable, broadcast_to, cast, reshape, sum_
from graphc.types import Type, same_shape, shapes_unify

from .vjp_control import MULTI_OUTPUT
from .vjp_rules import VJP_RULES, is_stop_gradient, stop_gradient_function

Wrt = Variable | Sequence[Variable]


def grad(
    cost: Variable | None,
    wrt: Wrt,
    disconnected: str = "raise",
    known_grads: dict | None = None,
) -> Variable | list[Variable]:
    """The gradient of a scalar `cost` with respect to `wrt` (a Variable, or a list: then a list).

    `known_grads` ({variable: its gradient}) starts the backward pass from given output gradients too (with
    `cost=None`, from them alone): a vector-Jacobian product. `disconnected` is "raise" or "zero".

    >>> x = gc.vector("x")
    >>> g = gc.grad(gc.sum(x**2), x)
    >>> gc.evaluate(g, {x: [1.0, 2.0]})
    array([2., 4.])
    """
    single, wrt_list = as_wrt_list(wrt, "grad")
    if disconnected not in ("raise", "zero"):
        raise GraphcError(f"grad: disconnected must be 'raise' or 'zero', not {disconnected!r}")
    seeds = _seeds(cost, known_grads)
    found = backprop(seeds, wrt_list)
    roots = [v for v, _ in seeds]
    results = [finish(w, g, disconnected, roots) for w, g in zip(wrt_list, found, strict=True)]
    return results[0] if single else results


def stop_gradient(x) -> Variable:
    """x in the forward pass; no gradient flows through it (an identity elementwise node, drawn as such).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.grad(gc.sum(gc.stop_gradient(x) * x), x), {x: [3.0]})
    array([3.])
    """
    x = as_variable(x)
    if not x.type.is_float:  # integers carry no gradient anyway
        return x
    return stop_gradient_function()(x)


# --- the backward walk --------------------------------------------------------------------------------------
def backprop(seeds: list[tuple[Variable, Variable]], wrt: list[Variable]) -> list[Variable | None]:
    """Gradients of Σ <seed variable, seed gradient> with respect to each of `wrt` (None: disconnected)."""
    relevant, reach = on_a_path(toposort([v for v, _ in seeds]), wrt)
    table = GradTable(reach)
    for var, g in seeds:
        table.add(var, g)
    for node in reversed(relevant):  # each node once, after all its consumers have added their part
        several = node.op in MULTI_OUTPUT  # a rule that takes every output's gradient (None: none flows)
        if len(node.outputs) != 1 and not several:
            raise GraphcError(no_rule_message(node))
        with origin_scope(node.origin):
            if several:
                g, out = [table.total(v) for v in node.outputs], node.outputs
                if all(x is None for x in g):
                    continue
            else:
                g, out = table.total(node.outputs[0]), node.outputs[0]
                if g is None:
                    continue
            rule = VJP_RULES.get(node.op)
            if rule is None:
                raise GraphcError(no_rule_message(node))
            extra = (backprop,) if several else ()  # a body's rule runs this same walk on the body
            cotangents = rule(*extra, g, out, *node.inputs, **node.params)
            if len(cotangents) != len(node.inputs):
                raise GraphcError(f"the VJP rule of {node.op.value} gave {len(cotangents)} gradients "
                                  f"for {len(node.inputs)} inputs{where_built(node.origin)}")  # fmt: skip
            for inp, ct in zip(node.inputs, cotangents, strict=True):
                table.add(inp, ct)
    results = []
    for w in wrt:
        with origin_scope(w.origin):
            results.append(table.total(w))
    return results


class GradTable:
    """The book's grad_table (Alg. 6.5): the gradient contributions of each value on a path from a `wrt`
    variable, summed once they are all in."""

    def __init__(self, reach: set[int]):
        self.reach = reach  # ids of the values a gradient flows to (on_a_path)
        self.parts: dict[int, list[Variable]] = {}

    def add(self, var: Variable, ct: Variable | None) -> None:
        """One contribution to var's gradient, broadcasting summed away (none where no gradient flows)."""
        if ct is not None and id(var) in self.reach:
            self.parts.setdefault(id(var), []).append(fit(ct, var.type))

    def total(self, var: Variable) -> Variable | None:
        """The sum of var's contributions (a balanced tree of adds), kept: var may be asked for again."""
        parts = self.parts.get(id(var))
        if not parts:
            return None
        if len(parts) > 1:
            parts[:] = [_total(parts)]
        return parts[0]


def on_a_path(nodes: list, wrt: Sequence[Variable]) -> tuple[list, set[int]]:
    """Forward sweep (Alg. 6.5's pruning): the nodes whose float outputs depend on some `wrt` through float
    values, in the order of `nodes`, and the ids of those values (the float wrt included)."""
    reach = {id(w) for w in wrt if w.type.is_float}
    relevant = []
    for node in nodes:
        if _is_stop(node) or not any(id(v) in reach for v in node.inputs):
            continue
        floats = [id(out) for out in node.outputs if out.type.is_float]
        if floats:
            relevant.append(node)
            reach.update(floats)
    return relevant, reach


def fit(ct: Variable, t: Type) -> Variable:
    """Undo broadcasting once, for every rule: sum the axes the forward pass broadcast, then match t."""
    if ct.type.dtype != t.dtype:
        ct = cast(ct, t.dtype)
    shape, target = ct.type.shape, t.shape
    if same_shape(shape, target):
        return ct
    lead = len(shape) - len(target)
    if lead >= 0:
        axes = list(range(lead)) + [
            lead + i for i, d in enumerate(target) if _one(d) and not _one(shape[lead + i])
        ]
        if axes == list(range(lead)):  # only leading axes: one plain sum
            ct = sum_(ct, axis=axes) if axes else ct
        else:
            ct = reshape(sum_(ct, axis=axes, keepdims=True), _kept(shape, axes, lead))
    if not same_shape(ct.type.shape, target):  # a cotangent smaller than its input (a scalar): broadcast it
        ct = broadcast_to(ct, target)
    return ct


def _kept(shape, axes, lead) -> tuple:
    """The shape after summing `axes` with keepdims, then dropping the `lead` leading axes."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))[lead:]


def _seeds(cost, known_grads) -> list[tuple[Variable, Variable]]:
    seeds = []
    if cost is not None:
        cost = as_variable(cost)
        if cost.type.ndim != 0:
            raise GraphcError(
                f"grad: the cost must be a scalar, got {describe(cost)}; reduce it first (e.g. cost.sum() or "
                f"cost.mean()), or use gc.jacobian(y, x) for the derivative of every element"
                f"{where_built(cost.origin)}"
            )
        if not cost.type.is_float:
            raise DTypeError(f"grad: the cost {describe(cost)} is not a float value, so it has no gradient")
        seeds.append((cost, Constant(np.ones((), cost.type.dtype))))
    for var, g in (known_grads or {}).items():
        if not isinstance(var, Variable):
            raise GraphcError(f"grad: known_grads keys must be graph Variables, got {var!r}")
        g = as_variable(g, like=var)
        if not var.type.is_float:
            raise DTypeError(
                f"grad: known_grads gives a gradient for {describe(var)}, which is not a float value"
            )
        if not shapes_unify(g.type.shape, var.type.shape):
            raise ShapeError(f"grad: the known gradient {describe(g)} must have the shape of {describe(var)}")
        seeds.append((var, fit(g, var.type)))
    if not seeds:
        raise GraphcError("grad: give a cost, or known_grads to start the backward pass from")
    return seeds


def as_wrt_list(wrt, what: str) -> tuple[bool, list[Variable]]:
    """(whether wrt is a single Variable, the list of wrt Variables); a clear error for anything else."""
    if isinstance(wrt, Variable):
        return True, [wrt]
    try:
        wrt_list = list(wrt)
    except TypeError:
        wrt_list = [wrt]
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise GraphcError(
                f"{what}: wrt must be graph Variables (or a list of them), got {type(w).__name__} {w!r}"
            )
    return False, wrt_list


def finish(w: Variable, g: Variable | None, disconnected: str, roots: list[Variable]) -> Variable:
    if g is not None:
        return g
    dtype = w.type.dtype if w.type.is_float else np.dtype("float64")
    if disconnected == "zero":
        return broadcast_to(Constant(np.zeros((), dtype)), w.type.shape)
    if not w.type.is_float:
        why = f"it is {w.type.dtype.name}: integer and boolean values carry no gradient"
    elif id(w) in _all_values(roots):
        why = ("the cost depends on it only through values that carry no gradient (integer or boolean "
               "results such as argmax or comparisons, gc.stop_gradient, sign)")  # fmt: skip
    else:
        why = "the cost does not depend on it"
    what = ", ".join(describe(r) for r in roots)
    raise GraphError(
        f"grad: {describe(w)} is disconnected from {what}: {why}. "
        f"Pass disconnected='zero' to get a zero gradient instead.{where_built(w.origin)}"
    )


def _all_values(roots: list[Variable]) -> set[int]:
    ids = {id(r) for r in roots}
    for node in toposort(roots):
        ids.update(id(v) for v in node.inputs)
    return ids


def _total(contributions: list[Variable]) -> Variable:
    """The sum of a value's gradient contributions (fan-out), as a balanced tree of adds."""
    while len(contributions) > 1:
        pairs = [add(a, b) for a, b in zip(contributions[::2], contributions[1::2], strict=False)]
        contributions = pairs + ([contributions[-1]] if len(contributions) % 2 else [])
    return contributions[0]


def _is_stop(node) -> bool:
    return node.op is Op.SCALAR_FN and is_stop_gradient(node.params["fn"])


def no_rule_message(node) -> str:
    if node.op is Op.FUSED:
        return ("cannot differentiate a fused kernel: fusion happens inside gc.function, after gc.grad; "
                f"call gc.grad on the graph you built, then compile{where_built(node.origin)}")  # fmt: skip
    return f"no gradient rule (VJP_RULES) for {node.op.value}{where_built(node.origin)}"


def _one(d) -> bool:
    return isinstance(d, int) and d == 1


__all__ = ["grad", "stop_gradient", "backprop", "fit", "GradTable"]
