"""Splitting a loop body too big for one kernel into segments run one after another. Knows scalar bodies
(graphc.kernel-style instruction lists), not views or IR.

LLVM's compile time per kernel grows faster than its size: a fused body of thousands of instructions, or
one reading a thousand arrays (every pointer live across the loop), took seconds to minutes. So a body with
more than ``MAX_INSTRS`` instructions or ``MAX_OPERANDS`` arrays is cut, in order, into segments within both
bounds; a value one segment makes and a later one reads goes through a temporary array (constants are
repeated instead). Bounded kernels keep compile time linear in the graph's size, and equal segments of a
long repetitive body are one cached kernel.

Example::

    for part in split(instrs, n_inputs=2, outputs=[5]):
        part.inputs   # global value ids it reads (inputs or earlier segments' values), local ids 0..k-1
        part.instrs   # its instructions, renumbered
        part.stores   # global value ids it writes: outputs, and values later segments read
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["MAX_INSTRS", "MAX_OPERANDS", "Segment", "split"]

MAX_INSTRS = 256
MAX_OPERANDS = 24


@dataclass
class Segment:
    inputs: list[int]  # global value ids, read as local ids 0..len-1
    instrs: list  # renumbered instructions
    stores: list[int]  # global value ids this segment writes (local id: local[global])
    local: dict[int, int]  # global value id -> local id, for everything the segment has
    origins: list[int]  # per instruction of the segment, its index in the whole body (for its checks)


def split(instrs, n_inputs: int, outputs) -> list[Segment] | None:
    """The segments of a body (``outputs``: the global ids it must produce), or None when it fits one
    kernel. A value that is an input stays where it is; an output that is an input goes to the last
    segment."""
    outputs = list(outputs)
    if len(instrs) <= MAX_INSTRS and n_inputs + len(outputs) <= MAX_OPERANDS:
        return None
    last_use = _last_uses(instrs, n_inputs, outputs)
    constant = {n_inputs + k for k, ins in enumerate(instrs) if ins.op is None}
    bounds = _cut(instrs, n_inputs, last_use, constant)
    defined_in = {}
    for p, (start, stop) in enumerate(bounds):
        for k in range(start, stop):
            defined_in[n_inputs + k] = p
    needed_later: dict[int, set[int]] = {}  # part -> its values read by later parts
    for p, (start, stop) in enumerate(bounds):
        for ins in instrs[start:stop]:
            for a in ins.args:
                q = defined_in.get(a)
                if q is not None and q != p and a not in constant:
                    needed_later.setdefault(q, set()).add(a)
    segments = []
    for p, (start, stop) in enumerate(bounds):
        body = instrs[start:stop]
        args = [a for ins in body for a in ins.args if defined_in.get(a) != p]
        if p == len(bounds) - 1:
            args += [v for v in outputs if v < n_inputs]
        reads = list(dict.fromkeys(a for a in args if a not in constant))
        local = {g: k for k, g in enumerate(reads)}
        renumbered, origins = [], []
        for c in dict.fromkeys(a for a in args if a in constant):  # cheaper to repeat than to store and load
            local[c] = len(reads) + len(renumbered)
            renumbered.append(instrs[c - n_inputs])
            origins.append(c - n_inputs)
        for k, ins in enumerate(body, start=start):
            local[n_inputs + k] = len(reads) + len(renumbered)
            renumbered.append(replace(ins, args=tuple(local[a] for a in ins.args)))
            origins.append(k)
        stores = needed_later.get(p, set()) | {v for v in outputs if defined_in.get(v, len(bounds) - 1) == p}
        segments.append(Segment(reads, renumbered, sorted(stores), local, origins))
    return segments


def _last_uses(instrs, n_inputs: int, outputs) -> dict[int, int]:
    last = {}
    for k, ins in enumerate(instrs):
        for a in ins.args:
            last[a] = k
    for v in outputs:
        last[v] = len(instrs)  # outputs live to the end
    return last


def _cut(instrs, n_inputs: int, last_use: dict[int, int], constant: set[int]) -> list[tuple[int, int]]:
    """Greedy: grow a segment while its instructions and arrays (values it reads from outside, values it
    must store) stay within the bounds."""
    bounds, start = [], 0
    outside: set[int] = set()  # values read from outside the current segment
    alive = 0  # values of this segment still needed after the current instruction
    expiring: dict[int, int] = {}  # instruction index -> how many of this segment's values die there
    for k, ins in enumerate(instrs):
        alive -= expiring.pop(k - 1, 0)
        new = {a for a in ins.args if (a < n_inputs or a - n_inputs < start) and a not in constant} - outside
        vid = n_inputs + k
        lives = last_use.get(vid, -1) > k
        too_big = k - start >= MAX_INSTRS or len(outside) + len(new) + alive + lives > MAX_OPERANDS
        if too_big and k > start:
            bounds.append((start, k))
            start, outside, alive, expiring = k, set(), 0, {}
            new = {a for a in ins.args if a not in constant and (a < n_inputs or a - n_inputs < start)}
        outside |= new
        if lives:
            alive += 1
            expiring[last_use[vid]] = expiring.get(last_use[vid], 0) + 1
    bounds.append((start, len(instrs)))
    return bounds
