"""x ** y at special values is NumPy's power with one exponent (graphc.ops.power: an exponent of exactly 0.5
is sqrt, so -inf ** 0.5 is NaN and -0.0 ** 0.5 is -0.0), on every backend, optimised or not, whether the
exponent is a constant, a scalar input or an array, alone or in a fused kernel: the canonicaliser's
shortcuts (x*x, 1/x, sqrt) and the llvm rule's paths all agree with it."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ops import power

EXPONENTS = [0.5, -0.5, 2.0, 3.0, -1.0, 0.0, 1.5, np.nan, np.inf]


def _bases(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, -2.5, -1.0, 1.0, 0.5, 3.0]
    return np.array(
        special + [info.tiny, -info.tiny, info.smallest_subnormal, info.max / 4, -info.max / 4], dtype
    )


def _scalar_power(bases, exponent):
    """NumPy's power with one exponent as NumPy 2.4 has it: exactly 0.5 is sqrt (NumPy 2.0 gave C's pow)."""
    return np.sqrt(bases) if exponent == 0.5 else np.power(bases, exponent)


def _assert_same(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-6 if got.dtype == np.float32 else 1e-13, atol=0)
    zero = want == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))  # -0.0 stays -0.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimize", ["none", "fast"])
def test_a_constant_exponent(backend, optimize, dtype):
    x = gc.vector("x", dtype=dtype)
    bases = _bases(dtype)
    outs = [x ** gc.constant(np.array(e, dtype)) for e in EXPONENTS]
    f = gc.function([x], outs, backend=backend, optimize=optimize)
    with np.errstate(all="ignore"):
        for e, got in zip(EXPONENTS, f(bases), strict=True):
            _assert_same(got, _scalar_power(bases, np.array(e, dtype)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimize", ["none", "fast"])
def test_an_exponent_given_at_the_call(backend, optimize, dtype):
    """A scalar input, and an array of exponents: the same values as NumPy's scalar path."""
    x, e, es = gc.vector("x", dtype=dtype), gc.scalar("e", dtype=dtype), gc.vector("es", dtype=dtype)
    fused = gc.maximum(x**es, gc.constant(np.array(-np.inf, dtype)))  # the same values, from a fused kernel
    f = gc.function([x, e, es], [x**e, x**es, fused], backend=backend, optimize=optimize)
    bases = _bases(dtype)
    with np.errstate(all="ignore"):
        for exponent in EXPONENTS:
            want = _scalar_power(bases, np.array(exponent, dtype))
            for got in f(bases, np.array(exponent, dtype), np.full(bases.shape, exponent, dtype)):
                _assert_same(got, want)


def test_power_is_numpys_scalar_rule_for_arrays():
    bases = np.array([-np.inf, -0.0, 4.0, -np.inf])
    with np.errstate(invalid="ignore"):
        got = power(bases, np.array([0.5, 0.5, 0.5, 1.5]))
    np.testing.assert_array_equal(got, [np.nan, -0.0, 2.0, np.inf])
    assert np.signbit(got[1])
    out = bases.copy()
    with np.errstate(invalid="ignore"):
        power(
            out, np.array([0.5, 0.5, 0.5, 1.5]), out=out
        )  # writing over the base (the numpy backend's out=)
    np.testing.assert_array_equal(out, got)
