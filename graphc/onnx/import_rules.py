"""IMPORT_RULES: each ONNX operator as graphc ops (or gc.nn composites). Knows the core and gc.nn.

A rule is `rule(importer, input names, attributes) -> values`; it reads inputs with `im.tensor(name)` (a
Variable) or `im.static(name, what)` (a NumPy array known at load time: shapes, axes, pads). Where every input
is static the rule computes on NumPy arrays, so shape arithmetic never enters the graph.
"""

from __future__ import annotations

import functools

import numpy as np

from graphc.errors import GraphcError
from graphc.graph import apply
from graphc.ops import Op
from graphc.tensor import (
    argmax,
    broadcast_to,
    cast,
    concatenate,
    expand_dims,
    getitem,
    log_softmax,
    logsumexp,
    max_,
    mean,
    min_,
    power,
    prod,
    reshape,
    softmax,
    squeeze,
    sum_,
    transpose,
    true_divide,
    where,
)
from graphc.types import broadcast_shapes, dim_product

from .import_indexing import INDEXING_IMPORT_RULES, gather_by_data
from .import_layers import LAYER_RULES, check
from .import_math import MATH_IMPORT_RULES
from .onnx_types import GRAPHC_DTYPES

INT64_MAX = 2**63 - 1


def _all_static(im, names) -> bool:
    return all(isinstance(im.values[n], np.ndarray) for n in names)


def _elementwise(op: Op, numpy=None):
    """The graphc op on Variables (ONNX operands already share a dtype), or the NumPy function when every
    input is known at load time (shape arithmetic)."""

    def rule(im, names, attrs):
        if numpy is not None and _all_static(im, names):
            return [np.asarray(numpy(*(im.values[n] for n in names)))]
        args = [im.tensor(n) for n in names]
        if len(args) > 2:  # Max, Min and Sum are variadic
            return [functools.reduce(lambda a, b: apply(op, (a, b)), args)]
        return [apply(op, args)]

    return rule


def _pow(im, names, attrs):
    base, exponent = im.tensor(names[0]), im.tensor(names[1])
    return [cast(power(base, exponent), base.type.dtype)]  # ONNX: the base's type, whatever the exponent's


def _div(im, names, attrs):
    """ONNX divides ints with truncation (C's /): a float quotient cast back does exactly that."""
    if _all_static(im, names):
        return [np.asarray(_floor_divide_ints(*(im.values[n] for n in names)))]
    a, b = im.tensor(names[0]), im.tensor(names[1])
    return [true_divide(a, b) if a.type.is_float else cast(true_divide(a, b), a.type.dtype)]


def _floor_divide_ints(a, b):
    return a // b if np.asarray(a).dtype.kind in "iuO" and np.asarray(b).dtype.kind in "iuO" else a / b


def _axes(im, names, attrs, position: int = 1):
    if len(names) > position and names[position]:
        return [int(a) for a in im.static(names[position], "axes")]
    return list(attrs["axes"]) if "axes" in attrs else None


def _cast(im, names, attrs):
    dtype = GRAPHC_DTYPES.get(attrs["to"])
    if dtype is None:
        raise GraphcError(
            f"gc.onnx.load: Cast to ONNX type {attrs['to']} (graphc has float32/64, int32/64, bool)"
        )
    value = im.values[names[0]]
    return [
        value.astype(dtype)
        if isinstance(value, np.ndarray) and value.dtype != object
        else cast(im.tensor(names[0]), dtype)
    ]


def _constant(im, names, attrs):
    for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if key in attrs:
            value = attrs[key]
            if key == "value" and value.data_type not in GRAPHC_DTYPES:  # strings, above all: never parsed
                raise GraphcError(
                    f"gc.onnx.load: a Constant of ONNX element type {value.data_type}; graphc has "
                    "float32/64, int32/64, bool"
                )
            return [im.onnx.numpy_helper.to_array(value) if key == "value" else np.asarray(value)]
    raise GraphcError(f"gc.onnx.load: a Constant with {sorted(attrs)} is not supported")


def _shape(im, names, attrs):
    value = im.values[names[0]]
    dims = np.array(value.shape if isinstance(value, np.ndarray) else value.type.shape, dtype=object)
    return [dims[attrs.get("start", 0) : attrs.get("end", len(dims))]]


def _gather(im, names, attrs):
    if not _all_static(im, names[1:2]):
        return gather_by_data(im, names, attrs)
    axis, indices = attrs.get("axis", 0), im.values[names[1]]
    if _all_static(im, names[:1]):
        data = im.values[names[0]]
        return [np.asarray(np.take(data, indices, axis=axis), dtype=data.dtype)]
    if indices.ndim != 0:
        return gather_by_data(im, names, attrs)
    x = im.tensor(names[0])
    return [x[(slice(None),) * (axis % x.type.ndim) + (int(indices),)]]


def _unsqueeze(im, names, attrs):
    axes, value = sorted(_axes(im, names, attrs)), im.values[names[0]]
    if isinstance(value, np.ndarray):
        return [np.expand_dims(value, axes)]
    for a in axes:
        value = expand_dims(value, a)
    return [value]


def _squeeze(im, names, attrs):
    axes, value = _axes(im, names, attrs), im.values[names[0]]
    if isinstance(value, np.ndarray):
        return [np.squeeze(value, tuple(axes) if axes is not None else None)]
    return [squeeze(value, axes)]


def _concat(im, names, attrs):
    if _all_static(im, names):
        return [np.concatenate([im.values[n] for n in names], axis=attrs["axis"])]
    return [concatenate([im.tensor(n) for n in names], axis=attrs["axis"])]


def _reshape(im, names, attrs):
    check(attrs, allowzero=0)
    x, shape = im.values[names[0]], list(im.static(names[1], "Reshape's shape"))
    old = x.shape if isinstance(x, np.ndarray) else x.type.shape
    shape = [old[i] if isinstance(d, (int, np.integer)) and d == 0 else d for i, d in enumerate(shape)]
    if isinstance(x, np.ndarray):
        return [x.reshape([int(d) for d in shape])]
    return [reshape(x, tuple(int(d) if isinstance(d, np.integer) else d for d in shape))]


def _flatten(im, names, attrs):
    x = im.tensor(names[0])
    axis = attrs.get("axis", 1) % (x.type.ndim or 1)
    return [reshape(x, (dim_product(x.type.shape[:axis]), dim_product(x.type.shape[axis:])))]


def _transpose(im, names, attrs):
    value = im.values[names[0]]
    if isinstance(value, np.ndarray):
        return [np.transpose(value, attrs.get("perm"))]
    return [transpose(value, attrs.get("perm"))]


def _reduce(build, numpy):
    def rule(im, names, attrs):
        axes = _axes(im, names, attrs)
        keepdims = bool(attrs.get("keepdims", 1))
        value = im.values[names[0]]
        if numpy is not None and isinstance(
            value, np.ndarray
        ):  # shape arithmetic: sizes multiplied at load time
            axis = None if not axes else tuple(axes)
            return [np.asarray(numpy(value, axis=axis, keepdims=keepdims), dtype=value.dtype)]
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return [im.tensor(names[0])]
        return [build(im.tensor(names[0]), axis=None if not axes else tuple(axes), keepdims=keepdims)]

    return rule


def _argmax(im, names, attrs):
    check(attrs, select_last_index=0)
    return [argmax(im.tensor(names[0]), axis=attrs.get("axis", 0), keepdims=bool(attrs.get("keepdims", 1)))]


def _softmax(build):
    def rule(im, names, attrs):
        x = im.tensor(names[0])
        axis = attrs.get("axis", -1 if im.opset >= 13 else 1)
        if im.opset < 13 and axis % x.type.ndim != x.type.ndim - 1:
            raise GraphcError("gc.onnx.load: softmax over flattened axes (opset < 13) is not supported")
        return [build(x, axis=axis)]

    return rule


def _slice(im, names, attrs):
    starts, ends = im.static(names[1], "Slice's starts"), im.static(names[2], "Slice's ends")
    value = im.values[names[0]]
    ndim = value.ndim if isinstance(value, np.ndarray) else value.type.ndim
    axes = im.static(names[3], "Slice's axes") if len(names) > 3 and names[3] else range(len(starts))
    steps = im.static(names[4], "Slice's steps") if len(names) > 4 and names[4] else [1] * len(starts)
    index = [slice(None)] * ndim
    for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
        bound = lambda v: None if abs(int(v)) >= INT64_MAX // 2 else int(v)  # noqa: E731 - "to the end"
        index[int(a) % ndim] = slice(bound(s), bound(e), int(st))
    return [value[tuple(index)] if isinstance(value, np.ndarray) else getitem(value, tuple(index))]


def _expand(im, names, attrs):
    x, shape = im.tensor(names[0]), tuple(im.static(names[1], "Expand's shape"))
    shape = tuple(int(d) if isinstance(d, np.integer) else d for d in shape)
    return [broadcast_to(x, broadcast_shapes(x.type.shape, shape, what="Expand"))]


def _identity(im, names, attrs):
    return [im.values[names[0]]]


def _where(im, names, attrs):
    return [where(*(im.tensor(n) for n in names))]


IMPORT_RULES = {
    **{name: _elementwise(op) for name, op in {
        "Neg": Op.NEG, "Abs": Op.ABS, "Sign": Op.SIGN, "Exp": Op.EXP, "Log": Op.LOG, "Sqrt": Op.SQRT,
        "Sin": Op.SIN, "Cos": Op.COS, "Tanh": Op.TANH, "Sigmoid": Op.SIGMOID, "Softplus": Op.SOFTPLUS,
        "Relu": Op.RELU, "Not": Op.NOT, "And": Op.AND, "Or": Op.OR, "Less": Op.LT, "LessOrEqual": Op.LE,
        "Greater": Op.GT, "GreaterOrEqual": Op.GE, "Equal": Op.EQ, "Max": Op.MAXIMUM, "Min": Op.MINIMUM,
        "MatMul": Op.MATMUL, "Sum": Op.ADD,
    }.items()},
    "Add": _elementwise(Op.ADD, np.add),
    "Sub": _elementwise(Op.SUB, np.subtract),
    "Mul": _elementwise(Op.MUL, np.multiply),
    "Div": _div,
    "Pow": _pow,
    "Reciprocal": lambda im, names, attrs: [1.0 / im.tensor(names[0])],
    **MATH_IMPORT_RULES,  # Floor, Round, Erf, Asin, ..., Mod, bitwise operators, Range
    "Identity": _identity,
    "Dropout": _identity,  # inference: the identity (a mask output is not supported)
    "Cast": _cast,
    "Constant": _constant,
    "Shape": _shape,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Softmax": _softmax(softmax),
    "LogSoftmax": _softmax(log_softmax),
    "ReduceSum": _reduce(sum_, np.sum),
    "ReduceMean": _reduce(mean, np.mean),
    "ReduceMax": _reduce(max_, np.max),
    "ReduceMin": _reduce(min_, np.min),
    "ReduceProd": _reduce(prod, np.prod),
    "ReduceLogSumExp": _reduce(logsumexp, None),
    "ArgMax": _argmax,
    "Slice": _slice,
    "Expand": _expand,
    "Where": _where,
    **LAYER_RULES,
    **INDEXING_IMPORT_RULES,
}  # fmt: skip
"""IMPORT_RULES[ONNX op_type](importer, input names, attributes) -> output values."""
