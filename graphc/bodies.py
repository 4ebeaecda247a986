"""Ops with a body (SCAN, COND): what their params mean and their NumPy reference semantics, shared by IMPL
and the interpreter. Core layer; knows types only (a body is a FunctionGraph, used through its `inputs`,
`outputs` and `nodes`).

SCAN's contract (graphc.control.scan builds it): the node's inputs are the initial carries, the sequences xs
(scanned along axis 0) and the captured values; its body's inputs are the carries, one slice of each sequence
and the captured values, its outputs the new carries then the per-step outputs y. The node's outputs are the
final carries, the ys stacked along a new axis 0, then the *saved* carries: for each carry index in `save`,
the carry entering every step, stacked by the index t of the slice xs[t] that step reads (what the backward
scan recomputes the body from). The steps read t = 0, 1, ..., T-1 (reverse: T-1, ..., 0). T = 0 runs no
step: the carries are the initial ones and every stacked output is empty, of shape (0, ...).

COND's inputs are the predicate (a bool scalar), then the operands and captured values both bodies take; only
the body the predicate picks runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .dims import Dim, Size, sizes_in
from .errors import ShapeError
from .types import concrete_dim, concrete_params

RunBody = Callable[[Sequence[np.ndarray], dict], list[np.ndarray]]
"""run(input arrays, sizes) -> output arrays of one body."""


def scan_counts(params: dict) -> tuple[int, int, int]:
    """(carries, sequences, per-step outputs) of a SCAN node."""
    body = params["body"]
    return params["n_carry"], params["n_seq"], len(body.outputs) - params["n_carry"]


def scan_loop(run_body: RunBody, arrays, sizes: dict, params: dict) -> tuple[np.ndarray, ...]:
    """The reference semantics of SCAN: the loop over steps, on NumPy arrays."""
    n_carry, n_seq, _ = scan_counts(params)
    body, save = params["body"], params["save"]
    carries = [np.asarray(a) for a in arrays[:n_carry]]
    xs = [np.asarray(a) for a in arrays[n_carry : n_carry + n_seq]]
    captured = list(arrays[n_carry + n_seq :])
    steps = concrete_dim(params["length"], sizes)
    for x in xs:
        if x.shape[0] != steps:
            raise ShapeError(f"scan: a sequence has {x.shape[0]} steps where the scan runs {steps}")
    ys = [
        np.empty((steps, *(concrete_dim(d, sizes) for d in v.type.shape)), v.type.dtype)
        for v in body.outputs[n_carry:]
    ]
    saved = [np.empty((steps, *carries[k].shape), carries[k].dtype) for k in save]
    for t in range(steps - 1, -1, -1) if params["reverse"] else range(steps):
        for buffer, k in zip(saved, save, strict=True):
            buffer[t] = carries[k]
        outs = run_body([*carries, *(x[t] for x in xs), *captured], sizes)
        carries = outs[:n_carry]
        for buffer, y in zip(ys, outs[n_carry:], strict=True):
            buffer[t] = y
    return (*carries, *ys, *saved)


def cond_branch(run_true: RunBody, run_false: RunBody, arrays, sizes: dict) -> list[np.ndarray]:
    """The reference semantics of COND: only the branch the predicate picks runs."""
    return (run_true if bool(arrays[0]) else run_false)(list(arrays[1:]), sizes)


def dependencies(body) -> list[int]:
    """For each output of a body, the body inputs it depends on, as a bit mask (bit k: input k)."""
    mask = {id(v): 1 << k for k, v in enumerate(body.inputs)}
    for node in body.nodes:
        m = 0
        for v in node.inputs:
            m |= mask.get(id(v), 0)
        for out in node.outputs:
            mask[id(out)] = m
    return [mask.get(id(v), 0) for v in body.outputs]


def graphs_in(graph) -> list:
    """The graph and every body inside it (bodies of bodies too)."""
    found, stack = [], [graph]
    while stack:
        g = stack.pop()
        found.append(g)
        stack.extend(
            p for n in g.nodes for p in n.params.values() if hasattr(p, "nodes") and hasattr(p, "inputs")
        )
    return found


def nested_nodes(graph) -> list:
    """The nodes of a graph and of every body inside it (what call-time checks look at)."""
    return [node for g in graphs_in(graph) for node in g.nodes]


def sizes_used(graph) -> set:
    """Every size a graph's values, its bodies' values and its loops' lengths use (what a body's compiled
    function must be given)."""
    found: set = set()
    for g in graphs_in(graph):
        for v in g.inputs:
            found |= v.type.symbols
        for node in g.nodes:
            for out in node.outputs:
                found |= out.type.symbols
            length = node.params.get("length") if node.op.value == "scan" else None
            if isinstance(length, Dim):
                found |= sizes_in(length)
    return found


def bind_sizes(variables, shapes) -> dict:
    """The sizes that the shapes give the variables' types (a body's inputs): what a body needs."""
    sizes: dict = {}
    for var, shape in zip(variables, shapes, strict=True):
        for d, n in zip(var.type.shape, shape, strict=True):
            if isinstance(d, Size):
                sizes.setdefault(d, n)
    return sizes


def reference_runner(impl: dict, body) -> RunBody:
    """run(arrays, sizes) for `body` with the ops' reference semantics `impl` (graphc.ops.IMPL)."""
    nodes = body.nodes

    def value(env: dict, v):
        return env[id(v)] if id(v) in env else v.value  # a leaf that is no input is a Constant

    def run(arrays, sizes: dict) -> list[np.ndarray]:
        env = {id(v): a for v, a in zip(body.inputs, arrays, strict=True)}
        for node in nodes:
            result = impl[node.op](
                *(value(env, v) for v in node.inputs), **concrete_params(node.params, sizes)
            )
            results = result if len(node.outputs) > 1 else (result,)
            for out, r in zip(node.outputs, results, strict=True):
                env[id(out)] = np.asarray(r)
        return [value(env, v) for v in body.outputs]

    return run


def one_or_tuple(results: tuple):
    """IMPL returns a bare array for a single-output node, a tuple only for several outputs."""
    return results[0] if len(results) == 1 else tuple(results)


def scan_impl(impl: dict) -> Callable:
    """IMPL[Op.SCAN]: the loop with the reference runner; sizes are read off the inputs' shapes."""

    def run(*arrays, **params):
        body = params["body"]
        n_carry, n_seq, _ = scan_counts(params)
        shapes = [
            np.shape(a)[1:] if n_carry <= k < n_carry + n_seq else np.shape(a) for k, a in enumerate(arrays)
        ]
        sizes = bind_sizes(body.inputs, shapes)
        return one_or_tuple(scan_loop(reference_runner(impl, body), arrays, sizes, params))

    return run


def cond_impl(impl: dict) -> Callable:
    """IMPL[Op.COND]: the branch the predicate picks, with the reference runner."""

    def run(pred, *arrays, true_body, false_body):
        sizes = bind_sizes(true_body.inputs, [np.shape(a) for a in arrays])
        taken = true_body if bool(pred) else false_body
        return one_or_tuple(tuple(reference_runner(impl, taken)(list(arrays), sizes)))

    return run
