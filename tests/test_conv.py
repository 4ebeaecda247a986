"""Convolution and pooling: against a direct NumPy loop, on every backend, with gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.testing import check_grad


def reference_conv2d(x, w, stride=(1, 1), pad=((0, 0), (0, 0)), flip=False):
    """The textbook sum S(i, j) = Σ_c Σ_m Σ_n I(c, i·s + m, j·s + n) K(c, m, n), written as loops."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    x = np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride[0] + 1, (wd - kw) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out


CASES = [
    # (input shape, kernel shape, stride, padding, expected numpy padding, flip)
    ((2, 1, 5, 5), (1, 1, 3, 3), 1, "valid", ((0, 0), (0, 0)), False),
    ((2, 3, 6, 7), (4, 3, 2, 3), (2, 1), "valid", ((0, 0), (0, 0)), False),
    ((1, 2, 5, 6), (3, 2, 3, 2), 1, "same", ((1, 1), (0, 1)), False),
    ((2, 2, 7, 7), (2, 2, 3, 3), 2, "same", ((1, 1), (1, 1)), True),
    ((1, 1, 4, 5), (2, 1, 2, 2), 1, (1, 2), ((1, 1), (2, 2)), True),
]


@pytest.mark.parametrize("xshape, wshape, stride, padding, pad, flip", CASES)
def test_conv2d_matches_loops(backend, rng, xshape, wshape, stride, padding, pad, flip):
    xv, wv = rng.standard_normal(xshape), rng.standard_normal(wshape)
    x, w = gc.tensor("x", ("n",) + xshape[1:]), gc.tensor("w", wshape)
    out = gc.function([x, w], gc.nn.conv2d(x, w, stride=stride, padding=padding, flip=flip), backend=backend)(
        xv, wv
    )
    s = (stride, stride) if isinstance(stride, int) else stride
    np.testing.assert_allclose(out, reference_conv2d(xv, wv, s, pad, flip), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xshape, wshape, stride, padding, pad, flip", CASES[1:])
def test_conv2d_gradients(backend, rng, xshape, wshape, stride, padding, pad, flip):
    """Separate strides, non-square kernels, "same" and int padding, true convolution: on every backend."""
    xv, wv = rng.standard_normal(xshape), rng.standard_normal(wshape)
    check_grad(
        lambda x, w: gc.sum(gc.tanh(gc.nn.conv2d(x, w, stride, padding, flip))), [xv, wv], backend=backend
    )


def test_conv_and_pool_gradients_on_every_backend(backend, rng):
    xv, wv = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))

    def net(x, w):
        h = gc.nn.relu(gc.nn.conv2d(x, w, 1, "same")) + 0.01 * gc.nn.conv2d(x, w, 1, "same")
        return gc.sum(gc.nn.max_pool2d(h, 2) ** 2) + gc.sum(gc.nn.avg_pool2d(h, 3, 1))

    check_grad(net, [xv, wv], backend=backend)
    check_grad(
        lambda x, w: gc.sum(gc.nn.conv1d(x, w, 2, "same") ** 2), [xv[:, :, 0], wv[:, :, 0]], backend=backend
    )


def test_conv_equals_toeplitz_product(rng):
    """1-D convolution is multiplication by a Toeplitz matrix; so are its gradients (transposed)."""
    length, k = 9, 3
    kernel = rng.standard_normal(k)
    T = np.zeros((length - k + 1, length))
    for i in range(length - k + 1):
        T[i, i : i + k] = kernel
    x = gc.tensor("x", (1, 1, length))
    y = gc.nn.conv1d(x, gc.constant(kernel.reshape(1, 1, k)))
    g = gc.tensor("g", (1, 1, length - k + 1))
    (gx,) = gc.grad(None, [x], known_grads={y: g})
    xv, gv = rng.standard_normal((1, 1, length)), rng.standard_normal((1, 1, length - k + 1))
    out, back = gc.function([x, g], [y, gx])(xv, gv)
    np.testing.assert_allclose(out[0, 0], T @ xv[0, 0])
    np.testing.assert_allclose(back[0, 0], T.T @ gv[0, 0])


def test_conv2d_equals_doubly_block_circulant_product(rng):
    """Circular 2-D cross-correlation (wrap padding built in the graph) is y = C·vec(x) with C block-circulant
    with circulant blocks; the gradient with respect to x is Cᵀ·g."""
    h, w, k = 4, 5, 3
    kernel = rng.standard_normal((k, k))
    C = np.zeros((h * w, h * w))
    for i in range(h):
        for j in range(w):
            for m in range(k):
                for n in range(k):
                    C[i * w + j, ((i + m) % h) * w + (j + n) % w] += kernel[m, n]
    blocks = [[C[a * w : (a + 1) * w, b * w : (b + 1) * w] for b in range(h)] for a in range(h)]
    for a in range(h):
        np.testing.assert_array_equal(blocks[a][(a + 2) % h], blocks[0][2])  # block-circulant
    np.testing.assert_array_equal(np.roll(blocks[0][1], (1, 1), axis=(0, 1)), blocks[0][1])  # circulant

    x = gc.tensor("x", (1, 1, h, w))
    wrapped = gc.concatenate([x, x[:, :, : k - 1, :]], axis=2)
    wrapped = gc.concatenate([wrapped, wrapped[:, :, :, : k - 1]], axis=3)
    y = gc.nn.conv2d(wrapped, gc.constant(kernel.reshape(1, 1, k, k)))
    g = gc.tensor("g", (1, 1, h, w))
    (gx,) = gc.grad(None, [x], known_grads={y: g})
    xv, gv = rng.standard_normal((1, 1, h, w)), rng.standard_normal((1, 1, h, w))
    out, back = gc.function([x, g], [y, gx])(xv, gv)
    np.testing.assert_allclose(out.ravel(), C @ xv.ravel())
    np.testing.assert_allclose(back.ravel(), C.T @ gv.ravel())


def test_conv1d_int_padding_and_flip(backend, rng):
    xv, wv = rng.standard_normal((2, 2, 7)), rng.standard_normal((3, 2, 4))
    x = gc.tensor("x", ("n", 2, 7))
    padded, flipped = gc.function(
        [x], [gc.nn.conv1d(x, gc.constant(wv), padding=2), gc.nn.conv1d(x, gc.constant(wv), flip=True)],
        backend=backend,
    )(xv)  # fmt: skip
    ref = reference_conv2d(xv[:, :, None], wv[:, :, None], (1, 1), ((0, 0), (2, 2)))[:, :, 0]
    np.testing.assert_allclose(padded, ref)
    np.testing.assert_allclose(flipped, reference_conv2d(xv[:, :, None], wv[:, :, None], flip=True)[:, :, 0])
    np.testing.assert_allclose(
        flipped[:, :, 0], np.einsum("ncm,ocm->no", xv[:, :, :4], wv[:, :, ::-1])
    )  # true convolution: the kernel reversed


def test_pooling_with_zero_padding(backend, rng):
    xv = rng.uniform(0.1, 1.0, (1, 2, 5, 5))
    x = gc.tensor("x", ("n", 2, 5, 5))
    mx, avg = gc.function(
        [x], [gc.nn.max_pool2d(x, 2, padding=1), gc.nn.avg_pool2d(x, 3, 2, padding=1)], backend=backend
    )(xv)  # fmt: skip
    p = np.pad(xv, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_allclose(mx, p[..., :6, :6].reshape(1, 2, 3, 2, 3, 2).max(axis=(3, 5)))
    ref = np.array([[p[..., 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].mean(axis=(-2, -1)) for j in range(3)]
                    for i in range(3)])  # fmt: skip
    np.testing.assert_allclose(avg, ref.transpose(2, 3, 0, 1))


def test_conv1d_same_and_stride(backend, rng):
    xv, wv = rng.standard_normal((2, 3, 10)), rng.standard_normal((4, 3, 3))
    x = gc.tensor("x", ("n", 3, 10))
    same, strided = gc.function(
        [x], [gc.nn.conv1d(x, gc.constant(wv), padding="same"), gc.nn.conv1d(x, gc.constant(wv), stride=2)],
        backend=backend,
    )(xv)  # fmt: skip
    assert same.shape == (2, 4, 10) and strided.shape == (2, 4, 4)
    ref = reference_conv2d(xv[:, :, None, :], wv[:, :, None, :], (1, 1), ((0, 0), (1, 1)))[:, :, 0]
    np.testing.assert_allclose(same, ref)
    np.testing.assert_allclose(strided, reference_conv2d(xv[:, :, None], wv[:, :, None], (1, 2))[:, :, 0])


def test_translation_equivariance(rng):
    img, k = rng.standard_normal((1, 1, 12, 12)), rng.standard_normal((1, 1, 3, 3))
    x = gc.tensor("x", (1, 1, 12, 12))
    f = gc.function([x], gc.nn.conv2d(x, gc.constant(k)))
    shifted = np.roll(img, (2, 1), axis=(2, 3))
    np.testing.assert_allclose(f(shifted)[..., 3:, 2:], np.roll(f(img), (2, 1), axis=(2, 3))[..., 3:, 2:])


@pytest.mark.parametrize("size, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_pooling_matches_numpy_and_gradients(backend, rng, size, stride):
    xv = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7).astype(np.float64) / 10  # distinct: no max ties
    x = gc.tensor("x", ("n", 3, 6, 7))
    mx, avg = gc.function([x], [gc.nn.max_pool2d(x, size, stride), gc.nn.avg_pool2d(x, size, stride)],
                          backend=backend)(xv)  # fmt: skip
    kh, kw = (size, size) if isinstance(size, int) else size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    oh, ow = (6 - kh) // sh + 1, (7 - kw) // sw + 1
    windows = np.stack(
        [
            xv[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw].reshape(2, 3, -1)
            for i in range(oh)
            for j in range(ow)
        ],
        axis=2,
    ).reshape(2, 3, oh, ow, kh * kw)
    np.testing.assert_allclose(mx, windows.max(-1))
    np.testing.assert_allclose(avg, windows.mean(-1))
    if backend == "numpy":
        check_grad(lambda v: gc.sum(gc.nn.max_pool2d(v, size, stride) ** 2), [xv])
        check_grad(lambda v: gc.sum(gc.nn.avg_pool2d(v, size, stride) ** 2), [xv])


def test_max_pool_gradient_goes_to_the_max():
    x = gc.tensor("x", (1, 1, 4, 4))
    pool = np.array([[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], np.float64)
    g = gc.function([x], gc.grad(gc.sum(gc.nn.max_pool2d(x, 2)), x))(pool[None, None])[0, 0]
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 3] = expected[2, 0] = 1.0
    expected[2, 2] = expected[2, 3] = 0.5  # a tie (7, 7): the gradient is shared evenly
    np.testing.assert_array_equal(g, expected)


# -- PyTorch's options: groups, dilation, transposed convolution, pooling padding/ceil_mode/indices ---------
def _against_torch(backend, build, reference, arrays, decl=None):
    torch = pytest.importorskip("torch")
    xs = [gc.tensor(f"x{i}", (decl or {}).get(i, a.shape)) for i, a in enumerate(arrays)]
    out = build(*xs)
    got = gc.function(xs, list(out) if isinstance(out, tuple) else out, backend=backend)(*arrays)
    want = reference(*(torch.tensor(a) for a in arrays))
    for g, t in zip(got if isinstance(out, tuple) else [got], want if isinstance(want, tuple) else [want],
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-10, atol=1e-10)
        assert g.dtype == t.numpy().dtype


CONV_OPTIONS = [
    # (name, graphc, torch.nn.functional, input shape, kernel shape)
    ("groups_dilation", lambda x, w: gc.nn.conv2d(x, w, (2, 1), (1, 2), dilation=(2, 1), groups=2),
     lambda F, x, w: F.conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
     (2, 4, 9, 8), (6, 2, 3, 2)),
    ("depthwise_same", lambda x, w: gc.nn.conv2d(x, w, padding="same", groups=4),
     lambda F, x, w: F.conv2d(x, w, padding="same", groups=4), (1, 4, 6, 5), (4, 1, 3, 3)),
    ("transpose", lambda x, w: gc.nn.conv_transpose2d(x, w, 2, 1, 1),
     lambda F, x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     (2, 4, 5, 4), (4, 3, 3, 3)),
    ("transpose_groups_dilation",
     lambda x, w: gc.nn.conv_transpose2d(x, w, (3, 1), (2, 0), (1, 0), 2, groups=2),
     lambda F, x, w: F.conv_transpose2d(x, w, stride=(3, 1), padding=(2, 0), output_padding=(1, 0),
                                        dilation=2, groups=2), (1, 4, 4, 3), (4, 3, 3, 2)),
    ("conv1d_options", lambda x, w: gc.nn.conv1d(x, w, 2, 2, dilation=2, groups=2),
     lambda F, x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2, groups=2), (2, 4, 11), (6, 2, 3)),
    ("conv_transpose1d", lambda x, w: gc.nn.conv_transpose1d(x, w, 3, 1, 2),
     lambda F, x, w: F.conv_transpose1d(x, w, stride=3, padding=1, output_padding=2), (2, 4, 5), (4, 5, 4)),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, build, reference, xshape, wshape", CONV_OPTIONS, ids=[c[0] for c in CONV_OPTIONS]
)
def test_conv_options_match_pytorch(backend, rng, name, build, reference, xshape, wshape):
    F = pytest.importorskip("torch").nn.functional
    arrays = [rng.standard_normal(xshape), rng.standard_normal(wshape)]
    _against_torch(backend, build, lambda x, w: reference(F, x, w), arrays)


@pytest.mark.parametrize(
    "name, build", [(c[0], c[1]) for c in CONV_OPTIONS[:4]], ids=[c[0] for c in CONV_OPTIONS[:4]]
)
def test_conv_option_gradients(rng, name, build):
    shapes = {c[0]: (c[3], c[4]) for c in CONV_OPTIONS}[name]
    check_grad(lambda x, w: gc.sum(gc.tanh(build(x, w))), [rng.standard_normal(s) for s in shapes])


POOLS = [
    # (size, stride, padding, ceil_mode)
    (2, None, 1, False),
    (3, 2, 1, True),
    (2, 2, 0, True),
    ((2, 3), (2, 1), (1, 1), False),
]


@pytest.mark.parametrize("size, stride, padding, ceil_mode", POOLS)
def test_pooling_options_match_pytorch(backend, rng, size, stride, padding, ceil_mode):
    """Max pools pad with −inf (every window here is all negative: zero padding would win), return PyTorch's
    indices; average pools count the padding or not; ceil_mode keeps a last partial window."""
    F = pytest.importorskip("torch").nn.functional
    x = -np.abs(rng.standard_normal((2, 3, 7, 6))) - 1
    _against_torch(
        backend,
        lambda v: (
            *gc.nn.max_pool2d(v, size, stride, padding, ceil_mode=ceil_mode, return_indices=True),
            gc.nn.avg_pool2d(v, size, stride, padding, ceil_mode=ceil_mode),
            gc.nn.avg_pool2d(v, size, stride, padding, ceil_mode=ceil_mode, count_include_pad=False),
        ),
        lambda v: (
            *F.max_pool2d(v, size, stride, padding, ceil_mode=ceil_mode, return_indices=True),
            F.avg_pool2d(v, size, stride, padding, ceil_mode=ceil_mode),
            F.avg_pool2d(v, size, stride, padding, ceil_mode=ceil_mode, count_include_pad=False),
        ),
        [x],
    )


def test_max_pool_pads_with_minus_infinity(backend):
    """A window all in negative values and padding keeps its maximum (zero padding gave 0)."""
    x = gc.tensor("x", (1, 1, 2, 2))
    got = gc.function([x], gc.nn.max_pool2d(x, 2, padding=1), backend=backend)(-np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(got, -np.ones((1, 1, 2, 2)))


def test_conv_and_pool_over_named_height_and_width(backend, rng):
    """H and W known only at call time: one compiled function for two image sizes, with gradients."""
    F = pytest.importorskip("torch").nn.functional
    import torch

    x, k = gc.tensor("x", ("n", 3, "h", "w")), gc.tensor("k", (4, 3, 3, 3))
    outputs = [
        gc.nn.conv2d(x, k, padding="same"),
        gc.nn.conv2d(x, k, stride=2, padding=1),
        gc.nn.max_pool2d(x, 2),
        gc.nn.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
        gc.grad(gc.nn.conv2d(x, k, padding=1).sum(), [x])[0],
    ]
    f = gc.function([x, k], outputs, backend=backend)
    kv = rng.standard_normal((4, 3, 3, 3))
    for shape in [(2, 3, 7, 9), (1, 3, 6, 5)]:
        xv = rng.standard_normal(shape)
        t = torch.tensor(xv, requires_grad=True)
        F.conv2d(t, torch.tensor(kv), padding=1).sum().backward()
        xt, kt = torch.tensor(xv), torch.tensor(kv)
        refs = [F.conv2d(xt, kt, padding="same"), F.conv2d(xt, kt, stride=2, padding=1), F.max_pool2d(xt, 2),
                F.avg_pool2d(xt, 3, 1, 1, count_include_pad=False), t.grad]  # fmt: skip
        for got, want in zip(f(xv, kv), refs, strict=True):
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_pad2d_any_rank():
    assert gc.nn.pad2d(gc.tensor("x", (3, 4)), ((1, 0), (0, 2))).type.shape == (4, 6)
    assert gc.nn.pad2d(gc.tensor("x", (2, 2, 3, 4, 5)), 1).type.shape == (2, 2, 3, 6, 7)
    with pytest.raises(gc.ShapeError, match="pads the last two axes"):
        gc.nn.pad2d(gc.vector("v", 3), 1)
