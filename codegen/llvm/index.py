"""Ops that read indices from the data, for the llvm backend: ONE_HOT (gather next). Each index is checked
where it is read (``ctx.fail_if``), against the op's row of ``graphc.codegen.checks``. Knows views and ops.
"""

from __future__ import annotations

from graphc.codegen.checks import one_hot_labels
from graphc.ops import Op

from . import loops
from .scalar import I64, convert, store_value
from .views import const


def _one_hot(ctx, node, ins):
    """out[..., k] = (labels[...] == k); a label outside [0, depth) stops the call (not a row of zeros)."""
    (labels,), out = ins, node.outputs[0]
    depth, b, dtype = node.params["depth"], ctx.b, out.type.dtype
    dest = ctx.out(out)
    check = one_hot_labels(node)
    with loops.loop_nest(b, list(labels.dims)) as idx:
        label = b.load(loops.strided_gep(b, labels.ptr, idx, labels.strides))
        label = b.sext(label, I64) if label.type != I64 else label
        position = const(0)  # the label's flat C-order index, as the Python check reports it
        for i, n in zip(idx, labels.dims, strict=True):
            position = b.add(b.mul(position, n), i)
        ctx.fail_if(b.icmp_unsigned(">=", label, const(depth)), check, label, position)  # negatives too
        with loops.for_range(b, depth, name="k") as k:
            hit = convert(b, b.icmp_signed("==", label, k), "bool", dtype)
            store_value(b, hit, loops.strided_gep(b, dest.ptr, [*idx, k], dest.strides), dtype)
    return [dest]


RULES = {Op.ONE_HOT: _one_hot}

__all__ = ["RULES"]
