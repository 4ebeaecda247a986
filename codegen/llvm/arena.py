"""The arena: one malloc'd block per call holding every intermediate, laid out by the memory plan, plus a
scratch region for the node being lowered. Knows views, sizes and the plan, not ops or graphs.

Each slot of the plan (``graphc.codegen.memory``) is one region of the arena, placed on first use; values
whose lifetimes do not overlap share a slot, so equal-sized buffers are reused once dead. A rule's own
temporaries (an accumulator, a copy BLAS can read) live in the scratch region, which every node reuses from
its start: its size is the largest any node needed. Both regions' sizes are run-time values; the alloc block
mallocs their sum once, after the checks.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir

from graphc.dims import Dim, product

from .scalar import I8, memory_type
from .sizes import Sizes
from .views import View, const, contiguous, mul

I8P = I8.as_pointer()
ALIGN = 64


def byte_size(var) -> Dim | int:
    """A value's size in bytes, an int or a size expression: the memory plan's storage key (equal sizes
    share a slot)."""
    return _bytes(var.type.dtype.itemsize, var.type.shape)


@functools.lru_cache(maxsize=1024)
def _bytes(itemsize: int, shape: tuple) -> Dim | int:
    return itemsize * product(shape)


class Arena:
    def __init__(self, entry: ir.IRBuilder, body: ir.IRBuilder, sizes: Sizes, plan):
        self.entry, self.body, self.sizes, self.plan = entry, body, sizes, plan
        self.base_slot = entry.alloca(I8P, name="arena")
        self.scratch_slot = entry.alloca(I8P, name="scratch")
        # Loaded where the body starts; the alloc block (emitted last) stores them before the body runs.
        self.base = body.load(self.base_slot, name="arena.base")
        self.scratch_base = body.load(self.scratch_slot, name="scratch.base")
        self.slots_size = const(0)
        self.scratch_size = const(0)
        self._node_scratch = const(0)
        self._offsets: dict[int, ir.Value] = {}
        self._aligned: dict = {}

    def slot_view(self, var) -> View:
        """The arena region the plan gave ``var`` (a node's output), as a contiguous view."""
        slot = self.plan.slot[id(var)]
        if slot not in self._offsets:
            self._offsets[slot] = self.slots_size
            size = self._aligned_size(var.type.dtype, var.type.shape)
            self.slots_size = self.entry.add(self.slots_size, size)
        return self._view(self.base, self._offsets[slot], var.type.dtype, var.type.shape)

    def scratch(self, dtype, shape) -> View:
        """A temporary for the node being lowered; gone when the next node starts."""
        offset = self._node_scratch
        self._node_scratch = self.entry.add(offset, self._aligned_size(dtype, shape))
        return self._view(self.scratch_base, offset, dtype, shape)

    def end_node(self) -> None:
        """The scratch region must hold what this node used; the next node starts again at 0."""
        used, most, e = self._node_scratch, self.scratch_size, self.entry
        if not (isinstance(used, ir.Constant) and used.constant == 0):
            self.scratch_size = e.select(e.icmp_unsigned(">", used, most), used, most)
        self._node_scratch = const(0)

    def allocate(self, b: ir.IRBuilder, malloc: ir.Function) -> ir.Value:
        """In the alloc block: malloc both regions and store their bases; returns the address (or null)."""
        total = b.add(b.add(self.slots_size, self.scratch_size), const(ALIGN))
        block = b.call(malloc, [total])
        b.store(block, self.base_slot)
        b.store(b.gep(block, [self.slots_size]), self.scratch_slot)
        return block

    def _aligned_size(self, dtype, shape) -> ir.Value:
        dtype = np.dtype(dtype)
        key = (dtype.itemsize, tuple(shape))
        if key not in self._aligned:
            dims = [self.sizes.dim(d) for d in shape]
            size = mul(self.entry, self.sizes.product(dims), const(dtype.itemsize))
            e = self.entry
            self._aligned[key] = e.and_(e.add(size, const(ALIGN - 1)), const(-ALIGN))
        return self._aligned[key]

    def _view(self, base: ir.Value, offset: ir.Value, dtype, shape) -> View:
        ptr = self.body.bitcast(self.body.gep(base, [offset]), memory_type(dtype).as_pointer())
        return contiguous(self.entry, ptr, dtype, shape, [self.sizes.dim(d) for d in shape])


__all__ = ["ALIGN", "Arena", "byte_size"]
