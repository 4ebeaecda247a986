"""The case machinery the op tests share: one `Case` type for forward rows (CASES, against NumPy) and gradient
rows (GRAD_CASES, against central differences), and the runners that check a row on a backend.

A row builds a small graph from Variables, one per `Arg`; its inputs are drawn from the test's `rng`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

import graphc as gc
from graphc.graph import Constant, toposort
from graphc.ops import Op
from graphc.testing import check_grad

F32, F64, I32, I64, B = "float32", "float64", "int32", "int64", "bool"


@dataclass(frozen=True)
class Arg:
    """One input: its concrete shape, its declared shape (names allowed), dtype and value range."""

    shape: tuple
    dtype: str = F64
    low: float = -2.0
    high: float = 2.0
    decl: tuple | None = None  # declared shape with named sizes, e.g. ("n", 4); default: `shape`
    ties: bool = False  # draw small integers (as floats) so comparisons and max see equal values
    special: bool = False  # the first entries are nan, inf, -inf, 0.0, -0.0, a huge and a tiny value
    away: float = 0.0  # |value| >= away: keeps relu, abs, division away from their kink at 0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.dtype == B:
            return rng.random(self.shape) < 0.5
        if np.dtype(self.dtype).kind == "i" or self.ties:
            return rng.integers(int(self.low), int(self.high) + 1, size=self.shape).astype(self.dtype)
        values = rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)
        if self.special:
            info = np.finfo(self.dtype)
            extremes = [np.nan, np.inf, -np.inf, 0.0, -0.0, info.max / 2, info.tiny]
            values.reshape(-1)[: len(extremes)] = extremes
        if self.away:
            values = np.sign(values + (values == 0)) * np.maximum(np.abs(values), self.away)
        return values

    def variable(self, name: str) -> gc.Variable:
        return gc.tensor(name, shape=self.decl if self.decl is not None else self.shape, dtype=self.dtype)


def A(shape=(3, 4), dtype=F64, low=-2.0, high=2.0, decl=None, ties=False, special=False, away=0.0) -> Arg:
    return Arg(tuple(shape), dtype, low, high, None if decl is None else tuple(decl), ties, special, away)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable  # graphc Variables -> Variable
    args: tuple[Arg, ...]
    ref: Callable | None = None  # NumPy arrays -> array; None: `build` works on arrays too (operators)
    exact: bool = True  # the interpreter equals NumPy bit for bit (same NumPy function underneath)
    eps: float | None = None  # gradient rows: finite-difference step and tolerance (None: check_grad's)
    tol: float | None = None

    def variables(self) -> list[gc.Variable]:
        return [a.variable(f"x{i}") for i, a in enumerate(self.args)]

    def sample(self, rng: np.random.Generator) -> list[np.ndarray]:
        return [a.sample(rng) for a in self.args]


def C(name, build, ref, *args, exact=True) -> Case:
    """A forward row: `build` on Variables against `ref` (or `build` itself) on NumPy arrays."""
    return Case(name, build, tuple(args), ref, exact)


def G(name, build, args, eps=None, tol=None) -> Case:
    """A gradient row: the gradient of `build`'s output, weighted, against central differences."""
    return Case(name, build, tuple(args), eps=eps, tol=tol)


def ids(cases: list[Case]) -> list[str]:
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return names


# --- the runners --------------------------------------------------------------------------------------------
def check_forward(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    """The row compiled on `backend` gives NumPy's dtype, shape and values."""
    arrays = case.sample(rng)
    ref = case.ref or case.build
    special = any(a.special for a in case.args)  # nan and inf inputs: NumPy's warnings are expected there
    with np.errstate(all="ignore" if special else "raise", under="ignore"):
        expected = np.asarray(ref(*[a.copy() for a in arrays]))
    xs = case.variables()
    f = gc.function(xs, case.build(*xs), backend=backend, optimize=optimize)
    assert_matches(f(*arrays), expected, exact=case.exact and backend == "interp" and optimize == "none")


def check_gradient(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    """gc.grad of Σ output ⊙ R (fixed random R: every entry of the output's gradient counts) against central
    differences."""
    check_grad(weighted(case.build), case.sample(rng), case.eps, case.tol, backend=backend, optimize=optimize)


def weighted(build: Callable, seed: int = 1) -> Callable:
    def cost(*xs):
        out = build(*xs)
        weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=tuple(out.type.shape))
        return gc.sum(out * Constant(weights))

    return cost


def ops_built(cases: Iterable[Case]) -> set[Op]:
    """Every op the rows' graphs use."""
    return {node.op for case in cases for node in toposort([case.build(*case.variables())])}


def _tolerance(dtype: np.dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


def assert_matches(got, expected: np.ndarray, exact: bool = False) -> None:
    assert isinstance(got, np.ndarray), f"expected an ndarray, got {type(got).__name__}"
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, NumPy gives {expected.dtype}"
    assert got.shape == expected.shape, f"shape {got.shape}, NumPy gives {expected.shape}"
    if exact or expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, **_tolerance(expected.dtype))


# --- NumPy references of the compound ops -------------------------------------------------------------------
def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_logsumexp(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)
