"""The arena: one malloc'd block per call holding every intermediate, laid out by the memory plan, plus a
scratch region for the node being lowered. Knows views, sizes and the plan, not ops or graphs.

Each slot of the plan (``graphc.codegen.memory``) is one region of the arena, placed on first use; values
whose lifetimes do not overlap share a slot, so equal-sized buffers are reused once dead. A rule's own
temporaries (an accumulator, a copy BLAS can read) live in the scratch region, which every node reuses from
its start: its size is the largest any node needed. Both regions' sizes are run-time values; the alloc block
mallocs their sum once, after the checks.

No size wraps: each array laid out here is refused before any work when its sizes other than 0, multiplied,
times its item size pass ``checks.MAX_BYTES`` (NumPy's "array is too big"), and so is a call whose arena total
overflows 64 bits.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir

from graphc.codegen.checks import MAX_BYTES, too_big
from graphc.codegen.memory import MemoryPlan, plan_graph
from graphc.dims import Dim, product
from graphc.errors import ShapeError
from graphc.types import shape_str

from .scalar import I1, I8, memory_type
from .shapes import VIEWS
from .sizes import Sizes, checked
from .views import View, const, contiguous, mul

I8P = I8.as_pointer()
ALIGN = 64


def byte_size(var) -> Dim | int:
    """A value's size in bytes, an int or a size expression: the memory plan's storage key (equal sizes
    share a slot)."""
    return _bytes(var.type.dtype.itemsize, var.type.shape)


def plan_memory(fgraph, direct=frozenset()) -> MemoryPlan:
    """Slots by byte size; views have none of their own and keep what they view alive. Values in `direct`
    (ids: a body's outputs written straight into a carry buffer or a stacked output) need none either."""

    def key_of(var):
        if id(var) in direct or VIEWS.get(var.owner.op) == "always":
            return None
        return byte_size(var)

    return plan_graph(fgraph, key_of, lambda node: (0,) if node.op in VIEWS else ())


@functools.lru_cache(maxsize=1024)
def _bytes(itemsize: int, shape: tuple) -> Dim | int:
    return itemsize * product(shape)


class Arena:
    """``refuse(condition, exc, message)`` registers a check made before any work (see ``failure``)."""

    def __init__(self, entry: ir.IRBuilder, body: ir.IRBuilder, sizes: Sizes, plan, refuse):
        self.entry, self.body, self.sizes, self.plan, self._refuse = entry, body, sizes, plan, refuse
        self.overflow = ir.Constant(I1, 0)  # some sum of region sizes overflowed: refused in ``total``
        self.base_slot = entry.alloca(I8P, name="arena")
        self.scratch_slot = entry.alloca(I8P, name="scratch")
        # Loaded where the body starts; the alloc block (emitted last) stores them before the body runs.
        self.base = body.load(self.base_slot, name="arena.base")
        self.scratch_base = body.load(self.scratch_slot, name="scratch.base")
        self.slots_size = const(0)
        self.scratch_size = const(0)
        self._node_scratch = const(0)
        self._offsets: dict[tuple[int, int], ir.Value] = {}
        self._aligned: dict = {}
        self._slot_of: dict[int, tuple[int, int]] = {}  # id(var) -> (plan number, slot)
        self._plans = 0
        self.add_plan(plan)

    def add_plan(self, plan: MemoryPlan) -> None:
        """The plan of a body too: its slots are a region of their own (a body's values live while it runs,
        between the values of the enclosing graph). A later plan takes over the values it shares with an
        earlier one (a backward body recomputes nodes of the forward body): each body is lowered in one go."""
        self._slot_of.update((v, (self._plans, s)) for v, s in plan.slot.items())
        self._plans += 1

    def slot_view(self, var) -> View:
        """The arena region the plan gave ``var`` (a node's output), as a contiguous view."""
        slot = self._slot_of[id(var)]
        if slot not in self._offsets:
            self._offsets[slot] = self._reserve(var.type.dtype, var.type.shape, str(too_big(var)))
        return self._view(self.base, self._offsets[slot], var.type.dtype, var.type.shape)

    def fixed(self, dtype, shape, what: str = "a loop's carry") -> View:
        """A region of its own for the rest of the call (a loop's carry buffers)."""
        return self._view(self.base, self._reserve(dtype, shape, _too_big(what, shape)), dtype, shape)

    def _reserve(self, dtype, shape, too_big_message: str) -> ir.Value:
        offset = self.slots_size
        self.slots_size = self._add(self.slots_size, self._aligned_size(dtype, shape, too_big_message))
        return offset

    def scratch(self, dtype, shape, what: str = "a temporary", where: str = "") -> View:
        """A temporary for the node being lowered; gone when the next node starts."""
        offset = self._node_scratch
        size = self._aligned_size(dtype, shape, _too_big(what, shape) + where)
        self._node_scratch = self._add(offset, size)
        return self._view(self.scratch_base, offset, dtype, shape)

    def end_node(self) -> None:
        """The scratch region must hold what this node used; the next node starts again at 0."""
        used, most, e = self._node_scratch, self.scratch_size, self.entry
        if not (isinstance(used, ir.Constant) and used.constant == 0):
            self.scratch_size = e.select(e.icmp_unsigned(">", used, most), used, most)
        self._node_scratch = const(0)

    def total(self) -> ir.Value:
        """In the entry block, once every node is lowered: the bytes to malloc (a sum that overflows is
        refused)."""
        total = self._add(self._add(self.slots_size, self.scratch_size), const(ALIGN))
        self._refuse(
            lambda b, bad=self.overflow: b.not_(bad),
            ShapeError,
            "the intermediate values of this call would need more than 2**63 - 1 bytes",
        )
        return total

    def allocate(self, b: ir.IRBuilder, malloc: ir.Function, total: ir.Value) -> ir.Value:
        """In the alloc block: malloc both regions and store their bases; returns the address (or null)."""
        block = b.call(malloc, [total])
        b.store(block, self.base_slot)
        b.store(b.gep(block, [self.slots_size]), self.scratch_slot)
        return block

    def _aligned_size(self, dtype, shape, too_big_message: str) -> ir.Value:
        """The size rounded up to ALIGN; the first array of each size also gets its "too big" check."""
        dtype = np.dtype(dtype)
        key = (dtype.itemsize, tuple(shape))
        if key not in self._aligned:
            dims = [self.sizes.dim(d) for d in shape]
            self._check_fits(dims, dtype.itemsize, too_big_message)
            size = mul(self.entry, self.sizes.product(dims), const(dtype.itemsize))
            e = self.entry
            self._aligned[key] = e.and_(self._add(size, const(ALIGN - 1)), const(-ALIGN))
        return self._aligned[key]

    def _check_fits(self, dims, itemsize: int, message: str) -> None:
        """Refuse the call if the sizes other than 0, multiplied, times ``itemsize`` pass MAX_BYTES."""
        e, bound, bad = self.entry, const(itemsize), None
        for d in dims:
            one = const(1)
            d = (
                const(max(d.constant, 1))
                if isinstance(d, ir.Constant)
                else e.select(e.icmp_signed(">", d, one), d, one)
            )
            if isinstance(bound, ir.Constant) and isinstance(d, ir.Constant):
                if bound.constant * d.constant > MAX_BYTES:  # too big whatever the sizes: every call fails
                    bad = ir.Constant(I1, 1)
                    break
                bound = const(bound.constant * d.constant)
            else:
                bound, overflow = checked(e, "mul", bound, d)
                bad = overflow if bad is None else e.or_(bad, overflow)
        if bad is not None:
            self._refuse(lambda b, bad=bad: b.not_(bad), ShapeError, message)

    def _add(self, x: ir.Value, y: ir.Value) -> ir.Value:
        """x + y in the entry block; an overflow is remembered and refused before the call does any work."""
        if isinstance(x, ir.Constant) and isinstance(y, ir.Constant) and x.constant + y.constant <= MAX_BYTES:
            return const(x.constant + y.constant)
        total, overflow = checked(self.entry, "add", x, y)
        self.overflow = self.entry.or_(self.overflow, overflow)
        return total

    def _view(self, base: ir.Value, offset: ir.Value, dtype, shape) -> View:
        ptr = self.body.bitcast(self.body.gep(base, [offset]), memory_type(dtype).as_pointer())
        return contiguous(self.entry, ptr, dtype, shape, [self.sizes.dim(d) for d in shape])


def _too_big(what: str, shape) -> str:
    return f"array is too big: {what} of shape {shape_str(shape)} would need more than 2**63 - 1 bytes"


__all__ = ["ALIGN", "Arena", "byte_size", "plan_memory"]
