"""IR-builder helpers for loops and strided addressing (numba ``cgutils`` style); knows nothing of graphs.

Example::

    with for_range(builder, n) as i:
        xi = builder.load(gep(builder, x, i))
        builder.store(xi, gep(builder, y, i))

Addresses are always computed with GEP, never ``ptrtoint`` arithmetic (LLVM miscompiles the latter).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from llvmlite import ir

__all__ = ["I32", "I64", "for_range", "gep", "loop_nest", "strided_gep"]

I32 = ir.IntType(32)
I64 = ir.IntType(64)


def _as_value(value: ir.Value | int, ty: ir.Type = I64) -> ir.Value:
    return value if isinstance(value, ir.Value) else ir.Constant(ty, value)


@contextmanager
def for_range(
    builder: ir.IRBuilder,
    stop: ir.Value | int,
    start: ir.Value | int = 0,
    step: int = 1,
    name: str = "i",
) -> Iterator[ir.Value]:
    """``for (i = start; i < stop; i += step)``: yields ``i`` (i64); the builder ends after the loop.

    The loop is emitted in rotated form guarded by ``start < stop`` so the loop vectoriser recognises it.
    ``stop`` and ``start`` are i64 values or Python ints; ``step`` must be a positive Python int.
    """
    if step <= 0:
        raise ValueError("for_range needs a positive step")
    stop_v = _as_value(stop)
    start_v = _as_value(start)
    pre = builder.block
    body = builder.append_basic_block(f"{name}.body")
    done = builder.append_basic_block(f"{name}.done")
    builder.cbranch(builder.icmp_signed("<", start_v, stop_v), body, done)

    builder.position_at_end(body)
    index = builder.phi(I64, name=name)
    index.add_incoming(start_v, pre)
    yield index
    # The caller's body may have created new blocks: the back-edge leaves from wherever the builder is now.
    nxt = builder.add(index, ir.Constant(I64, step), name=f"{name}.next", flags=["nsw"])
    index.add_incoming(nxt, builder.block)
    builder.cbranch(builder.icmp_signed("<", nxt, stop_v), body, done)
    builder.position_at_end(done)


@contextmanager
def loop_nest(
    builder: ir.IRBuilder, stops: Sequence[ir.Value | int], name: str = "i"
) -> Iterator[list[ir.Value]]:
    """Nested ``for_range`` loops over ``stops`` (outermost first); yields the list of indices.

    Written with an explicit stack of context managers rather than recursion.
    """
    managers = [for_range(builder, stop, name=f"{name}{depth}") for depth, stop in enumerate(stops)]
    indices = []
    try:
        for manager in managers:
            indices.append(manager.__enter__())
        yield indices
    finally:
        for manager in reversed(managers[: len(indices)]):
            manager.__exit__(None, None, None)


def gep(builder: ir.IRBuilder, ptr: ir.Value, index: ir.Value | int, inbounds: bool = True) -> ir.Value:
    """``&ptr[index]`` for a pointer to elements."""
    return builder.gep(ptr, [_as_value(index)], inbounds=inbounds)


def strided_gep(
    builder: ir.IRBuilder,
    ptr: ir.Value,
    indices: Sequence[ir.Value | int],
    strides: Sequence[ir.Value | int],
    inbounds: bool = True,
) -> ir.Value:
    """``&ptr[sum(indices[k] * strides[k])]`` with strides counted in elements (not bytes)."""
    if len(indices) != len(strides):
        raise ValueError(f"{len(indices)} indices but {len(strides)} strides")
    offset: ir.Value = ir.Constant(I64, 0)
    for index, stride in zip(indices, strides, strict=True):
        term = builder.mul(_as_value(index), _as_value(stride), flags=["nsw"])
        offset = builder.add(offset, term, flags=["nsw"])
    return builder.gep(ptr, [offset], inbounds=inbounds)
