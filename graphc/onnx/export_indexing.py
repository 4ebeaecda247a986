"""EXPORT_RULES rows of the data-dependent ops: gathers (Gather, GatherElements), scatter-adds (ScatterND and
ScatterElements with reduction="add", opset 16 on), CumSum, and argsort as a full TopK (stable: ONNX breaks
ties by the lower index). Knows the core and the Exporter's helpers.

ONNX has no cumulative product, maximum, minimum or log-sum-exp operator: those are refused by name.
"""

from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from graphc.ops import Op


def _needs_opset(ex, node, opset: int) -> None:
    if ex.opset < opset:
        raise GraphcError(
            f"gc.onnx.export: {node.op.value} needs ONNX opset {opset} or later (its scatter with "
            f"reduction='add'); this export asks for {ex.opset}"
        )


def _wrapped(ex, node, indices: str, size: str) -> str:
    """The indices as int64 in [0, size): ScatterND reads negative indices only from opset 18."""
    k = ex.cast(indices, node.inputs[1].type.dtype, np.int64)
    negative = ex.one("Less", [k, ex.constant(0, np.int64)])
    return ex.one("Where", [negative, ex.one("Add", [k, size]), k])


def _scatter_add(ex, node, ins):
    """Move the axis first (and the indices' axes of the updates), ScatterND with reduction add, move back."""
    _needs_opset(ex, node, 16)
    a, idx, u = node.inputs
    axis, k, rank = node.params["axis"], idx.type.ndim, a.type.ndim
    perm = [axis] + [d for d in range(rank) if d != axis]
    moved = ex.one("Transpose", [ins[0]], perm=perm)
    updates = list(range(axis, axis + k)) + [d for d in range(u.type.ndim) if not axis <= d < axis + k]
    updates = ex.one("Transpose", [ins[2]], perm=updates)
    positions = _wrapped(ex, node, ins[1], ex.dim(a.type.shape[axis]))
    positions = ex.one("Unsqueeze", [positions, ex.constant([-1], np.int64)])
    out = ex.one("ScatterND", [moved, positions, updates], reduction="add")
    return [ex.one("Transpose", [out], perm=[int(p) for p in np.argsort(perm)])]


def _scatter_add_along(ex, node, ins):
    _needs_opset(ex, node, 16)
    return [ex.one("ScatterElements", ins, axis=node.params["axis"], reduction="add")]


def _cumsum(ex, node, ins):
    """CumSum in the output's dtype (graphc sums bools and int32 as int64, as NumPy)."""
    x = ex.cast(ins[0], node.inputs[0].type.dtype, node.outputs[0].type.dtype)
    if node.inputs[0].type.ndim == 0:
        return [x]
    axis = ex.constant(node.params["axis"], np.int64)
    return [ex.one("CumSum", [x, axis], reverse=int(node.params["reverse"]))]


def _argsort(ex, node, ins):
    x = node.inputs[0]
    if x.type.ndim == 0:
        return [ex.constant(0, np.int64)]
    if 0 in x.type.shape and all(isinstance(d, int) for d in x.type.shape):
        # an empty result, known now; onnxruntime 1.23 stops the process on a TopK with k = 0 (SIGFPE)
        return [ex.constant(np.zeros(x.type.shape, np.int64))]
    value = ex.cast(ins[0], x.type.dtype, np.int32) if x.type.dtype.kind == "b" else ins[0]
    axis = node.params["axis"]
    _, order = ex.emit("TopK", [value, ex.dim(x.type.shape[axis])], outputs=2, axis=axis,
                       largest=int(node.params["descending"]), sorted=1)  # fmt: skip
    return [order]


def _no_operator(ex, node, ins):
    raise GraphcError(f"gc.onnx.export: {node.op.value} has no ONNX equivalent (ONNX has no such operator)")


INDEXING_EXPORT_RULES = {
    Op.GATHER: lambda ex, node, ins: [ex.one("Gather", ins, axis=node.params["axis"])],
    Op.GATHER_ALONG: lambda ex, node, ins: [ex.one("GatherElements", ins, axis=node.params["axis"])],
    Op.SCATTER_ADD: _scatter_add,
    Op.SCATTER_ADD_ALONG: _scatter_add_along,
    Op.CUMSUM: _cumsum,
    Op.ARGSORT: _argsort,
    **{op: _no_operator for op in (Op.CUMPROD, Op.CUMMAX, Op.CUMMIN, Op.LOGCUMSUMEXP)},
}
"""EXPORT_RULES rows: rule(exporter, node, input names) -> output names."""
