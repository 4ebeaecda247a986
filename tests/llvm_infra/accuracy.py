"""Test helpers: input samples over wide ranges (extremes included) and ulp distances to NumPy references."""

from __future__ import annotations

import math

import numpy as np


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    # scipy.special.expit flushes to 0 where exp(-x) overflows (x < -709); this form keeps the denormals.
    e = np.exp(-np.abs(x))
    return np.where(x < 0, e / (1.0 + e), 1.0 / (1.0 + e))


def _glibc(fn):
    """A math-module (glibc, < 1 ulp) function over an array: scipy's erf is itself off by ~3 ulp."""
    vectorised = np.frompyfunc(fn, 1, 1)
    return lambda x: vectorised(x).astype(np.float64)


# NumPy/SciPy reference of each vecmath function, evaluated in float64.
REFERENCES = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "tanh": np.tanh,
    "sigmoid": lambda x: _stable_sigmoid(x),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "sin": np.sin,
    "cos": np.cos,
    "atan": np.arctan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "erf": _glibc(math.erf),
    "erfc": _glibc(math.erfc),
    "atan2": np.arctan2,  # two arguments: tests/llvm_infra/test_vecmath.py samples pairs
}
BINARY = {"atan2"}


def sample_inputs(
    dtype: np.dtype, max_abs: float | None = None, n: int = 400_000, seed: int = 0
) -> np.ndarray:
    """Specials, +-logspace from the smallest denormal to ``max_abs``, and dense uniform samples near 0."""
    dtype = np.dtype(dtype)
    info = np.finfo(dtype)
    top = float(info.max) if max_abs is None else max_abs
    rng = np.random.default_rng(seed)
    smallest = float(np.nextafter(dtype.type(0), dtype.type(1)))
    mags = np.exp(rng.uniform(np.log(smallest), np.log(top), n)).astype(dtype)
    specials = np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            info.max,
            -info.max,
            info.tiny,
            -info.tiny,
            smallest,
            -smallest,
            1.0,
            -1.0,
            0.5,
            -0.5,
            0.625,
            -0.625,
            2.0,
            1e-8,
            -1e-8,
            20.0,
            -20.0,
            100.0,
            -100.0,
            1000.0,
            -1000.0,
        ],
        dtype=dtype,
    )
    specials = specials[~(np.abs(specials) > top)]
    parts = [
        specials,
        mags,
        -mags,
        rng.uniform(-1, 1, n).astype(dtype),
        rng.uniform(-40, 40, n).astype(dtype),
        rng.uniform(-800, 800, n).astype(dtype).clip(-top, top),
    ]
    return np.concatenate(parts)


def reference(func: str, *xs: np.ndarray) -> np.ndarray:
    """The reference in float64 rounded to x.dtype (float32 is compared to a near-correctly-rounded value)."""
    with np.errstate(all="ignore"):
        return REFERENCES[func](*(x.astype(np.float64) for x in xs)).astype(xs[0].dtype)


def ulp_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in ulps of ``want``; 0 where both are the same NaN/inf, inf on a mismatch."""
    with np.errstate(all="ignore"):
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        ulp = np.spacing(np.abs(want)).astype(np.float64)
        err = diff / ulp
    same_special = (np.isnan(got) & np.isnan(want)) | (np.isinf(want) & (got == want))
    err = np.where(same_special, 0.0, err)
    err = np.where(np.isnan(err) | (np.isnan(got) != np.isnan(want)), np.inf, err)
    # A signed zero must match its sign (NumPy keeps -0 for odd functions).
    zero_sign = (want == 0) & (got == 0) & (np.signbit(got) != np.signbit(want))
    return np.where(zero_sign, np.inf, err)
