"""Sinking work out of a scan, after it: the mirror of lifting (passes/loops.py). Imports only the core.

A backward scan accumulates each weight's gradient in a carry, one product per step: dW += x[t]ᵀ · g[t]
(book §10.2.2, eq. 10.25). The sum over the steps is ONE product over the stacked steps, computed after the
loop: dW = dW₀ + Xᵀ · G with X (T·batch, n) and G (T·batch, m), so the loop only stacks g[t]. The same holds
for a bias's gradient (db += Σ_batch g[t] becomes db₀ + Σ over steps and batch of G) and for an output that
is a per-step value times an invariant matrix (dx[t] = g[t] · Wᵀ becomes G · Wᵀ after the loop). A stacked
value is shared by every sink that needs it.

`sink(inputs, params)` returns the scan's new inputs and params, and `finish(outputs) -> outputs`: from the
new node's outputs, the values of the old node's (the sunk ones computed after the loop).
"""

from __future__ import annotations

from collections import Counter

from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Variable
from graphc.ops import Op
from graphc.origin import origin_scope
from graphc.tensor import add, matmul, reshape, sum_, transpose
from graphc.types import dim_product, same_shape


def sink(inputs: list[Variable], params: dict, fired: Counter):
    body, n_carry, n_seq = params["body"], params["n_carry"], params["n_seq"]
    n_y = len(body.outputs) - n_carry
    readers: dict[int, list] = {}
    for node in body.nodes:
        for v in node.inputs:
            readers.setdefault(id(v), []).append(node)
    sequences = {id(v): inputs[k] for k, v in enumerate(body.inputs) if n_carry <= k < n_carry + n_seq}
    invariant = {id(v) for v in body.inputs[n_carry + n_seq :]}
    outputs = list(body.outputs)
    sums = {}  # carry k -> its terms: ("outer", stacked a, b) or ("sum", b, axes)
    for k in range(n_carry):
        if k not in params["save"] and outputs.count(outputs[k]) == 1:
            terms = _accumulated(body.inputs[k], outputs[k], readers, sequences)
            if terms is not None:
                sums[k] = terms
    products = {}  # ys j -> (b, w): y[t] = b[t] @ w, w invariant
    for j, y in enumerate(outputs[n_carry:]):
        node = y.owner
        if node is not None and node.op is Op.MATMUL and id(node.inputs[1]) in invariant:
            b, w = node.inputs
            if b.type.ndim >= 1 and w.type.ndim == 2 and outputs.count(y) == 1:
                products[j] = (b, inputs[n_carry + n_seq + body.inputs[n_carry + n_seq :].index(w)])
    if not sums and not products:
        return inputs, params, None
    fired["sunk"] += len(sums) + len(products)
    stacked: dict[int, Variable] = {}  # id(body value) -> it, stacked as a new per-step output
    for terms in sums.values():
        for term in terms:
            b = term[2] if term[0] == "outer" else term[1]
            stacked.setdefault(id(b), b)
    for b, _ in products.values():
        stacked.setdefault(id(b), b)
    kept = [k for k in range(n_carry) if k not in sums]
    ys = [products[j][0] if j in products else y for j, y in enumerate(outputs[n_carry:])]
    new_body = FunctionGraph(
        [body.inputs[k] for k in kept] + list(body.inputs[n_carry:]),
        [outputs[k] for k in kept] + ys + list(stacked.values()),
    )
    save = tuple(kept.index(k) for k in params["save"])
    new_params = dict(params, body=new_body, n_carry=len(kept), save=save)
    new_inputs = [inputs[k] for k in kept] + inputs[n_carry:]
    position = {key: i for i, key in enumerate(stacked)}
    old_ys = params["body"].outputs[n_carry:]

    def finish(built) -> tuple:
        n_kept, n_new_y = len(kept), n_y
        finals, rest = list(built[:n_kept]), built[n_kept:]
        extra = rest[n_new_y : n_new_y + len(stacked)]
        ys_out = list(rest[:n_new_y])
        saved = rest[n_new_y + len(stacked) :]
        every = []
        for k in range(n_carry):
            if k in sums:
                with origin_scope(body.outputs[k].owner.origin):
                    every.append(_after(inputs[k], sums[k], extra, position))
            else:
                every.append(finals.pop(0))
        for j, (b, w) in products.items():
            with origin_scope(old_ys[j].owner.origin):
                ys_out[j] = _stacked_product(extra[position[id(b)]], w, old_ys[j])
        return (*every, *ys_out, *saved)

    return new_inputs, new_params, finish


def _accumulated(acc: Variable, new: Variable, readers: dict, sequences: dict) -> list | None:
    """The terms of new = acc + Σ terms (a tree of additions read by nothing else), each a product
    x[t]ᵀ · b[t] (x a sequence) or a sum of b[t] over axes, of acc's type; None for any other carry."""
    if new.owner is None or new.owner.op is not Op.ADD or readers.get(id(new)):
        return None
    inside: set[int] = set()  # the additions of the tree
    terms, pending = [], [new]
    while pending:
        v = pending.pop()
        if v is acc:
            continue
        owner = v.owner
        if owner is None:
            return None
        if owner.op is Op.ADD and (v is new or all(id(n) in inside for n in readers.get(id(v), []))):
            inside.add(id(owner))
            pending.extend(owner.inputs)
            continue
        if v.type.dtype != acc.type.dtype or not same_shape(v.type.shape, acc.type.shape):
            return None
        if owner.op is Op.MATMUL and _is_transpose(owner.inputs[0]) and owner.inputs[1].type.ndim == 2:
            a = owner.inputs[0].owner.inputs[0]
            if id(a) not in sequences or a.type.ndim != 2:
                return None
            terms.append(("outer", sequences[id(a)], owner.inputs[1]))
        elif owner.op is Op.SUM and not owner.params["keepdims"]:
            terms.append(("sum", owner.inputs[0], owner.params["axis"]))
        else:
            return None
    users = readers.get(id(acc), [])
    if len(users) != 1 or id(users[0]) not in inside or users[0].inputs.count(acc) != 1:
        return None
    return terms or None


def _is_transpose(v: Variable) -> bool:
    return v.owner is not None and v.owner.op is Op.TRANSPOSE and v.owner.params["perm"] == (1, 0)


def _after(init: Variable, terms: list, extra, position: dict) -> Variable:
    """init + Σ terms over every step, from the stacked values (init left out where it is zero)."""
    total = None if _is_zero(init) else init
    for term in terms:
        if term[0] == "outer":
            _, xs, b = term
            bs = extra[position[id(b)]]
            rows = dim_product(xs.type.shape[:-1])
            x2 = reshape(xs, (rows, xs.type.shape[-1]))
            b2 = reshape(bs, (rows, bs.type.shape[-1]))
            part = matmul(transpose(x2), b2)
        else:
            _, b, axes = term
            part = sum_(extra[position[id(b)]], axis=(0, *(a + 1 for a in axes)))
        total = part if total is None else add(total, part)
    return total


def _is_zero(v: Variable) -> bool:
    """A constant zero, possibly broadcast (the backward scan's initial accumulators)."""
    if v.owner is not None and v.owner.op is Op.BROADCAST_TO:
        v = v.owner.inputs[0]
    return isinstance(v, Constant) and v.value.size > 0 and not v.value.any()


def _stacked_product(bs: Variable, w: Variable, y: Variable) -> Variable:
    """Y = B · W over all steps at once (one product), shaped like the stacked ys."""
    if bs.type.ndim == 2:
        return matmul(bs, w)
    rows = dim_product(bs.type.shape[:-1])
    flat = matmul(reshape(bs, (rows, bs.type.shape[-1])), w)
    return reshape(flat, bs.type.shape[:-1] + (w.type.shape[1],))


__all__ = ["sink"]
