"""Symbol-to-number backprop (book Alg. 6.2, the way Torch does it), recorded step by step for teaching.
Owns `symbol_to_number`; knows nothing of codegen.

`gc.grad` adds the backward pass to the graph as more graph (symbol to symbol, fig. 6.10). This evaluates
the forward graph on given numbers (Alg. 6.1), then fills a grad_table with numbers: the consumers of each
value in reverse order, each adding its contribution (the op's VJP rule applied to numbers, broadcasting
summed away). Every step is kept, so the table can be printed as it fills and compared with gc.grad's result.

    >>> import numpy as np, graphc as gc
    >>> w = gc.vector("w")
    >>> J = gc.sum(gc.tanh(w) ** 2)
    >>> trace = gc.symbol_to_number(J, [w], {w: np.array([0.5, -1.0])})
    >>> print(trace)            # forward values u⁽ⁱ⁾, then grad_table[...] += ..., step by step
    forward (Alg. 6.1):
      u⁽¹⁾ = tanh(w) = [ 0.462117, -0.761594]
      u⁽²⁾ = pow(u⁽¹⁾, 2.) = [0.213552, 0.580026]
      u⁽³⁾ = sum(u⁽²⁾) = 0.793578
    backward (Alg. 6.2), grad_table[v] = d cost / d v:
      grad_table[u⁽³⁾] = 1
      grad_table[u⁽²⁾] += sum's VJP of grad_table[u⁽³⁾] = [1., 1.]
      grad_table[u⁽¹⁾] += pow's VJP of grad_table[u⁽²⁾] = [ 0.924234, -1.523188]
      grad_table[w] += tanh's VJP of grad_table[u⁽¹⁾] = [ 0.726862, -0.6397  ]
    >>> trace.grads[w]          # the same numbers gc.grad's graph computes
    array([ 0.72686198, -0.63970001])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from graphc.dims import Size
from graphc.errors import DTypeError, GraphcError, InputError, ShapeError, where_built
from graphc.graph import Constant, Node, SharedVariable, Variable, toposort
from graphc.ops import IMPL, describe
from graphc.sizes import size_checks
from graphc.types import Type, concrete_params

from .autodiff import as_wrt_list, fit, no_rule_message, on_a_path
from .vjp_control import MULTI_OUTPUT
from .vjp_rules import VJP_RULES


@dataclass(frozen=True)
class Step:
    """One entry of the backward sweep: `node`'s rule added `contribution` to grad_table[`target`]."""

    node: Node
    target: Variable
    contribution: np.ndarray
    total: np.ndarray  # grad_table[target] after this step


class Backprop:
    """The record of one symbol-to-number backprop: forward values, the steps, the final grad_table."""

    def __init__(self, cost, wrt, values, forward, steps, table):
        self.cost = cost
        self.values: dict[Variable, np.ndarray] = values  # every value of the forward pass
        self.forward: list[Node] = forward  # the nodes in the order they were evaluated
        self.steps: list[Step] = steps
        self.table: dict[Variable, np.ndarray] = table  # grad_table: d cost / d value, every value on a path
        self.grads: dict[Variable, np.ndarray] = {
            w: table[w] if w in table else np.zeros_like(values[w], dtype=_float(values[w])) for w in wrt
        }

    def __str__(self) -> str:
        names = _Names(self.forward)
        lines = ["forward (Alg. 6.1):"]
        for node in self.forward:
            out = node.outputs[0]
            args = ", ".join(names(v) for v in node.inputs)
            lines.append(f"  {names(out)} = {node.op.value}({args}) = {_show(self.values[out])}")
        lines.append("backward (Alg. 6.2), grad_table[v] = d cost / d v:")
        lines.append(f"  grad_table[{names(self.cost)}] = 1")
        for step in self.steps:
            out = names(step.node.outputs[0])
            target = names(step.target)
            added = f"  grad_table[{target}] += {step.node.op.value}'s VJP of grad_table[{out}]"
            total = "" if step.total is step.contribution else f"  (total {_show(step.total)})"
            lines.append(f"{added} = {_show(step.contribution)}{total}")
        return "\n".join(lines)

    __repr__ = __str__


def symbol_to_number(cost: Variable, wrt, given: Mapping[Variable, object] | None = None) -> Backprop:
    """Evaluate `cost` on the numbers `given` for its inputs ({variable: array}; shared variables use their
    values), then backprop numerically to `wrt` (a Variable or a list), recording every step.

    >>> x = gc.vector("x")
    >>> trace = gc.symbol_to_number(gc.sum(x * x), x, {x: np.array([1.0, 2.0])})
    >>> trace.grads[x]
    array([2., 4.])
    """
    _, wrt_list = as_wrt_list(wrt, "symbol_to_number")
    if not isinstance(cost, Variable) or cost.type.ndim != 0 or not cost.type.is_float:
        raise GraphcError(f"symbol_to_number: the cost must be a float scalar Variable, got {cost!r}")
    nodes = toposort([cost])
    values, sizes = _leaf_values(nodes, cost, dict(given or {}))
    for check in size_checks(nodes):  # sizes the graph assumed equal, as gc.function checks them
        check.verify(sizes)
    _run(nodes, values, sizes)
    table: dict[Variable, np.ndarray] = {cost: np.ones((), cost.type.dtype)}
    steps: list[Step] = []
    relevant, reach = on_a_path(nodes, wrt_list)
    for node in reversed(relevant):
        out = node.outputs[0]
        if out not in table:
            continue
        rule = VJP_RULES.get(node.op)
        if node.op in MULTI_OUTPUT:
            raise GraphcError(f"symbol_to_number steps through ops one output at a time, not through a "
                              f"{node.op.value} (its gradient is a loop or branch of its own): use gc.grad"
                              f"{where_built(node.origin)}")  # fmt: skip
        if rule is None or len(node.outputs) != 1:
            raise GraphcError(no_rule_message(node))
        consts = [Constant(values[v]) for v in node.inputs]
        with np.errstate(all="ignore"):
            cotangents = rule(
                Constant(table[out]), Constant(values[out]), *consts, **concrete_params(node.params, sizes)
            )
        for inp, ct in zip(node.inputs, cotangents, strict=True):
            if ct is None or id(inp) not in reach:
                continue
            contribution = _evaluate(fit(ct, Type(inp.type.dtype, values[inp].shape)))
            total = contribution if inp not in table else table[inp] + contribution
            table[inp] = total
            steps.append(Step(node, inp, contribution, total))
    return Backprop(cost, wrt_list, values, nodes, steps, table)


def _leaf_values(nodes: list[Node], cost: Variable, given: dict) -> tuple[dict, dict]:
    """Values of the graph's leaves (given, shared, constant) and the named sizes they bind."""
    values: dict[Variable, np.ndarray] = {}
    sizes: dict[Size, int] = {}
    leaves = [v for node in nodes for v in node.inputs if v.owner is None] or [cost]
    for var in dict.fromkeys(leaves):
        if isinstance(var, Constant):
            values[var] = var.value
        elif isinstance(var, SharedVariable):
            values[var] = var.get_value(copy=False)
        elif var in given:
            values[var] = _bind(var, given[var], sizes)
        else:
            raise InputError(f"symbol_to_number: no value given for the input {describe(var)}")
    return values, sizes


def _bind(var: Variable, value, sizes: dict) -> np.ndarray:
    array = np.asarray(value)
    if not np.can_cast(array.dtype, var.type.dtype, casting="same_kind"):
        raise DTypeError(f"symbol_to_number: {describe(var)} was given {array.dtype.name} values")
    array = array.astype(var.type.dtype, copy=False)
    if array.ndim != var.type.ndim:
        raise ShapeError(f"symbol_to_number: {describe(var)} was given an array of shape {array.shape}")
    for axis, (want, got) in enumerate(zip(var.type.shape, array.shape, strict=True)):
        bound = sizes.setdefault(want, got) if isinstance(want, Size) else want
        if bound != got:
            raise ShapeError(
                f"symbol_to_number: {describe(var)} was given shape {array.shape}: dimension {axis} should "
                f"be {bound}"
            )
    return array


def _run(nodes: list[Node], values: dict, sizes: dict) -> None:
    """Alg. 6.1: each node's reference semantics (ops.IMPL) in order, its outputs added to `values`."""
    with np.errstate(all="ignore"):
        for node in nodes:
            result = IMPL[node.op](*(values[v] for v in node.inputs), **concrete_params(node.params, sizes))
            results = result if len(node.outputs) > 1 else (result,)
            for out, value in zip(node.outputs, results, strict=True):
                values[out] = np.asarray(value, dtype=out.type.dtype)


def _evaluate(var: Variable) -> np.ndarray:
    """The value of a small graph over constants (a VJP rule's result)."""
    if isinstance(var, Constant):
        return var.value
    nodes = toposort([var])
    values = {v: v.value for node in nodes for v in node.inputs if isinstance(v, Constant)}
    _run(nodes, values, {})
    return values[var]


class _Names:
    """The user's names, else u⁽¹⁾, u⁽²⁾, ... in the order the forward pass made them."""

    def __init__(self, nodes: list[Node]):
        unnamed = [n.outputs[0] for n in nodes if n.outputs[0].name is None]
        self.numbers = {id(v): k for k, v in enumerate(unnamed, start=1)}

    def __call__(self, var: Variable) -> str:
        if var.name:
            return var.name
        if isinstance(var, Constant):
            return _show(var.value)
        superscript = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
        return "u" + f"({self.numbers.get(id(var), '?')})".translate(superscript)


def _show(value: np.ndarray) -> str:
    value = np.asarray(value)
    if value.size <= 6:
        return np.array2string(value, precision=6, separator=", ").replace("\n", "")
    return f"<{value.dtype.name} {value.shape}, first {np.array2string(value.ravel()[:3], precision=4)}>"


def _float(value: np.ndarray) -> np.dtype:
    return value.dtype if value.dtype.kind == "f" else np.dtype("float64")


__all__ = ["Backprop", "Step", "symbol_to_number"]
