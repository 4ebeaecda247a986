"""The ONNX operators that index by data (Gather by a tensor, GatherElements, ScatterND and ScatterElements
adding, CumSum, TopK) as graphc's gathers, scatter-adds, scans and sorts. Part of IMPORT_RULES
(graphc.onnx.import_rules), with its rule signature."""

from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from graphc.indexing import argsort, cumsum, scatter_add, scatter_add_along_axis, take, take_along_axis, topk
from graphc.tensor import cast
from graphc.types import dims_equal

from .import_layers import check


def _adding(attrs, op_type: str) -> None:
    if attrs.get("reduction", b"none") not in (b"add", "add"):
        raise GraphcError(f"gc.onnx.load: {op_type} is supported with reduction='add' only (a scatter-add)")


def _scatter_nd(im, names, attrs):
    """ScatterND adding along the first axis: indices of shape (..., 1)."""
    _adding(attrs, "ScatterND")
    data, indices, updates = (im.tensor(n) for n in names)
    if indices.type.ndim == 0 or indices.type.shape[-1] != 1:
        raise GraphcError("gc.onnx.load: ScatterND is supported with indices of shape (..., 1) only")
    return [scatter_add(data, indices[..., 0], updates, axis=0)]


def _scatter_elements(im, names, attrs):
    _adding(attrs, "ScatterElements")
    data, indices, updates = (im.tensor(n) for n in names)
    return [scatter_add_along_axis(data, indices, updates, axis=attrs.get("axis", 0))]


def _cumsum(im, names, attrs):
    check(attrs, exclusive=0)
    x = im.tensor(names[0])
    axis = int(im.static(names[1], "CumSum's axis"))
    return [cast(cumsum(x, axis=axis, reverse=bool(attrs.get("reverse", 0))), x.type.dtype)]


def _topk(im, names, attrs):
    """Every entry (k = the axis's size): a stable sort; else the k largest or smallest."""
    check(attrs, sorted=1)
    x, (k,) = im.tensor(names[0]), im.static(names[1], "TopK's k")
    axis, largest = attrs.get("axis", -1), bool(attrs.get("largest", 1))
    if dims_equal(k if isinstance(k, int | np.integer) else k, x.type.shape[axis]):
        order = argsort(x, axis=axis, descending=largest)
        return [take_along_axis(x, order, axis), order]
    if not isinstance(k, int | np.integer):
        raise GraphcError(f"gc.onnx.load: TopK's k ({k}) must be a number or the axis's size")
    return list(topk(x, int(k), axis=axis, largest=largest))


def gather_by_data(im, names, attrs):
    """Gather whose indices are a tensor: gc.take."""
    return [take(im.tensor(names[0]), im.tensor(names[1]), axis=attrs.get("axis", 0))]


INDEXING_IMPORT_RULES = {
    "GatherElements": lambda im, names, attrs: [
        take_along_axis(im.tensor(names[0]), im.tensor(names[1]), attrs.get("axis", 0))
    ],
    "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements,
    "CumSum": _cumsum,
    "TopK": _topk,
}
"""IMPORT_RULES rows (Gather by a tensor is import_rules' Gather, through gather_by_data)."""
