"""Passes for the ops with a body: every pass of the pipeline also runs inside each body (`into_bodies`), and
`optimize_loops` prunes and hoists. Imports only the graphc core; knows nothing of codegen.

`optimize_loops`, for each SCAN (innermost loops first):
- prunes what nothing reads: ys, saved carries, carries that no needed value depends on, and the sequences
  and captured values the remaining body does not read (the backward scan's unwanted weight gradients go);
- hoists loop-invariant work: a body node whose inputs are all captured values (or constants) is computed
  once, before the loop, and its value captured instead;
- lifts per-step maps over the sequences out of the loop: ``x[t] @ W`` (x a sequence, W invariant) becomes ONE
  matrix product over all the stacked steps before the loop, and elementwise work on such products (+ b)
  follows it; the loop then reads row t of the result. A backward scan's recomputation of ``h[t] @ W`` from
  the saved carries is lifted the same way.
"""

from __future__ import annotations

from collections import Counter

from graphc.bodies import dependencies
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, Variable, apply
from graphc.ops import BODY_PARAMS, ELEMENTWISE, Op
from graphc.origin import origin_scope
from graphc.tensor import matmul, reshape
from graphc.types import dim_product

from .cse import cse
from .loop_sinks import sink


def into_bodies(run, fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """`run` (a pass) on the graph, then on every body inside it, nested ones too."""
    fgraph, fired = run(fgraph)
    fired = Counter(fired)
    if not any(node.op in BODY_PARAMS for node in fgraph.nodes):
        return fgraph, dict(fired)

    def rule(node: Node, inputs: list[Variable]):
        if node.op not in BODY_PARAMS:
            return None
        params = dict(node.params)
        for key in BODY_PARAMS[node.op]:
            params[key], inside = into_bodies(run, node.params[key])
            fired.update(inside)
        if all(params[k] is node.params[k] for k in params) and all(map(_same, inputs, node.inputs)):
            return None
        return _as_tuple(apply(node.op, inputs, origin=node.origin, **params))

    return _unchanged_or(fgraph, fgraph.rebuild(rule)), dict(fired)


MAX_ROUNDS = 8  # pruning a backward loop can leave its forward loop's outputs unread: prune again


def optimize_loops(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    """Prune, hoist and lift in every SCAN (see the module docstring); CSE again if anything moved out. A
    round that pruned something is followed by another (a loop's readers come after it in the walk)."""
    fired: Counter[str] = Counter()
    for _ in range(MAX_ROUNDS):
        pruned = fired["pruned"]
        fgraph = _one_round(fgraph, fired)
        if fired["pruned"] == pruned:
            break
    if fired["hoisted"] or fired["lifted"] or fired["sunk"]:
        fgraph, merged = cse(fgraph)
        fired.update(merged)
    return fgraph, {k: v for k, v in fired.items() if v}


optimize_loops.own_bodies = True  # the pipeline must not run it inside bodies again: it recurses itself


def _one_round(fgraph: FunctionGraph, fired: Counter) -> FunctionGraph:
    used = {id(v) for node in fgraph.nodes for v in node.inputs} | {id(v) for v in fgraph.roots}

    def rule(node: Node, inputs: list[Variable]):
        if node.op not in BODY_PARAMS:
            return None
        old, outputs = node, list(node.outputs)
        if node.op is Op.SCAN:
            node, inputs, outputs = _prune(node, inputs, outputs, used, fired)
        params = dict(node.params)
        for key in BODY_PARAMS[node.op]:  # innermost first: what a nested loop hoists may move further out
            params[key], inside = optimize_loops(node.params[key])
            fired.update(inside)
        finish = None
        if node.op is Op.SCAN:
            inputs, params = _drop_unread(*_hoist(inputs, params, fired))
            inputs, params, finish = sink(inputs, params, fired)
        if all(params[k] is node.params[k] for k in params) and all(map(_same, inputs, node.inputs)):
            return outputs if any(a is not b for a, b in zip(outputs, old.outputs, strict=True)) else None
        built = _as_tuple(apply(node.op, inputs, origin=node.origin, **params))
        if finish is not None:
            with origin_scope(node.origin):
                built = finish(built)
        position = {id(v): i for i, v in enumerate(node.outputs)}  # the same outputs, in the same order
        return [built[position[id(v)]] if id(v) in position else v for v in outputs]

    return _unchanged_or(fgraph, fgraph.rebuild(rule))


# --- pruning ------------------------------------------------------------------------------------------------
def _prune(node: Node, inputs, outputs, used: set[int], fired: Counter):
    """The scan without what nothing reads. Returns (node, inputs, outputs): `outputs` lists, for each old
    output, the new node's output or the old (unread) variable; a node that changed is not built yet, so it
    comes back as a stand-in with the new params (built by the caller)."""
    p = node.params
    body, n_carry, n_seq = p["body"], p["n_carry"], p["n_seq"]
    n_y = len(body.outputs) - n_carry
    outs = node.outputs
    saved_used = [k for k, v in zip(p["save"], outs[n_carry + n_y :], strict=True) if id(v) in used]
    carries = {k for k in range(n_carry) if id(outs[k]) in used or k in saved_used}
    keep_y = [j for j in range(n_y) if id(outs[n_carry + j]) in used]
    deps = dependencies(body)
    reads = 0
    for j in keep_y:
        reads |= deps[n_carry + j]
    while True:
        for k in carries:
            reads |= deps[k]
        more = {k for k in range(n_carry) if reads >> k & 1} - carries
        if not more:
            break
        carries |= more
    keep_c = sorted(carries)
    keep_in = keep_c + [k for k in range(n_carry, len(body.inputs)) if reads >> k & 1]
    if len(keep_c) == n_carry and len(keep_y) == n_y and len(keep_in) == len(body.inputs):
        if len(saved_used) == len(p["save"]):
            return node, inputs, outputs
    fired["pruned"] += (n_carry - len(keep_c)) + (n_y - len(keep_y)) + (len(p["save"]) - len(saved_used))
    new_body = FunctionGraph(
        [body.inputs[k] for k in keep_in],
        [body.outputs[k] for k in keep_c] + [body.outputs[n_carry + j] for j in keep_y],
    )
    n_kept_seq = sum(n_carry <= k < n_carry + n_seq for k in keep_in)
    save = tuple(keep_c.index(k) for k in saved_used)
    params = dict(p, body=new_body, n_carry=len(keep_c), n_seq=n_kept_seq, save=save)
    built = _as_tuple(apply(Op.SCAN, [inputs[k] for k in keep_in], origin=node.origin, **params))
    new_outputs = list(outputs)
    old_positions = keep_c + [n_carry + j for j in keep_y]
    old_positions += [n_carry + n_y + p["save"].index(k) for k in saved_used]
    for position, var in zip(old_positions, built, strict=True):
        new_outputs[position] = var
    return built[0].owner, list(built[0].owner.inputs), new_outputs


def _drop_unread(inputs: list[Variable], params: dict):
    """The scan without the sequences and captured values its body no longer reads (after hoisting)."""
    body, n_carry, n_seq = params["body"], params["n_carry"], params["n_seq"]
    reads = 0
    for m in dependencies(body):
        reads |= m
    keep = [k for k in range(len(body.inputs)) if k < n_carry or reads >> k & 1]
    if len(keep) == len(inputs):
        return inputs, params
    new_body = FunctionGraph([body.inputs[k] for k in keep], body.outputs)
    n_seq = sum(n_carry <= k < n_carry + n_seq for k in keep)
    return [inputs[k] for k in keep], dict(params, body=new_body, n_seq=n_seq)


# --- hoisting and lifting -----------------------------------------------------------------------------------
INVARIANT, SEQUENCE, LIFTED, STEP = "invariant", "sequence", "lifted", "step"


def _hoist(inputs: list[Variable], params: dict, fired: Counter):
    """(inputs, params) of the scan with invariant body nodes computed before the loop (captured) and lifted
    per-step maps computed over all steps (new sequences)."""
    body, n_carry, n_seq = params["body"], params["n_carry"], params["n_seq"]
    kind: dict[int, str] = {}
    outer: dict[int, Variable] = {}  # id(body value) -> its value outside: as it is, or stacked over steps
    for k, (v, given) in enumerate(zip(body.inputs, inputs, strict=True)):
        kind[id(v)] = STEP if k < n_carry else SEQUENCE if k < n_carry + n_seq else INVARIANT
        outer[id(v)] = given

    def kind_of(v: Variable) -> str:
        if id(v) not in kind and isinstance(v, Constant):
            kind[id(v)], outer[id(v)] = INVARIANT, v
        return kind[id(v)]

    for node in body.nodes:
        kinds = [kind_of(v) for v in node.inputs]
        if all(k == INVARIANT for k in kinds):
            made = _outside(node, outer)
            new_kind = INVARIANT
        else:
            made = _lift(node, kinds, outer)
            new_kind = LIFTED if made is not None else STEP
        for i, out in enumerate(node.outputs):
            kind[id(out)] = new_kind
            if made is not None:
                outer[id(out)] = made[i]
    # Values moved out that the loop still reads become new inputs: invariant ones captured, lifted ones
    # sequences (read row by row).
    read = [v for node in body.nodes if kind[id(node.outputs[0])] == STEP for v in node.inputs]
    read += list(body.outputs)
    moved = {}
    for v in read:
        if v.owner is not None and kind.get(id(v)) in (INVARIANT, LIFTED) and id(v) not in moved:
            moved[id(v)] = v
    if not moved:
        return inputs, params
    fired["hoisted"] += sum(kind[i] == INVARIANT for i in moved)
    fired["lifted"] += sum(kind[i] == LIFTED for i in moved)
    placeholders = {i: Variable(v.type, v.name) for i, v in moved.items()}
    new_body = _step_part(body, kind, placeholders)
    lifted = [i for i in moved if kind[i] == LIFTED]
    hoisted = [i for i in moved if kind[i] == INVARIANT]
    carries, xs, held = (new_body.inputs[:n_carry], new_body.inputs[n_carry : n_carry + n_seq],
                         new_body.inputs[n_carry + n_seq :])  # fmt: skip
    new_body = FunctionGraph(
        [*carries, *xs, *(placeholders[i] for i in lifted), *held, *(placeholders[i] for i in hoisted)],
        new_body.outputs,
    )
    new_inputs = [*inputs[: n_carry + n_seq], *(outer[i] for i in lifted), *inputs[n_carry + n_seq :]]
    new_inputs += [outer[i] for i in hoisted]
    return new_inputs, dict(params, body=new_body, n_seq=n_seq + len(lifted))


def _lift(node: Node, kinds: list[str], outer: dict) -> tuple | None:
    """The node over all steps at once (its inputs' stacked values), or None where that does not pay or
    does not fit: a matrix product of a per-step value by an invariant matrix, then elementwise work on it."""
    with origin_scope(node.origin):
        return _lifted(node, kinds, outer)


def _lifted(node: Node, kinds: list[str], outer: dict) -> tuple | None:
    out = node.outputs[0]
    if node.op is Op.MATMUL:
        a, w = node.inputs
        if kinds[0] not in (SEQUENCE, LIFTED) or kinds[1] != INVARIANT or w.type.ndim != 2:
            return None
        stacked = outer[id(a)]
        if a.type.ndim == 1:
            return (matmul(stacked, outer[id(w)]),)
        rows = dim_product(stacked.type.shape[:-1])
        flat = matmul(reshape(stacked, (rows, a.type.shape[-1])), outer[id(w)])
        return (reshape(flat, stacked.type.shape[:-1] + (w.type.shape[1],)),)
    if kinds == [LIFTED] and node.op in STEPWISE:  # a view of each step (a gate's slice): of the steps
        params = STEPWISE[node.op](node.params, outer[id(node.inputs[0])])
        return _as_tuple(apply(node.op, [outer[id(node.inputs[0])]], origin=node.origin, **params))
    if node.op not in ELEMENTWISE or LIFTED not in kinds or STEP in kinds or len(node.outputs) != 1:
        return None
    for v, k in zip(node.inputs, kinds, strict=True):  # the step axis must line up as the first axis
        if v.type.ndim > out.type.ndim or (k != INVARIANT and v.type.ndim != out.type.ndim):
            return None
    return _outside(node, outer)


STEPWISE = {
    Op.GETITEM: lambda p, stacked: {"index": (("slice", None, None, None), *p["index"])},
    Op.TRANSPOSE: lambda p, stacked: {"perm": (0, *(a + 1 for a in p["perm"]))},
    Op.RESHAPE: lambda p, stacked: {"shape": (stacked.type.shape[0], *p["shape"])},
}
"""Shape ops on one step, as params of the same op on all the steps (the step axis first, untouched)."""


def _outside(node: Node, outer: dict) -> tuple:
    """The node applied outside the loop, to its inputs' outer values."""
    return _as_tuple(apply(node.op, [outer[id(v)] for v in node.inputs], origin=node.origin, **node.params))


def _step_part(body: FunctionGraph, kind: dict, placeholders: dict) -> FunctionGraph:
    """The body's nodes that stay in the loop, reading the moved values through their placeholders."""
    mapping = dict(placeholders)
    for node in body.nodes:
        if kind[id(node.outputs[0])] != STEP:
            continue
        new_inputs = [mapping.get(id(v), v) for v in node.inputs]
        if any(a is not b for a, b in zip(new_inputs, node.inputs, strict=True)):
            rebuilt = Node(node.op, new_inputs, node.params, [v.type for v in node.outputs], node.origin)
            mapping.update((id(a), b) for a, b in zip(node.outputs, rebuilt.outputs, strict=True))
    return FunctionGraph(body.inputs, [mapping.get(id(v), v) for v in body.outputs])


# --- helpers ------------------------------------------------------------------------------------------------
def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _same(a: Variable, b: Variable) -> bool:
    return a is b


def _unchanged_or(old: FunctionGraph, new: FunctionGraph) -> FunctionGraph:
    """`old` itself when a rebuild changed nothing (bodies compare by identity: CSE merges equal loops)."""
    if all(map(_same, old.roots, new.roots)):
        return old
    return new


__all__ = ["into_bodies", "optimize_loops"]
