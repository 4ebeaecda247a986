"""The gradients of the ops with a body: a SCAN's VJP is a reverse SCAN (backprop through time, book §10.2.2)
and a COND's is a COND of the branches' VJPs; each body's VJP is built by the same autodiff
(graphc.passes.autodiff.backprop), so gradients of gradients work. Imports only the graphc core.

These rules see every output's gradient at once (None where none flows) and get the driver's backward walk
to run on the body: ``rule(backprop, gs, outs, *inputs, **params)``; graphc.passes.autodiff calls them so for
the ops in MULTI_OUTPUT (and this module never imports it: no import cycle).

What the forward scan saves for the backward: the carry entering each step (its `save` outputs, T × each
carry), as Theano does; the backward body recomputes the step's forward values from that carry and x[t], then
runs the step's VJP. The cotangent of each captured value (a weight) is a carry of the backward scan,
accumulated over the steps; the cotangents of the sequences are its per-step outputs.
"""

from __future__ import annotations

import numpy as np

from graphc.bodies import dependencies
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Variable, apply
from graphc.ops import Op
from graphc.tensor import add, broadcast_to

MULTI_OUTPUT = frozenset({Op.SCAN, Op.COND})


def zeros(like: Variable) -> Variable:
    return broadcast_to(Constant(np.zeros((), like.type.dtype)), like.type.shape)


def _floats(variables) -> list[int]:
    return [k for k, v in enumerate(variables) if v.type.is_float]


def scan_vjp(backprop, gs, outs, *inputs, body, n_carry, n_seq, length, reverse, save):
    """The reverse scan: carries = (cotangent of each float carry, accumulated cotangent of each captured
    value that gets one); per step it reads the saved carry, x[t], the ys' and saved carries' cotangents."""
    n_y = len(body.outputs) - n_carry
    carries, slices, held = (body.inputs[:n_carry], body.inputs[n_carry : n_carry + n_seq],
                             body.inputs[n_carry + n_seq :])  # fmt: skip
    inits, xs, captured = inputs[:n_carry], inputs[n_carry : n_carry + n_seq], inputs[n_carry + n_seq :]
    saved = _saved_carries(outs, inputs, body, n_carry, n_seq, length, reverse, save)
    g_final, g_ys = gs[:n_carry], gs[n_carry : n_carry + n_y]
    g_saved = dict(zip(save, gs[n_carry + n_y :], strict=True))
    float_carries = _nonzero_carries(body, n_carry, g_final, g_ys, g_saved)
    ct_carry = {k: Variable(carries[k].type, f"d{carries[k].name or k}") for k in float_carries}
    ct_y = {}
    for j, (y, g) in enumerate(zip(body.outputs[n_carry:], g_ys, strict=True)):
        if g is not None:
            ct_y[j] = Variable(y.type, f"d{y.name or 'y'}")
    ct_saved = {k: Variable(carries[k].type, f"ds{k}") for k in float_carries if g_saved.get(k) is not None}
    seeds = [(body.outputs[k], ct) for k, ct in ct_carry.items()]
    seeds += [(body.outputs[n_carry + j], ct) for j, ct in ct_y.items()]
    float_slices, float_held = _floats(slices), _floats(held)
    wrt = [carries[k] for k in float_carries] + [slices[i] for i in float_slices]
    wrt += [held[i] for i in float_held]
    grads = backprop(seeds, wrt) if seeds else [None] * len(wrt)
    g_carry = dict(zip(float_carries, grads, strict=False))
    g_slice = dict(zip(float_slices, grads[len(float_carries) :], strict=False))
    g_held = {i: g for i, g in zip(float_held, grads[len(float_carries) + len(float_slices) :], strict=True)
              if g is not None}  # fmt: skip
    acc = {i: Variable(held[i].type, f"d{held[i].name or i}") for i in g_held}
    new_carries = []
    for k in float_carries:
        ct = g_carry[k] if g_carry[k] is not None else zeros(carries[k])
        new_carries.append(add(ct, ct_saved[k]) if k in ct_saved else ct)
    new_carries += [add(acc[i], g) for i, g in g_held.items()]
    ys = [g_slice[i] for i in float_slices if g_slice[i] is not None]
    back_body = FunctionGraph(
        [*ct_carry.values(), *acc.values(), *carries, *slices, *ct_y.values(), *ct_saved.values(), *held],
        new_carries + ys,
    )
    init = [g_final[k] if g_final[k] is not None else zeros(inits[k]) for k in float_carries]
    init += [zeros(captured[i]) for i in g_held]
    sequences = [*saved, *xs, *(g_ys[j] for j in ct_y), *(g_saved[k] for k in ct_saved)]
    n_back = len(init)
    results = apply(
        Op.SCAN,
        [*init, *sequences, *captured],
        body=back_body,
        n_carry=n_back,
        n_seq=len(sequences),
        length=length,
        reverse=not reverse,
        save=tuple(range(n_back)),
    )
    results = results if isinstance(results, tuple) else (results,)
    cotangents: list = [None] * len(inputs)
    for k, ct in zip(float_carries, results, strict=False):
        cotangents[k] = ct
    for i, ct in zip(g_held, results[len(float_carries) : n_back], strict=True):
        cotangents[n_carry + n_seq + i] = ct
    with_grad = [i for i in float_slices if g_slice[i] is not None]
    for i, ct in zip(with_grad, results[n_back : n_back + len(ys)], strict=True):
        cotangents[n_carry + i] = ct
    return tuple(cotangents)


def _nonzero_carries(body, n_carry: int, g_final, g_ys, g_saved) -> list[int]:
    """The float carries whose cotangent is not zero at every step (JAX's fixpoint on symbolic zeros): those
    given a gradient, and those that a step's output with a nonzero cotangent depends on."""
    deps = dependencies(body)
    floats = set(_floats(body.inputs[:n_carry]))
    live = {k for k in floats if g_final[k] is not None or g_saved.get(k) is not None}
    reads = 0
    for j, g in enumerate(g_ys):
        if g is not None:
            reads |= deps[n_carry + j]
    while True:
        for k in live:
            reads |= deps[k]
        more = {k for k in floats if reads >> k & 1} - live
        if not more:
            return sorted(live)
        live |= more


def _saved_carries(outs, inputs, body, n_carry, n_seq, length, reverse, save) -> list[Variable]:
    """The carry entering each step, for every carry: the node's own `save` outputs when it saves them all
    (gc.scan's nodes do), else those of a scan that does."""
    n_y = len(body.outputs) - n_carry
    if tuple(save) == tuple(range(n_carry)):
        return list(outs[n_carry + n_y :])
    params = dict(body=body, n_carry=n_carry, n_seq=n_seq, length=length, reverse=reverse)
    again = apply(Op.SCAN, list(inputs), **params, save=tuple(range(n_carry)))
    return list(again[n_carry + n_y :])


def cond_vjp(backprop, gs, outs, pred, *operands, true_body, false_body):
    """A COND whose branches are the branches' VJPs: the gradient takes the branch the forward pass took."""
    taken = [j for j, g in enumerate(gs) if g is not None]
    floats = _floats(operands)
    branches = []
    for body in (true_body, false_body):
        cts = [Variable(outs[j].type, f"d{j}") for j in taken]
        seeds = [(body.outputs[j], ct) for j, ct in zip(taken, cts, strict=True)]
        grads = backprop(seeds, [body.inputs[i] for i in floats]) if seeds else [None] * len(floats)
        branches.append((body, cts, grads))
    flowing = [n for n, i in enumerate(floats) if any(grads[n] is not None for _, _, grads in branches)]
    bodies = []
    for body, cts, grads in branches:
        results = [grads[n] if grads[n] is not None else zeros(body.inputs[floats[n]]) for n in flowing]
        bodies.append(FunctionGraph([*body.inputs, *cts], results))
    cotangents: list = [None] * (1 + len(operands))
    if not flowing:
        return tuple(cotangents)
    results = apply(Op.COND, [pred, *operands, *(gs[j] for j in taken)], true_body=bodies[0],
                    false_body=bodies[1])  # fmt: skip
    results = results if isinstance(results, tuple) else (results,)
    for n, ct in zip(flowing, results, strict=True):
        cotangents[1 + floats[n]] = ct
    return tuple(cotangents)


RULES = {Op.SCAN: scan_vjp, Op.COND: cond_vjp}

__all__ = ["MULTI_OUTPUT", "RULES", "cond_vjp", "scan_vjp"]
