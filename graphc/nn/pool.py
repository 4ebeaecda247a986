"""Pooling (chapter 9) over strided windows of NCHW values, PyTorch's options: padding (−∞ for max, so an
all-negative window keeps its maximum), ceil_mode, dilation (max), count_include_pad (average), the argmax
positions (return_indices). Composites of gc.pad, strided slices, max/sum and argmax; knows the core only.

    >>> import numpy as np, graphc as gc
    >>> x = gc.tensor("x", ("n", 1, 5, 5))
    >>> gc.nn.max_pool2d(x, 2, ceil_mode=True).type.shape
    (n, 1, 3, 3)
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np

from graphc.arrays import arange
from graphc.errors import InputError, ShapeError
from graphc.graph import Constant
from graphc.origin import here
from graphc.tensor import add, argmax, as_variable, broadcast_to, max_, reshape, stack
from graphc.tensor import size as size_of

from .conv import image_size, pad2d, pair, windows

__all__ = ["max_pool2d", "avg_pool2d"]


def _windows(x, size, stride, padding, dilation, ceil_mode, fill, what):
    """The windows of x padded by `padding` (plus, with ceil_mode, enough `fill` at the bottom and right for
    a last partial window), and ((top, bottom), (left, right)) of each kind of padding."""
    x = as_variable(x)
    kernel = pair(size, f"{what}: size")
    stride = pair(stride if stride is not None else kernel, f"{what}: stride")
    dilation = pair(dilation, f"{what}: dilation")
    if isinstance(padding, int) or (isinstance(padding, (tuple, list)) and isinstance(padding[0], int)):
        ph, pw = pair(padding, f"{what}: padding", least=0)
        padding = ((ph, ph), (pw, pw))
    padding = tuple(pair(p, f"{what}: padding", least=0) for p in padding)
    for (before, after), k, d in zip(padding, kernel, dilation, strict=True):
        if max(before, after) > (d * (k - 1) + 1) // 2:
            raise InputError(f"{what}: padding {padding} must be at most half the window {kernel}{here()}")
    extra = [0, 0]
    if ceil_mode:
        for axis, (n, k, s, d, (before, after)) in enumerate(
            zip(image_size(x, what), kernel, stride, dilation, padding, strict=True)
        ):
            if not isinstance(n, int):
                raise ShapeError(f"{what}: ceil_mode needs a known height and width, not {n}{here()}")
            span, padded = d * (k - 1) + 1, n + before + after
            out = math.ceil((padded - span) / s) + 1 if padded >= span else 1
            if (out - 1) * s >= n + before:  # the last window must start inside the input or its padding
                out -= 1
            extra[axis] = max((out - 1) * s + span - padded, 0)
    widths = ((padding[0][0], padding[0][1] + extra[0]), (padding[1][0], padding[1][1] + extra[1]))
    padded = pad2d(x, widths, fill) if any(sum(widths, ())) else x
    slices, oh, ow = windows(padded, kernel, stride, dilation, what)
    return x, slices, (kernel, stride, dilation, padding, widths, oh, ow)


def max_pool2d(x, size=2, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):  # fmt: skip
    """Max over size×size (or (kh, kw)) windows moved by `stride` (default: the size; smaller overlaps).

    padding (an int, a pair, or ((top, bottom), (left, right))) is −∞, never the maximum; ceil_mode keeps a
    last partial window; return_indices also gives, as PyTorch, each maximum's position in its input plane
    (row·W + column, int64; the first one on a tie). Ties share the gradient evenly (gc.max's rule).

        >>> import numpy as np, graphc as gc
        >>> x = gc.tensor("x", (1, 1, 2, 2))
        >>> values, where = gc.nn.max_pool2d(x, 2, padding=1, return_indices=True)
        >>> image = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)       # all negative: zero padding would win
        >>> [a.ravel().tolist() for a in gc.function([x], [values, where])(image)]
        [[-1.0, -2.0, -3.0, -4.0], [0, 1, 2, 3]]
    """
    x = as_variable(x)
    dtype = x.type.dtype
    fill = -np.inf if dtype.kind == "f" else (np.iinfo(dtype).min if dtype.kind in "iu" else False)
    x, slices, (kernel, stride, dilation, padding, _, oh, ow) = _windows(
        x, size, stride, padding, dilation, ceil_mode, fill, "max_pool2d"
    )
    stacked = stack(slices, axis=-1)  # (n, c, oh, ow, kh·kw)
    values = max_(stacked, axis=-1)
    if not return_indices:
        return values
    offset = argmax(stacked, axis=-1)  # row-major position in the window
    kw, (sh, sw), (dh, dw) = kernel[1], stride, dilation
    rows = reshape(arange(oh) * sh - padding[0][0], (-1, 1)) + (offset // kw) * dh
    cols = reshape(arange(ow) * sw - padding[1][0], (1, -1)) + (offset % kw) * dw
    width = x.type.shape[3] if isinstance(x.type.shape[3], int) else size_of(x, 3, "int64")
    return values, rows * width + cols


def avg_pool2d(x, size=2, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
    """Mean over size×size windows moved by `stride` (default: the size).

    padding is zeros, counted in the mean unless count_include_pad=False; with ceil_mode, the part of a last
    partial window past the padding is never counted (PyTorch's divisors).

        >>> import numpy as np, graphc as gc
        >>> x = gc.tensor("x", (1, 1, 2, 2))
        >>> pooled = gc.nn.avg_pool2d(x, 2, 1, padding=1, count_include_pad=False)
        >>> gc.function([x], pooled)(np.ones((1, 1, 2, 2))).ravel().tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    x = as_variable(x)
    x, slices, (kernel, stride, dilation, padding, widths, _, _) = _windows(
        x, size, stride, padding, 1, ceil_mode, 0, "avg_pool2d"
    )
    total = reduce(add, slices)
    if widths == padding and (count_include_pad or not any(sum(padding, ()))):
        return total * (1.0 / (kernel[0] * kernel[1]))  # every window counts k·k entries
    # how many entries each window counts: the same windows over a mask of ones (the input, and the padding
    # when it counts) padded with zeros
    h, w = image_size(x, "avg_pool2d")
    one = Constant(np.ones((), x.type.dtype if x.type.dtype.kind == "f" else np.float64))
    ones = broadcast_to(one, (1, 1, h, w))
    if count_include_pad:
        ones = pad2d(ones, padding, 1.0)
        widths = ((0, widths[0][1] - padding[0][1]), (0, widths[1][1] - padding[1][1]))
    counted = reduce(add, windows(pad2d(ones, widths), kernel, stride, dilation, "avg_pool2d")[0])
    return total / counted
