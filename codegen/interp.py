"""The reference interpreter (the book's Algorithm 6.1): each node's NumPy IMPL in topological order.

It is the ground truth every other backend is tested against, so it also checks each value's dtype and shape
against the type inferred when the node was built, and makes the checks on the data of ``checks`` before each
node that has some.
"""

from __future__ import annotations

import numpy as np

from graphc.bodies import cond_branch, one_or_tuple, scan_loop
from graphc.codegen.checks import NumericsCheck, checks_of, first_too_big, kernel_checks
from graphc.errors import GraphcError
from graphc.graph import Constant
from graphc.ops import BODY_PARAMS, IMPL, Op
from graphc.types import concrete_dim, concrete_params


def _plain(node, check_numerics: bool):
    """Most ops: their reference semantics on the call's arrays, params with sizes filled in."""
    impl, params = _impl(node), node.params
    return lambda args, sizes: impl(*args, **concrete_params(params, sizes))


def _scan(node, check_numerics: bool):
    """SCAN: the reference loop over the body, itself interpreted (checks and all) at the call's sizes."""
    body, params = InterpProgram(node.params["body"], check_numerics), node.params
    return lambda args, sizes: one_or_tuple(scan_loop(body.run_body, args, sizes, params))


def _cond(node, check_numerics: bool):
    true_body, false_body = (InterpProgram(node.params[key], check_numerics) for key in BODY_PARAMS[node.op])
    return lambda args, sizes: one_or_tuple(
        tuple(cond_branch(true_body.run_body, false_body.run_body, args, sizes))
    )


INTERP_RULES = {Op.SCAN: _scan, Op.COND: _cond}
"""How the interpreter runs a node: its own rule for ops with a body (check_numerics looks into the body: the
error names the user's operation inside the loop), else the op's IMPL (`_plain`)."""


class InterpProgram:
    source = None

    def __init__(self, fgraph, check_numerics: bool = False):
        self.fgraph = fgraph
        rules = [INTERP_RULES.get(node.op, _plain)(node, check_numerics) for node in fgraph.nodes]
        self.steps = [(node, rule, checks_of(node)) for node, rule in zip(fgraph.nodes, rules, strict=True)]
        self.numerics = [NumericsCheck(node) for node in fgraph.nodes] if check_numerics else None
        self.shared = fgraph.shared
        self.constants = fgraph.constants

    def run_body(self, arrays, sizes) -> list:
        """A body's outputs (it has no shared variables: they are captured as inputs)."""
        return self.run(arrays, (), sizes)[0]

    def run(self, arrays, shared_values, sizes):
        fg = self.fgraph
        env = {id(v): a for v, a in zip(fg.inputs, arrays, strict=True)}
        env.update((id(v), a) for v, a in zip(self.shared, shared_values, strict=True))
        env.update((id(c), c.value) for c in self.constants)
        with np.errstate(all="ignore"):
            for step, (node, run, checks) in enumerate(self.steps):
                args = [env[id(v)] for v in node.inputs]
                for check in checks:
                    check.verify(*(args[i] for i in check.reads))
                try:
                    result = run(args, sizes)
                except (ValueError, OverflowError) as exc:  # NumPy's "array is too big": name the value
                    error = None if isinstance(exc, GraphcError) else first_too_big(node.outputs, sizes)
                    if error is None:
                        raise
                    raise error from exc
                results = result if len(node.outputs) > 1 else (result,)
                for out, value in zip(node.outputs, results, strict=True):
                    env[id(out)] = _checked(np.asarray(value), out, node, sizes)
                    if self.numerics is not None:
                        self.numerics[step].verify(env[id(out)], args)
        return [env[id(v)] for v in fg.outputs], [env[id(v)] for _, v in fg.updates]


def _impl(node):
    """The node's IMPL; a fused kernel with checks inside runs them before each instruction that has some
    (only when the kernel computes at least one element, as native code does)."""
    per_instr = kernel_checks(node.params["kernel"]) if node.op is Op.FUSED else ()
    if not any(per_instr):
        return IMPL[node.op]

    def before(k: int, args: list) -> None:
        for check in per_instr[k]:
            check.verify(*(args[i] for i in check.reads))

    def fused(*arrays, kernel):
        empty = np.prod(np.broadcast_shapes(*map(np.shape, arrays))) == 0
        results = kernel.evaluate(arrays, before=None if empty else before)
        return results if len(results) > 1 else results[0]

    return fused


def _checked(value: np.ndarray, var, node, sizes) -> np.ndarray:
    expected = tuple(concrete_dim(d, sizes) for d in var.type.shape)
    if value.shape != expected or value.dtype != var.type.dtype:
        raise GraphcError(
            f"internal error: {node.op.value} gave {value.dtype}{value.shape}, its type rule said "
            f"{var.type.dtype}{expected}"
        )
    return value


def compile_graph(fgraph, check_numerics: bool = False) -> InterpProgram:
    return InterpProgram(fgraph, check_numerics)


__all__ = ["compile_graph", "Constant"]
