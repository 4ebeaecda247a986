"""Ops that make values from their params alone, for the llvm backend: ARANGE. Knows views and ops."""

from __future__ import annotations

import numpy as np

from graphc.ops import Op

from . import loops
from .scalar import constant, convert, store_value
from .views import const


def _arange(ctx, node, ins):
    """NumPy's arange fill: the first two values from the params, then first + i·(second - first) computed
    in the output dtype (so float results are NumPy's bit for bit)."""
    out, p, b = node.outputs[0], node.params, ctx.b
    dtype = np.dtype(out.type.dtype)
    dest = ctx.out(out)
    first, second = (
        constant(dtype, dtype.type(p["start"])),
        constant(dtype, dtype.type(p["start"] + p["step"])),
    )
    with loops.for_range(b, dest.dims[0]) as i:
        if dtype.kind == "f":
            delta = b.fsub(second, first)
            value = b.fadd(first, b.fmul(convert(b, i, "int64", dtype), delta))
            value = b.select(b.icmp_signed("==", i, const(1)), second, value)
        else:
            value = convert(b, b.add(const(int(p["start"])), b.mul(i, const(int(p["step"])))), "int64", dtype)
        store_value(b, value, loops.gep(b, dest.ptr, i), dtype)
    return [dest]


RULES = {Op.ARANGE: _arange}

__all__ = ["RULES"]
