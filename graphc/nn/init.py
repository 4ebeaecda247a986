"""Weight initialisers of chapter 8.4 (NumPy arrays to put in gc.shared). Knows NumPy only.

    >>> import numpy as np, graphc as gc
    >>> W = gc.shared(gc.nn.init.glorot_uniform(784, 100, np.random.default_rng(0)), name="W")

m is the number of inputs (fan-in) and n the number of outputs (fan-out) of a dense layer; W has shape (m, n).
"""

from __future__ import annotations

import numpy as np

from graphc.errors import InputError, ShapeError
from graphc.origin import here

__all__ = ["uniform", "glorot_uniform", "normal", "orthogonal", "sparse", "zeros", "fans"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan-in m, fan-out n): (m, n) for dense weights, (C·kh·kw, O·kh·kw) for OIHW conv kernels.

    >>> gc.nn.init.fans((784, 10)), gc.nn.init.fans((8, 3, 5, 5))
    ((784, 10), (75, 200))
    """
    if len(shape) < 2:
        raise ShapeError(f"a weight shape has at least 2 dimensions (fan-in, fan-out), got {shape}{here()}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def uniform(shape, rng: np.random.Generator, dtype="float32") -> np.ndarray:
    """U(−1/√m, 1/√m).

    >>> W = gc.nn.init.uniform((100, 10), np.random.default_rng(0))
    >>> W.dtype, bool(np.abs(W).max() <= 0.1)
    (dtype('float32'), True)
    """
    shape = tuple(shape)
    bound = 1.0 / np.sqrt(fans(shape)[0])
    return rng.uniform(-bound, bound, shape).astype(dtype)


def glorot_uniform(m: int, n: int, rng: np.random.Generator, dtype="float32", shape=None) -> np.ndarray:
    """Glorot & Bengio's normalised initialisation U(−√(6/(m+n)), √(6/(m+n))).

    >>> W = gc.nn.init.glorot_uniform(30, 20, np.random.default_rng(0))
    >>> W.shape, bool(np.abs(W).max() <= np.sqrt(6 / 50))
    ((30, 20), True)
    """
    bound = np.sqrt(6.0 / (m + n))
    return rng.uniform(-bound, bound, shape if shape is not None else (m, n)).astype(dtype)


def normal(shape, rng: np.random.Generator, std: float = 0.01, dtype="float32") -> np.ndarray:
    """N(0, σ²).

    >>> W = gc.nn.init.normal((200, 200), np.random.default_rng(0), std=0.01)
    >>> round(float(W.std()), 3)
    0.01
    """
    return (std * rng.standard_normal(tuple(shape))).astype(dtype)


def orthogonal(shape, rng: np.random.Generator, gain: float = 1.0, dtype="float32") -> np.ndarray:
    """A random orthogonal matrix (Saxe et al.) times `gain`: orthonormal rows or columns, whichever are
    fewer.

    >>> Q = gc.nn.init.orthogonal((3, 3), np.random.default_rng(0), dtype="float64")
    >>> np.allclose(Q @ Q.T, np.eye(3))
    True
    """
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # a uniform (Haar) choice, not QR's sign convention
    q = q if rows >= cols else q.T
    return (gain * q.reshape(shape)).astype(dtype)


def sparse(m: int, n: int, k: int, rng: np.random.Generator, std: float = 1.0, dtype="float32") -> np.ndarray:
    """Martens' sparse initialisation: each of the n units gets exactly k non-zero N(0, std²) input
    weights.

    >>> W = gc.nn.init.sparse(5, 4, 2, np.random.default_rng(0))
    >>> (W != 0).sum(axis=0)
    array([2, 2, 2, 2])
    """
    if not 0 < k <= m:
        raise InputError(f"sparse: k (non-zeros per unit) must be in 1..{m} (m), got {k}{here()}")
    W = np.zeros((m, n))
    for j in range(n):
        rows = rng.choice(m, size=k, replace=False)
        W[rows, j] = std * rng.standard_normal(k)
    return W.astype(dtype)


def zeros(shape, dtype="float32") -> np.ndarray:
    """Biases start at 0 (the course's default).

    >>> gc.nn.init.zeros(3)
    array([0., 0., 0.], dtype=float32)
    """
    return np.zeros(shape, dtype=dtype)
