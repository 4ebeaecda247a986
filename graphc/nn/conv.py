"""Convolution and pooling (chapter 9) as composites of existing ops: zero padding by concatenation, im2col
from strided basic slices, one matrix product. Gradients come from gc.grad; every backend runs them. Knows the
core only.

    >>> import numpy as np, graphc as gc
    >>> x = gc.tensor("x", ("n", 1, 5, 5))                      # NCHW
    >>> k = gc.shared(np.zeros((2, 1, 3, 3)), name="k")         # OIHW: 2 filters over 1 input channel
    >>> y = gc.nn.conv2d(x, k, stride=1, padding="same")         # (n, 2, 5, 5)

Deep learning's "convolution" is cross-correlation S(i, j) = Σₘₙ I(i + m, j + n) K(m, n) (no flip, the
default); `flip=True` gives true convolution (the kernel rotated by 180°). Height and width must be known
ints; the batch size may be symbolic.
"""

from __future__ import annotations

import functools
import math

from graphc.errors import InputError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import (
    add,
    as_variable,
    broadcast_to,
    concatenate,
    max_,
    reshape,
    stack,
    transpose,
)

__all__ = ["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "pad2d", "conv_output_size"]


def _pair(v, what: str, least: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each at least `least`; `what` names the argument ("conv2d: stride")."""
    pair = (v, v) if isinstance(v, int) else tuple(v) if isinstance(v, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(a, int) and a >= least for a in pair):
        raise InputError(f"{what} must be an int or a pair of ints, each at least {least}, got {v!r}{here()}")
    return pair


def _static_hw(x: Variable, what: str) -> tuple[int, int]:
    h, w = (x.type.shape[-2], x.type.shape[-1]) if x.type.ndim == 4 else (None, None)
    if not isinstance(h, int) or not isinstance(w, int):
        raise ShapeError(f"{what}: the input must be NCHW with known H and W, got {describe(x)}{here()}")
    return h, w


def _padding(padding, size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int]):
    """((top, bottom), (left, right)) zero padding for "valid", "same" (output ⌈in/stride⌉), an int or a
    pair."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        out = []
        for n, k, s in zip(size, kernel, stride, strict=True):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            out.append((total // 2, total - total // 2))  # the extra row/column at the end, as TensorFlow
        return tuple(out)
    ph, pw = _pair(padding, "conv2d: padding", least=0)
    return (ph, ph), (pw, pw)


def pad2d(x, padding) -> Variable:
    """Zero padding of the last two axes: `padding` = ((top, bottom), (left, right)) or an int.

    >>> x = gc.tensor("x", (1, 1, 1, 2))
    >>> gc.evaluate(gc.nn.pad2d(x, ((0, 0), (1, 0))), {x: [[[[1.0, 2.0]]]]})
    array([[[[0., 1., 2.]]]])
    """
    x = as_variable(x)
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    (top, bottom), (left, right) = (_pair(p, "pad2d: padding", least=0) for p in padding)
    _static_hw(x, "pad2d")

    def zeros(shape):
        return broadcast_to(as_variable(0, like=x), shape)

    n, c, h, w = x.type.shape
    if left or right:
        parts = (
            ([zeros((n, c, h, left))] if left else []) + [x] + ([zeros((n, c, h, right))] if right else [])
        )
        x = concatenate(parts, axis=3)
        w = w + left + right
    if top or bottom:
        parts = (
            ([zeros((n, c, top, w))] if top else []) + [x] + ([zeros((n, c, bottom, w))] if bottom else [])
        )
        x = concatenate(parts, axis=2)
    return x


def conv_output_size(n: int, k: int, stride: int) -> int:
    """Output length of a valid window sweep: ⌊(n − k)/stride⌋ + 1.

    >>> gc.nn.conv_output_size(28, 5, 1), gc.nn.conv_output_size(7, 3, 2)
    (24, 3)
    """
    return (n - k) // stride + 1


def _windows(x: Variable, kernel, stride, what: str) -> tuple[list[Variable], int, int]:
    """The kh·kw strided slices of x (one per kernel offset, row-major), each of shape (n, c, out_h,
    out_w)."""
    (kh, kw), (sh, sw) = kernel, stride
    h, w = _static_hw(x, what)
    oh, ow = conv_output_size(h, kh, sh), conv_output_size(w, kw, sw)
    if oh < 1 or ow < 1:
        raise ShapeError(f"{what}: a {kh}×{kw} window does not fit the {h}×{w} {describe(x)}{here()}")
    slices = [x[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
              for i in range(kh) for j in range(kw)]  # fmt: skip
    return slices, oh, ow


def conv2d(x, w, stride=1, padding="valid", flip: bool = False) -> Variable:
    """2-D cross-correlation (or true convolution with flip=True) of NCHW x with OIHW kernels w.

    stride: int or (vertical, horizontal); padding: "valid", "same", an int or (ph, pw). Each output channel
    sums one kernel per input channel. Built as im2col (strided slices) and one (n·oh·ow, c·kh·kw) @ (c·kh·kw,
    o) product.

    >>> x, w = gc.tensor("x", (1, 1, 3, 3)), gc.shared(np.ones((1, 1, 2, 2)), name="w")
    >>> gc.evaluate(gc.nn.conv2d(x, w), {x: np.arange(9.0).reshape(1, 1, 3, 3)})  # sums of 2×2 windows
    array([[[[ 8., 12.],
             [20., 24.]]]])
    """
    x, w = as_variable(x), as_variable(w)
    if w.type.ndim != 4 or not all(isinstance(d, int) for d in w.type.shape):
        raise ShapeError(f"conv2d: the kernels must be OIHW with known sizes, got {describe(w)}{here()}")
    o, c, kh, kw = w.type.shape
    size = _static_hw(x, "conv2d")
    if x.type.shape[1] != c:
        raise ShapeError(
            f"conv2d: the input {describe(x)} must have {c} channels, as the kernels {describe(w)}{here()}"
        )
    stride = _pair(stride, "conv2d: stride")
    x = pad2d(x, _padding(padding, size, (kh, kw), stride))
    slices, oh, ow = _windows(x, (kh, kw), stride, "conv2d")
    if flip:  # true convolution: offset (i, j) meets kernel entry (kh−1−i, kw−1−j)
        slices = slices[::-1]
    cols = stack(slices, axis=-1)  # (n, c, oh, ow, kh·kw)
    cols = reshape(transpose(cols, (0, 2, 3, 1, 4)), (-1, c * kh * kw))  # rows: output pixels
    out = cols @ transpose(reshape(w, (o, c * kh * kw)))  # (n·oh·ow, o)
    return transpose(reshape(out, (x.type.shape[0], oh, ow, o)), (0, 3, 1, 2))


def conv1d(x, w, stride: int = 1, padding="valid", flip: bool = False) -> Variable:
    """1-D convolution for sequences: x (n, c, length), w (o, c, k) (conv2d with height 1).

    >>> x, w = gc.tensor("x", (1, 1, 4)), gc.shared(np.array([[[1.0, -1.0]]]), name="w")
    >>> gc.evaluate(gc.nn.conv1d(x, w), {x: [[[1.0, 4.0, 9.0, 16.0]]]})  # differences of neighbours
    array([[[-3., -5., -7.]]])
    """
    x, w = as_variable(x), as_variable(w)
    if x.type.ndim != 3 or w.type.ndim != 3:
        raise ShapeError(
            f"conv1d: the input must be (n, channels, length) and the kernels (out, in, k), got "
            f"{describe(x)} and {describe(w)}{here()}"
        )
    n, c, length = x.type.shape
    o, _, k = w.type.shape
    x = reshape(x, (n, c, 1, length))
    if padding == "same":  # pad the sequence axis only
        total = max((math.ceil(length / stride) - 1) * stride + k - length, 0)
        x, pad = pad2d(x, ((0, 0), (total // 2, total - total // 2))), "valid"
    else:
        pad = "valid" if padding == "valid" else (0, padding)
    y = conv2d(x, reshape(w, (o, c, 1, k)), stride=(1, stride), padding=pad, flip=flip)
    return reshape(y, (n, o, y.type.shape[-1]))


def _pool_windows(x, size, stride, padding, what: str) -> tuple[list[Variable], tuple[int, int]]:
    x = as_variable(x)
    kernel = _pair(size, f"{what}: size")
    stride = _pair(stride if stride is not None else kernel, f"{what}: stride")
    if padding:
        x = pad2d(x, padding)
    return _windows(x, kernel, stride, what)[0], kernel


def max_pool2d(x, size=2, stride=None, padding=0) -> Variable:
    """Max over size×size (or (kh, kw)) windows moved by `stride` (default: the size; smaller overlaps).

    Padding, if any, is with zeros (use it after non-negative units such as ReLU).

    >>> x = gc.tensor("x", (1, 1, 4, 4))
    >>> gc.evaluate(gc.nn.max_pool2d(x), {x: np.arange(16.0).reshape(1, 1, 4, 4)})
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    slices, _ = _pool_windows(x, size, stride, padding, "max_pool2d")
    return max_(stack(slices, axis=-1), axis=-1)


def avg_pool2d(x, size=2, stride=None, padding=0) -> Variable:
    """Mean over size×size windows moved by `stride` (default: the size); zero padding counts in the mean.

    >>> x = gc.tensor("x", (1, 1, 4, 4))
    >>> gc.evaluate(gc.nn.avg_pool2d(x), {x: np.arange(16.0).reshape(1, 1, 4, 4)})
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    slices, kernel = _pool_windows(x, size, stride, padding, "avg_pool2d")
    return functools.reduce(add, slices) * (1.0 / (kernel[0] * kernel[1]))
