"""Convolution (chapter 9) as composites of existing ops: padding (gc.pad), im2col from strided basic slices,
one matrix product (a batch of them with groups). Gradients come from gc.grad; every backend runs them. Knows
the core only. Pooling is in graphc.nn.pool.

    >>> import numpy as np, graphc as gc
    >>> x = gc.tensor("x", ("n", 1, 5, 5))                      # NCHW
    >>> k = gc.shared(np.zeros((2, 1, 3, 3)), name="k")         # OIHW: 2 filters over 1 input channel
    >>> gc.nn.conv2d(x, k, stride=1, padding="same").type.shape
    (n, 2, 5, 5)

Deep learning's "convolution" is cross-correlation S(i, j) = Σₘₙ I(i + m·d, j + n·d) K(m, n) (no flip, the
default; d the dilation); `flip=True` gives true convolution (the kernel rotated by 180°). The batch size,
height and width may be named sizes (a strided "same" padding needs known ones).
"""

from __future__ import annotations

import math

from graphc.dims import divide
from graphc.errors import InputError, ShapeError
from graphc.graph import Variable
from graphc.ops import describe
from graphc.origin import here
from graphc.padding import pad
from graphc.tensor import as_variable, matmul, reshape, stack, transpose

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "pad2d", "conv_output_size"]


def pair(v, what: str, least: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each at least `least`; `what` names the argument ("conv2d: stride")."""
    pair_ = (v, v) if isinstance(v, int) else tuple(v) if isinstance(v, (tuple, list)) else ()
    if len(pair_) != 2 or not all(isinstance(a, int) and a >= least for a in pair_):
        raise InputError(f"{what} must be an int or a pair of ints, each at least {least}, got {v!r}{here()}")
    return pair_


def image_size(x: Variable, what: str) -> tuple:
    """(H, W) of an NCHW value: ints or named sizes."""
    if x.type.ndim != 4:
        raise ShapeError(f"{what}: the input must be NCHW, got {describe(x)}{here()}")
    return x.type.shape[-2], x.type.shape[-1]


def padding_of(padding, size, kernel, stride, dilation, what: str) -> tuple:
    """((top, bottom), (left, right)) for "valid", "same" (output ⌈in/stride⌉, the extra row/column at the end
    as TensorFlow), an int or a pair."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        out = []
        for n, k, s, d in zip(size, kernel, stride, dilation, strict=True):
            span = d * (k - 1) + 1
            if not isinstance(n, int) and s > 1:
                raise ShapeError(
                    f"{what}: 'same' padding with stride {s} needs a known size, not {n}{here()}"
                )
            total = span - 1 if s == 1 else max((math.ceil(n / s) - 1) * s + span - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    ph, pw = pair(padding, f"{what}: padding", least=0)
    return (ph, ph), (pw, pw)


def pad2d(x, padding, value=0) -> Variable:
    """Constant padding of the last two axes (any rank >= 2): `padding` is ((top, bottom), (left, right)), a
    pair or an int; gc.pad does any axis and mode.

        >>> import graphc as gc
        >>> gc.nn.pad2d(gc.tensor("x", (3, 4)), 1).type.shape
        (5, 6)
    """
    x = as_variable(x)
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    widths = tuple(pair(p, "pad2d: padding", least=0) if not isinstance(p, int) else (p, p) for p in padding)
    if x.type.ndim < 2 or len(widths) != 2:
        raise ShapeError(f"pad2d: pads the last two axes, got {padding!r} for {describe(x)}{here()}")
    return pad(x, ((0, 0),) * (x.type.ndim - 2) + widths, constant_values=value)


def conv_output_size(n, k: int, stride: int, dilation: int = 1):
    """Output length of a valid window sweep: ⌊(n − d(k − 1) − 1)/stride⌋ + 1 (n may be a named size).

    >>> gc.nn.conv_output_size(28, 5, 1), gc.nn.conv_output_size(7, 3, 2), gc.nn.conv_output_size(7, 3, 1, 2)
    (24, 3, 3)
    """
    span = dilation * (k - 1) + 1
    if isinstance(n, int):
        return (n - span) // stride + 1
    return divide(n - span, stride) + 1


def windows(x: Variable, kernel, stride, dilation, what: str) -> tuple[list[Variable], object, object]:
    """The kh·kw strided slices of NCHW x (one per kernel offset, row-major), each (n, c, out_h, out_w).
    Each slice ends a fixed distance before the end, so named sizes work and all slices agree."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    h, w = image_size(x, what)
    oh, ow = conv_output_size(h, kh, sh, dh), conv_output_size(w, kw, sw, dw)
    if (isinstance(oh, int) and oh < 1) or (isinstance(ow, int) and ow < 1):
        raise ShapeError(f"{what}: a {kh}×{kw} window does not fit the {h}×{w} {describe(x)}{here()}")

    def along(i, k, d, s):
        tail = d * (k - 1) - i * d  # entries after the last one this offset reads
        return slice(i * d, -tail if tail else None, s)

    slices = [x[:, :, along(i, kh, dh, sh), along(j, kw, dw, sw)] for i in range(kh) for j in range(kw)]
    return slices, slices[0].type.shape[2], slices[0].type.shape[3]


def conv2d(x, w, stride=1, padding="valid", flip: bool = False, dilation=1, groups: int = 1) -> Variable:
    """2-D cross-correlation (or true convolution with flip=True) of NCHW x with OIHW kernels w.

    stride, dilation: int or (vertical, horizontal); padding: "valid", "same", an int or (ph, pw); groups:
    the input and output channels split into that many independent groups (w is (o, c/groups, kh, kw);
    groups = c is a depthwise convolution). Built as im2col (strided slices) and one (n·oh·ow, c·kh·kw) @
    (c·kh·kw, o) product, a batch of `groups` of them.

        >>> import numpy as np, graphc as gc
        >>> x, w = gc.tensor("x", (1, 4, 9, 9)), gc.tensor("w", (8, 2, 3, 3))
        >>> gc.nn.conv2d(x, w, dilation=2, groups=2).type.shape
        (1, 8, 5, 5)
    """
    x, w = as_variable(x), as_variable(w)
    if w.type.ndim != 4 or not all(isinstance(d, int) for d in w.type.shape):
        raise ShapeError(f"conv2d: the kernels must be OIHW with known sizes, got {describe(w)}{here()}")
    o, cg, kh, kw = w.type.shape
    size = image_size(x, "conv2d")
    c = x.type.shape[1]
    if not isinstance(groups, int) or groups < 1 or o % groups or c != cg * groups:
        if groups == 1:
            raise ShapeError(
                f"conv2d: the input {describe(x)} must have {cg} channels, as the kernels {describe(w)}"
                f"{here()}"
            )
        raise ShapeError(
            f"conv2d: {groups} groups of {describe(x)} with kernels {describe(w)}: the input needs "
            f"{cg}·{groups} channels and the output channels {o} a multiple of {groups}{here()}"
        )
    stride, dilation = pair(stride, "conv2d: stride"), pair(dilation, "conv2d: dilation")
    x = pad2d(x, padding_of(padding, size, (kh, kw), stride, dilation, "conv2d"))
    slices, oh, ow = windows(x, (kh, kw), stride, dilation, "conv2d")
    if flip:  # true convolution: offset (i, j) meets kernel entry (kh−1−i, kw−1−j)
        slices = slices[::-1]
    n, k = x.type.shape[0], cg * kh * kw
    cols = stack(slices, axis=-1)  # (n, c, oh, ow, kh·kw)
    if groups == 1:
        cols = reshape(transpose(cols, (0, 2, 3, 1, 4)), (-1, k))  # rows: output pixels
        out = cols @ transpose(reshape(w, (o, k)))  # (n·oh·ow, o)
        return transpose(reshape(out, (n, oh, ow, o)), (0, 3, 1, 2))
    cols = reshape(cols, (n, groups, cg, oh, ow, kh * kw))
    cols = reshape(transpose(cols, (1, 0, 3, 4, 2, 5)), (groups, -1, k))  # (g, n·oh·ow, c/g·kh·kw)
    kernels = transpose(reshape(w, (groups, o // groups, k)), (0, 2, 1))  # (g, c/g·kh·kw, o/g)
    out = reshape(matmul(cols, kernels), (groups, n, oh, ow, o // groups))
    return reshape(transpose(out, (1, 0, 4, 2, 3)), (n, o, oh, ow))


def conv_transpose2d(
    x, w, stride=1, padding=0, output_padding=0, dilation=1, groups: int = 1, flip: bool = False
) -> Variable:
    """The transposed convolution (the gradient of conv2d with respect to its input), PyTorch's
    conv_transpose2d: x (n, c_in, h, w), w (c_in, c_out/groups, kh, kw); output size
    (h − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1.

    Built as the input spread out by the stride (zeros between its entries), padded, and convolved with the
    kernels rotated by 180° and their channels swapped.

        >>> import graphc as gc
        >>> x, w = gc.tensor("x", ("n", 4, 5, 5)), gc.tensor("w", (4, 3, 3, 3))
        >>> gc.nn.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).type.shape
        (n, 3, 10, 10)
    """
    x, w = as_variable(x), as_variable(w)
    if w.type.ndim != 4 or not all(isinstance(d, int) for d in w.type.shape):
        raise ShapeError(
            f"conv_transpose2d: the kernels must be (c_in, c_out/groups, kh, kw), got {describe(w)}{here()}"
        )
    c_in, og, kh, kw = w.type.shape
    image_size(x, "conv_transpose2d")
    if x.type.shape[1] != c_in or c_in % groups:
        raise ShapeError(
            f"conv_transpose2d: the input {describe(x)} must have {c_in} channels (a multiple of {groups} "
            f"groups), as the kernels {describe(w)}{here()}"
        )
    stride, dilation = pair(stride, "conv_transpose2d: stride"), pair(dilation, "conv_transpose2d: dilation")
    padding = pair(padding, "conv_transpose2d: padding", least=0)
    extra = pair(output_padding, "conv_transpose2d: output_padding", least=0)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation, strict=True)):
        raise InputError(
            f"conv_transpose2d: output_padding {extra} must be smaller than stride or dilation{here()}"
        )
    for axis, s in ((2, stride[0]), (3, stride[1])):
        x = _spread(x, axis, s)
    margins = []
    for k, d, p, e in zip((kh, kw), dilation, padding, extra, strict=True):
        margin = d * (k - 1) - p
        margins.append((margin, margin + e))
    x = _pad_or_crop(x, margins)
    swapped = reshape(transpose(reshape(w, (groups, c_in // groups, og, kh, kw)), (0, 2, 1, 3, 4)),
                      (groups * og, c_in // groups, kh, kw))  # fmt: skip
    return conv2d(x, swapped, dilation=dilation, groups=groups, flip=not flip)


def _spread(x: Variable, axis: int, s: int) -> Variable:
    """s − 1 zeros after every entry along `axis`, but the last: length (n − 1)·s + 1."""
    if s == 1:
        return x
    shape = x.type.shape
    column = reshape(x, shape[: axis + 1] + (1,) + shape[axis + 1 :])
    gaps = pad(column, ((0, 0),) * (axis + 1) + ((0, s - 1),) + ((0, 0),) * (len(shape) - axis - 1))
    spread = reshape(gaps, shape[:axis] + (shape[axis] * s,) + shape[axis + 1 :])
    return spread[(slice(None),) * axis + (slice(None, 1 - s),)]


def _pad_or_crop(x: Variable, margins) -> Variable:
    """Zero padding of the last two axes; a negative margin crops instead."""
    widths = [tuple(max(m, 0) for m in pair_) for pair_ in margins]
    x = pad2d(x, widths) if any(sum(widths, ())) else x
    crops = [slice(max(-a, 0), -max(-b, 0) or None) for a, b in margins]
    return x[:, :, crops[0], crops[1]] if any(m < 0 for m in sum(margins, ())) else x


def _as_2d(x, w, what: str):
    x, w = as_variable(x), as_variable(w)
    if x.type.ndim != 3 or w.type.ndim != 3:
        raise ShapeError(
            f"{what}: the input must be (n, channels, length) and the kernels (out, in, k), got "
            f"{describe(x)} and {describe(w)}{here()}"
        )
    n, c, length = x.type.shape
    return reshape(x, (n, c, 1, length)), reshape(w, w.type.shape[:2] + (1, w.type.shape[2]))


def _from_2d(y: Variable) -> Variable:
    return reshape(y, y.type.shape[:2] + (y.type.shape[3],))


def conv1d(x, w, stride: int = 1, padding="valid", flip: bool = False, dilation: int = 1, groups: int = 1):
    """1-D convolution for sequences: x (n, c, length), w (o, c/groups, k): conv2d with height 1.

    >>> import graphc as gc
    >>> gc.nn.conv1d(gc.tensor("x", (2, 4, 10)), gc.tensor("w", (6, 2, 3)), dilation=2, groups=2).type.shape
    (2, 6, 6)
    """
    x2, w2 = _as_2d(x, w, "conv1d")
    pads = padding if padding in ("valid", "same") else (0, padding)
    y = conv2d(x2, w2, (1, stride), pads, flip=flip, dilation=(1, dilation), groups=groups)
    return _from_2d(y)


def conv_transpose1d(x, w, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1,
                     groups: int = 1) -> Variable:  # fmt: skip
    """PyTorch's conv_transpose1d: x (n, c_in, length), w (c_in, c_out/groups, k).

    >>> import graphc as gc
    >>> gc.nn.conv_transpose1d(gc.tensor("x", (2, 4, 5)), gc.tensor("w", (4, 3, 3)), stride=2).type.shape
    (2, 3, 11)
    """
    x2, w2 = _as_2d(x, w, "conv_transpose1d")
    y = conv_transpose2d(x2, w2, (1, stride), (0, padding), (0, output_padding), (1, dilation), groups)
    return _from_2d(y)
