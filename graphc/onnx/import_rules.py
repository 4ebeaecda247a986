"""IMPORT_RULES: each ONNX operator as graphc ops (or gc.nn composites). Knows the core and gc.nn.

A rule is `rule(importer, input names, attributes) -> values`; it reads inputs with `im.tensor(name)` (a
Variable) or `im.static(name, what)` (a NumPy array known at load time: shapes, axes, pads). Where every input
is static the rule computes on NumPy arrays, so shape arithmetic never enters the graph.
"""

from __future__ import annotations

import functools

import numpy as np

from graphc.errors import GraphcError
from graphc.nn.conv import avg_pool2d, conv2d, max_pool2d, pad2d
from graphc.tensor import (
    abs_,
    add,
    argmax,
    broadcast_to,
    cast,
    concatenate,
    constant,
    cos,
    eq,
    exp,
    expand_dims,
    ge,
    getitem,
    gt,
    le,
    log,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    matmul,
    max_,
    maximum,
    mean,
    min_,
    minimum,
    mul,
    neg,
    power,
    prod,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    softplus,
    sqrt,
    squeeze,
    sub,
    sum_,
    tanh,
    transpose,
    true_divide,
    where,
)
from graphc.types import broadcast_shapes, dim_product

from .onnx_types import GRAPHC_DTYPES

INT64_MAX = 2**63 - 1


def _all_static(im, names) -> bool:
    return all(isinstance(im.values[n], np.ndarray) for n in names)


def _elementwise(build, numpy=None):
    """A graphc builder on Variables, or the NumPy function when every input is known at load time."""

    def rule(im, names, attrs):
        if numpy is not None and _all_static(im, names):
            return [np.asarray(numpy(*(im.values[n] for n in names)))]
        args = [im.tensor(n) for n in names]
        return [build(*args) if len(args) < 3 else functools.reduce(build, args)]  # Max and Min are variadic

    return rule


def _floor_divide_ints(a, b):
    return a // b if np.asarray(a).dtype.kind in "iuO" and np.asarray(b).dtype.kind in "iuO" else a / b


def _check(attrs: dict, **allowed) -> None:
    """Attributes graphc's translation assumes: anything else is a clear error, never a wrong graph."""
    for key, want in allowed.items():
        got = attrs.get(key, want)
        if (list(got) if isinstance(got, (list, tuple)) else got) != want:
            raise GraphcError(f"gc.onnx.load: attribute {key}={got!r} is not supported (only {want!r})")


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
            return [im.onnx.numpy_helper.to_array(value) if key == "value" else np.asarray(value)]
    raise GraphcError(f"gc.onnx.load: a Constant with {sorted(attrs)} is not supported")


def _shape(im, names, attrs):
    value = im.values[names[0]]
    dims = np.array(value.shape if isinstance(value, np.ndarray) else value.type.shape, dtype=object)
    return [dims[attrs.get("start", 0) : attrs.get("end", len(dims))]]


def _gather(im, names, attrs):
    axis, indices = (
        attrs.get("axis", 0),
        im.static(names[1], "Gather's indices (gathering by data needs gc.gather)"),
    )
    if _all_static(im, names[:1]):
        data = im.values[names[0]]
        return [np.asarray(np.take(data, indices, axis=axis), dtype=data.dtype)]
    if indices.ndim != 0:
        raise GraphcError("gc.onnx.load: Gather of a tensor by several indices is not supported yet")
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
    _check(attrs, allowzero=0)
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


def _gemm(im, names, attrs):
    a, b = im.tensor(names[0]), im.tensor(names[1])
    a, b = (a.T if attrs.get("transA") else a), (b.T if attrs.get("transB") else b)
    out = a @ b if attrs.get("alpha", 1.0) == 1.0 else attrs["alpha"] * (a @ b)
    if len(names) > 2 and names[2]:
        c = im.tensor(names[2])
        out = out + (c if attrs.get("beta", 1.0) == 1.0 else attrs["beta"] * c)
    return [out]


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
    _check(attrs, select_last_index=0)
    return [argmax(im.tensor(names[0]), axis=attrs.get("axis", 0), keepdims=bool(attrs.get("keepdims", 1)))]


def _softmax(build):
    def rule(im, names, attrs):
        x = im.tensor(names[0])
        axis = attrs.get("axis", -1 if im.opset >= 13 else 1)
        if im.opset < 13 and axis % x.type.ndim != x.type.ndim - 1:
            raise GraphcError("gc.onnx.load: softmax over flattened axes (opset < 13) is not supported")
        return [build(x, axis=axis)]

    return rule


def _window(attrs, what: str) -> tuple[tuple[int, int], tuple[int, int], tuple]:
    """kernel, stride and ((top, bottom), (left, right)) padding of a 2-D Conv or Pool."""
    _check(attrs, auto_pad=b"NOTSET", ceil_mode=0)
    kernel = tuple(attrs["kernel_shape"]) if "kernel_shape" in attrs else None
    if kernel is not None and len(kernel) != 2 or list(attrs.get("dilations", [1, 1])) != [1, 1]:
        raise GraphcError(f"gc.onnx.load: only 2-D {what} without dilation is supported")
    stride = tuple(attrs.get("strides", (1, 1)))
    top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
    return kernel, stride, ((top, bottom), (left, right))


def _conv(im, names, attrs):
    _check(attrs, group=1)
    _, stride, pads = _window(attrs, "Conv")
    x, w = im.tensor(names[0]), im.tensor(names[1])
    y = conv2d(pad2d(x, pads) if any(sum(pads, ())) else x, w, stride=stride)
    if len(names) > 2 and names[2]:
        y = y + reshape(im.tensor(names[2]), (1, -1, 1, 1))
    return [y]


def _pool(build, what: str):
    def rule(im, names, attrs):
        kernel, stride, pads = _window(attrs, what)
        if any(sum(pads, ())):
            raise GraphcError(f"gc.onnx.load: padded {what} is not supported")
        return [build(im.tensor(names[0]), kernel, stride)]

    return rule


def _batch_norm(im, names, attrs):
    _check(attrs, training_mode=0)
    x, scale, bias, mean, var = (im.tensor(n) for n in names[:5])
    shape = (1, -1) + (1,) * (x.type.ndim - 2)
    scale, bias, mean, var = (reshape(v, shape) for v in (scale, bias, mean, var))
    return [(x - mean) / sqrt(var + attrs.get("epsilon", 1e-5)) * scale + bias]


def _clip(im, names, attrs):
    x = im.tensor(names[0])
    low = im.tensor(names[1]) if len(names) > 1 and names[1] else attrs.get("min")
    high = im.tensor(names[2]) if len(names) > 2 and names[2] else attrs.get("max")
    x = x if low is None else maximum(x, low)
    return [x if high is None else minimum(x, high)]


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


def _constant_of_shape(im, names, attrs):
    shape = tuple(im.static(names[0], "ConstantOfShape's shape"))
    value = im.onnx.numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    if all(isinstance(d, (int, np.integer)) for d in shape):
        return [np.full([int(d) for d in shape], value.reshape(()), value.dtype)]
    return [broadcast_to(constant(value.reshape(())), shape)]


def _pad(im, names, attrs):
    """Constant padding (zeros or a given value) by concatenation, on every axis it pads."""
    _check(attrs, mode=b"constant")
    x, pads = im.tensor(names[0]), [int(p) for p in im.static(names[1], "Pad's pads")]
    fill = im.static(names[2], "Pad's value") if len(names) > 2 and names[2] else np.zeros((), x.type.dtype)
    if len(names) > 3 and names[3] or min(pads) < 0:
        raise GraphcError("gc.onnx.load: Pad with axes or negative pads is not supported")
    n = x.type.ndim
    for axis, (before, after) in enumerate(zip(pads[:n], pads[n:], strict=True)):
        parts = []
        for count in (before, after):
            shape = x.type.shape[:axis] + (count,) + x.type.shape[axis + 1 :]
            parts.append(
                [broadcast_to(constant(np.asarray(fill, x.type.dtype).reshape(())), shape)] if count else []
            )
        if before or after:
            x = concatenate(parts[0] + [x] + parts[1], axis=axis)
    return [x]


def _expand(im, names, attrs):
    x, shape = im.tensor(names[0]), tuple(im.static(names[1], "Expand's shape"))
    shape = tuple(int(d) if isinstance(d, np.integer) else d for d in shape)
    return [broadcast_to(x, broadcast_shapes(x.type.shape, shape, what="Expand"))]


def _identity(im, names, attrs):
    return [im.values[names[0]]]


def _leaky_relu(im, names, attrs):
    x = im.tensor(names[0])
    return [where(x > 0, x, attrs.get("alpha", 0.01) * x)]


def _where(im, names, attrs):
    return [where(*(im.tensor(n) for n in names))]


IMPORT_RULES = {
    **{name: _elementwise(build) for name, build in {
        "Neg": neg, "Abs": abs_, "Sign": sign, "Exp": exp, "Log": log, "Sqrt": sqrt, "Sin": sin,
        "Cos": cos, "Tanh": tanh, "Sigmoid": sigmoid, "Softplus": softplus, "Relu": relu,
        "Not": logical_not, "Pow": power, "And": logical_and, "Or": logical_or, "Less": lt,
        "LessOrEqual": le, "Greater": gt, "GreaterOrEqual": ge, "Equal": eq, "Max": maximum,
        "Min": minimum, "MatMul": matmul,
    }.items()},
    "Add": _elementwise(add, np.add),
    "Sub": _elementwise(sub, np.subtract),
    "Mul": _elementwise(mul, np.multiply),
    "Div": _elementwise(true_divide, _floor_divide_ints),
    "Reciprocal": lambda im, names, attrs: [1.0 / im.tensor(names[0])],
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
    "Gemm": _gemm,
    "Softmax": _softmax(softmax),
    "LogSoftmax": _softmax(log_softmax),
    "ReduceSum": _reduce(sum_, np.sum),
    "ReduceMean": _reduce(mean, np.mean),
    "ReduceMax": _reduce(max_, np.max),
    "ReduceMin": _reduce(min_, np.min),
    "ReduceProd": _reduce(prod, np.prod),
    "ReduceLogSumExp": _reduce(logsumexp, None),
    "ArgMax": _argmax,
    "Conv": _conv,
    "MaxPool": _pool(max_pool2d, "MaxPool"),
    "AveragePool": _pool(avg_pool2d, "AveragePool"),
    "GlobalAveragePool": lambda im, names, attrs: [mean(im.tensor(names[0]), axis=(2, 3), keepdims=True)],
    "BatchNormalization": _batch_norm,
    "Clip": _clip,
    "Slice": _slice,
    "Expand": _expand,
    "ConstantOfShape": _constant_of_shape,
    "Pad": _pad,
    "LeakyRelu": _leaky_relu,
    "Where": _where,
}  # fmt: skip
"""IMPORT_RULES[ONNX op_type](importer, input names, attributes) -> output values."""
