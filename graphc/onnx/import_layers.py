"""LAYER_RULES: the ONNX operators of layers (Gemm, Conv, pooling, batch normalisation, padding) as gc.nn
composites and graphc ops. Part of IMPORT_RULES (graphc.onnx.import_rules), with its rule signature."""

from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from graphc.nn.conv import conv2d, pad2d
from graphc.nn.pool import avg_pool2d, max_pool2d
from graphc.tensor import broadcast_to, concatenate, constant, maximum, mean, minimum, reshape, sqrt, where


def check(attrs: dict, **allowed) -> None:
    """Attributes graphc's translation assumes: anything else is a clear error, never a wrong graph."""
    for key, want in allowed.items():
        got = attrs.get(key, want)
        if (list(got) if isinstance(got, (list, tuple)) else got) != want:
            raise GraphcError(f"gc.onnx.load: attribute {key}={got!r} is not supported (only {want!r})")


def _gemm(im, names, attrs):
    a, b = im.tensor(names[0]), im.tensor(names[1])
    a, b = (a.T if attrs.get("transA") else a), (b.T if attrs.get("transB") else b)
    out = a @ b if attrs.get("alpha", 1.0) == 1.0 else attrs["alpha"] * (a @ b)
    if len(names) > 2 and names[2]:
        c = im.tensor(names[2])
        out = out + (c if attrs.get("beta", 1.0) == 1.0 else attrs["beta"] * c)
    return [out]


def _window(attrs, what: str) -> tuple[tuple[int, int], tuple[int, int], tuple, tuple[int, int]]:
    """kernel, stride, ((top, bottom), (left, right)) padding and dilation of a 2-D Conv or Pool."""
    check(attrs, auto_pad=b"NOTSET")
    kernel = tuple(attrs["kernel_shape"]) if "kernel_shape" in attrs else None
    dilation = tuple(attrs.get("dilations", (1, 1)))
    if kernel is not None and len(kernel) != 2 or len(dilation) != 2:
        raise GraphcError(f"gc.onnx.load: only 2-D {what} is supported")
    stride = tuple(attrs.get("strides", (1, 1)))
    top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
    return kernel, stride, ((top, bottom), (left, right)), dilation


def _conv(im, names, attrs):
    check(attrs, ceil_mode=0)
    _, stride, pads, dilation = _window(attrs, "Conv")
    x, w = im.tensor(names[0]), im.tensor(names[1])
    x = pad2d(x, pads) if any(sum(pads, ())) else x
    y = conv2d(x, w, stride=stride, dilation=dilation, groups=attrs.get("group", 1))
    if len(names) > 2 and names[2]:
        y = y + reshape(im.tensor(names[2]), (1, -1, 1, 1))
    return [y]


def _max_pool(im, names, attrs):
    check(attrs, storage_order=0)
    kernel, stride, pads, dilation = _window(attrs, "MaxPool")
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    return [max_pool2d(im.tensor(names[0]), kernel, stride, pads, dilation, ceil_mode=ceil_mode)]


def _average_pool(im, names, attrs):
    kernel, stride, pads, dilation = _window(attrs, "AveragePool")
    if dilation != (1, 1):
        raise GraphcError("gc.onnx.load: AveragePool with dilations is not supported")
    counts = bool(attrs.get("count_include_pad", 0))  # ONNX's default: the padding does not count
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    return [
        avg_pool2d(im.tensor(names[0]), kernel, stride, pads, ceil_mode=ceil_mode, count_include_pad=counts)
    ]


def _batch_norm(im, names, attrs):
    check(attrs, training_mode=0)
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


def _constant_of_shape(im, names, attrs):
    shape = tuple(im.static(names[0], "ConstantOfShape's shape"))
    value = im.onnx.numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    if all(isinstance(d, (int, np.integer)) for d in shape):
        return [np.full([int(d) for d in shape], value.reshape(()), value.dtype)]
    return [broadcast_to(constant(value.reshape(())), shape)]


def _pad(im, names, attrs):
    """Constant padding (zeros or a given value) by concatenation, on every axis it pads."""
    check(attrs, mode=b"constant")
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


def _leaky_relu(im, names, attrs):
    x = im.tensor(names[0])
    return [where(x > 0, x, attrs.get("alpha", 0.01) * x)]


LAYER_RULES = {
    "Gemm": _gemm,
    "Conv": _conv,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": lambda im, names, attrs: [mean(im.tensor(names[0]), axis=(2, 3), keepdims=True)],
    "BatchNormalization": _batch_norm,
    "Clip": _clip,
    "Pad": _pad,
    "LeakyRelu": _leaky_relu,
    "ConstantOfShape": _constant_of_shape,
}
