"""Memory planning, the last step before code: when each value is read for the last time, and which storage
slot can hold it. The numpy and llvm backends both read the plan; it knows steps and values, no backend.

A plan walks a sequence of steps (a graph's nodes, or a fused kernel's instructions). Each step reads values
and writes values. A written value gets a slot when the backend gives it a storage key (bytes, or shape and
dtype): two values share a slot only if their keys are equal and their lifetimes do not overlap. A value that
may be a view of another keeps the other's storage alive for as long as it lives itself.

    >>> steps = [((0,), (1,)), ((1,), (2,)), ((2,), (3,))]      # (reads, writes): 0 -> 1 -> 2 -> 3
    >>> p = plan(steps, keep=(3,), key_of=lambda v: "8n bytes")
    >>> p.slot == {1: 0, 2: 1, 3: 0}                               # 3 reuses 1's slot: 1 died at step 1
    True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

Step = tuple[Sequence[Hashable], Sequence[Hashable]]  # (values read, values written)


@dataclass
class MemoryPlan:
    """last_use[v]: the last step reading v (len(steps) for kept values); dying[k]: values read for the last
    time at step k (free after it); slot[v]: where v is stored; keys[s]: slot s's storage key."""

    last_use: dict = field(default_factory=dict)
    dying: list[list] = field(default_factory=list)
    slot: dict = field(default_factory=dict)
    keys: list = field(default_factory=list)
    label: Callable[[Hashable], str] = str  # how `str` names a value

    def __str__(self) -> str:
        """One line per slot: its key, then the values it holds in turn and the last step each is read."""
        holders: dict[int, list] = defaultdict(list)
        for v, s in self.slot.items():
            holders[s].append(v)
        lines = []
        for s, key in enumerate(self.keys):
            spans = ", ".join(f"{self.label(v)} (to step {self.last_use[v]})" for v in holders[s])
            lines.append(f"slot {s} [{key}]: {spans}")
        return "\n".join(lines) or "no slots"


def plan(
    steps: Sequence[Step],
    keep: Iterable[Hashable] = (),
    key_of: Callable[[Hashable], Hashable | None] | None = None,
    aliases: Callable[[Hashable], Iterable[Hashable]] | None = None,
    reusable: Callable[[Hashable], bool] = lambda v: True,
    in_place: bool = False,
) -> MemoryPlan:
    """Plan ``steps``. ``keep``: values live after the last step (outputs). ``key_of(v)``: v's storage key, or
    None when v needs no slot (a view, a constant, a scalar); without ``key_of`` the plan has lifetimes only.
    ``aliases(v)``: values whose storage v may view.
    ``reusable(v)``: whether v may take a freed slot (else it always gets a new one, freed later as usual).
    ``in_place``: a step may write into the slot of a value it reads for the last time (NumPy ufuncs can);
    otherwise a step's outputs never share storage with its inputs (llvm kernels read and write in one loop).
    """
    n = len(steps)
    last_use: dict = {}
    for k, (reads, writes) in enumerate(steps):
        for v in reads:
            last_use[v] = k
        for v in writes:  # each value is written once, before any read: never read, it dies here
            last_use[v] = k
    for v in keep:
        last_use[v] = n
    if aliases is not None:  # a view keeps what it views alive; in reverse order, so chains of views resolve
        for k in reversed(range(n)):
            for v in steps[k][1]:
                for base in aliases(v):
                    last_use[base] = max(last_use.get(base, k), last_use[v])
    dying: list[list] = [[] for _ in range(n)]
    for v, k in last_use.items():
        if k < n:
            dying[k].append(v)
    result = MemoryPlan(last_use, dying)
    if key_of is not None:
        _assign_slots(result, steps, key_of, reusable, in_place)
    return result


def _assign_slots(result: MemoryPlan, steps, key_of, reusable, in_place: bool) -> None:
    """Walk the steps with one free list per key: a value takes a free slot of its key, or a new one."""
    slot, keys, dying = result.slot, result.keys, result.dying
    pool: dict = {}  # key -> free slots
    for k, (_, writes) in enumerate(steps):
        if in_place:  # what this step reads last frees its slot first (its own outputs have none yet)
            for v in dying[k]:
                if v in slot:
                    pool[keys[slot[v]]].append(slot[v])
        for v in writes:
            key = key_of(v)
            if key is None:
                continue
            free = pool.setdefault(key, [])
            if free and reusable(v):
                slot[v] = free.pop()
            else:
                slot[v] = len(keys)
                keys.append(key)
        for v in dying[k]:
            if v in slot and (not in_place or v in writes):  # in place, the others went first
                pool[keys[slot[v]]].append(slot[v])


def plan_graph(
    fgraph,
    key_of: Callable[[object], Hashable | None] | None = None,
    aliases: Callable[[object], Sequence[int]] | None = None,
) -> MemoryPlan:
    """The plan of a FunctionGraph's nodes, by ``id`` of each Variable; its outputs and updates are kept.

    ``key_of(var)``: the storage key of a node's output (none: lifetimes only); ``aliases(node)``: positions
    of the inputs that the node's outputs may be views of.
    """
    nodes = fgraph.nodes
    steps = [(tuple(map(id, node.inputs)), tuple(map(id, node.outputs))) for node in nodes]
    made: dict = {}  # id -> (variable, node, step), built when a question about a value needs it

    def origin(v) -> tuple:
        if not made:
            made.update((id(out), (out, node, k)) for k, node in enumerate(nodes) for out in node.outputs)
        return made[v]

    def viewed(v):
        node = origin(v)[1]
        return [id(node.inputs[i]) for i in aliases(node)]

    def label(v) -> str:
        var, node, k = origin(v)
        return var.name or f"{node.op.value}@{k}"

    result = plan(
        steps,
        map(id, fgraph.roots),
        None if key_of is None else lambda v: key_of(origin(v)[0]),
        None if aliases is None else viewed,
    )
    result.label = label
    return result


__all__ = ["MemoryPlan", "plan", "plan_graph"]
