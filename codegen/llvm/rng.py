"""RANDOM_UNIFORM for the llvm backend: the counter-based hash of ``graphc.ops.random_uniform``, bit for bit.
Knows views and ops, not graphs.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.ops import Op

from . import loops
from .scalar import F64, I64, store_value
from .views import const


def _u64(value: int) -> ir.Constant:
    """A uint64 constant as LLVM's (two's complement) i64."""
    value &= 0xFFFFFFFFFFFFFFFF
    return ir.Constant(I64, value - (1 << 64) if value >= 1 << 63 else value)


def _mix64(b, z):
    """splitmix64's finaliser, as graphc.ops.random_uniform documents it (wrapping i64 arithmetic)."""
    z = b.mul(b.xor(z, b.lshr(z, _u64(30))), _u64(0xBF58476D1CE4E5B9))
    z = b.mul(b.xor(z, b.lshr(z, _u64(27))), _u64(0x94D049BB133111EB))
    return b.xor(z, b.lshr(z, _u64(31)))


def _random_uniform(ctx, node, ins):
    """The counter-based hash of graphc.ops.random_uniform, bit for bit (one scalar loop; it is never hot)."""
    (counter,), out = ins, node.outputs[0]
    b, dtype = ctx.b, out.type.dtype
    dest = ctx.out(out)
    c = b.load(counter.ptr)
    c = b.sext(c, I64) if c.type != I64 else c
    key = _mix64(b, b.xor(_u64(int(node.params["seed"])), _mix64(b, c)))
    dims = list(dest.dims)
    with loops.loop_nest(b, dims) as idx:
        flat = const(0)
        for i, d in zip(idx, dims, strict=True):
            flat = b.add(b.mul(flat, d), i)
        z = _mix64(b, b.add(key, b.mul(b.add(flat, const(1)), _u64(0x9E3779B97F4A7C15))))
        if dtype == np.float32:
            u = b.fmul(b.uitofp(b.lshr(z, _u64(40)), F64), ir.Constant(F64, 2.0**-24))
            u = b.fptrunc(u, ir.FloatType())
        else:
            u = b.fmul(b.uitofp(b.lshr(z, _u64(11)), F64), ir.Constant(F64, 2.0**-53))
        store_value(b, u, loops.strided_gep(b, dest.ptr, idx, dest.strides), dtype)
    return [dest]


RULES = {Op.RANDOM_UNIFORM: _random_uniform}

__all__ = ["RULES"]
