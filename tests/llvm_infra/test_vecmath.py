"""vecmath: every function, both dtypes, JIT-compiled in a loop and compared with NumPy in ulp."""

import platform
import re

import numpy as np
import pytest
from accuracy import BINARY, REFERENCES, reference, sample_inputs, ulp_error
from kernels import compile_binary, compile_unary, unary_kernel_ir

from graphc import settings
from graphc.codegen.llvm import jit, vecmath

DTYPES = [np.float32, np.float64]
CASES = [(func, dtype) for func in sorted(vecmath.FUNCTIONS) if func not in BINARY for dtype in DTYPES]


@pytest.fixture(scope="module")
def kernels():
    cache = {}

    def get(func, dtype):
        if (func, dtype) not in cache:
            cache[func, dtype] = compile_unary(func, dtype)[0]
        return cache[func, dtype]

    return get


def test_every_function_has_a_reference_and_a_bound():
    assert set(vecmath.FUNCTIONS) == set(REFERENCES) == set(vecmath.MAX_ULP)


@pytest.mark.parametrize("func,dtype", CASES, ids=[f"{f}-{np.dtype(d).name}" for f, d in CASES])
def test_accuracy_wide_range(kernels, func, dtype):
    x = sample_inputs(dtype)
    got = kernels(func, dtype)(x)
    err = ulp_error(got, reference(func, x))
    bound = vecmath.MAX_ULP[func][0 if dtype == np.float64 else 1]
    worst = int(np.argmax(err))
    assert err[worst] <= bound, (
        f"{func}({x[worst]!r}) = {got[worst]!r}, want {reference(func, x[[worst]])[0]!r}"
    )


SPECIALS = {
    "exp": [(1000.0, np.inf), (-1000.0, 0.0), (0.0, 1.0), (-0.0, 1.0), (np.inf, np.inf), (-np.inf, 0.0)],
    "log": [(0.0, -np.inf), (-0.0, -np.inf), (-1.0, np.nan), (np.inf, np.inf), (-np.inf, np.nan), (1.0, 0.0)],
    "log1p": [(-1.0, -np.inf), (-2.0, np.nan), (-0.0, -0.0), (np.inf, np.inf), (1e-30, 1e-30)],
    "expm1": [(-0.0, -0.0), (1e-30, 1e-30), (np.inf, np.inf), (-np.inf, -1.0), (1000.0, np.inf)],
    "tanh": [(-0.0, -0.0), (1000.0, 1.0), (-1000.0, -1.0), (np.inf, 1.0), (-np.inf, -1.0)],
    "sigmoid": [(1000.0, 1.0), (-1000.0, 0.0), (np.inf, 1.0), (-np.inf, 0.0), (0.0, 0.5)],
    "softplus": [(1000.0, 1000.0), (np.inf, np.inf), (-np.inf, 0.0), (-50.0, np.exp(-50.0))],
    "sin": [(-0.0, -0.0), (0.0, 0.0), (np.inf, np.nan), (-np.inf, np.nan)],
    "cos": [(0.0, 1.0), (-0.0, 1.0), (np.inf, np.nan), (-np.inf, np.nan)],
    "atan": [(-0.0, -0.0), (np.inf, np.pi / 2), (-np.inf, -np.pi / 2), (1e30, np.pi / 2), (1.0, np.pi / 4)],
    "asin": [(-0.0, -0.0), (1.0, np.pi / 2), (-1.0, -np.pi / 2), (1.5, np.nan), (np.inf, np.nan)],
    "acos": [(1.0, 0.0), (-1.0, np.pi), (0.0, np.pi / 2), (-1.5, np.nan), (-np.inf, np.nan)],
    "asinh": [(-0.0, -0.0), (np.inf, np.inf), (-np.inf, -np.inf), (1e30, np.arcsinh(1e30))],
    "acosh": [(1.0, 0.0), (0.5, np.nan), (-2.0, np.nan), (np.inf, np.inf), (-np.inf, np.nan)],
    "atanh": [(-0.0, -0.0), (1.0, np.inf), (-1.0, -np.inf), (1.5, np.nan), (np.inf, np.nan)],
    "erf": [(-0.0, -0.0), (np.inf, 1.0), (-np.inf, -1.0), (10.0, 1.0), (1e-300, 1.1283791670955126e-300)],
    "erfc": [(0.0, 1.0), (np.inf, 0.0), (-np.inf, 2.0), (30.0, 0.0), (-10.0, 2.0)],
}


@pytest.mark.parametrize("func,dtype", CASES, ids=[f"{f}-{np.dtype(d).name}" for f, d in CASES])
def test_special_values(kernels, func, dtype):
    cases = SPECIALS[func] + [(np.nan, np.nan)]
    x = np.array([c[0] for c in cases], dtype=dtype)
    want = np.array([c[1] for c in cases], dtype=dtype)
    got = kernels(func, dtype)(x)
    err = ulp_error(got, want)
    assert np.all(err <= 1), list(zip(x, got, want, strict=True))


def test_sin_cos_of_huge_arguments_are_exact(kernels):
    """Past the three-part reduction (huge_trig): every binary exponent, and the double closest to a
    multiple of pi/2 (its cosine is -4.7e-19), against 3000-bit arithmetic."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(2)
    x = np.ldexp(rng.uniform(1, 2, 1024), np.arange(1024)) * np.where(np.arange(1024) % 2, -1, 1)
    x = np.concatenate([x, [6381956970095103 * 2.0**797, vecmath.SINCOS_MAX_ABS, np.finfo(float).max]])
    with mpmath.workprec(3000):
        for func in ("sin", "cos"):
            exact = np.array([float(getattr(mpmath, func)(mpmath.mpf(float(v)))) for v in x])
            assert ulp_error(kernels(func, np.float64)(x), exact).max() <= vecmath.MAX_ULP[func][0]


def test_atan2_accuracy_and_quadrants():
    """atan2 against NumPy over pairs of wide-range values, and NumPy's answers for signed zeros, infinities
    and NaN in every quadrant."""
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e30])
    for dtype in DTYPES:
        atan2 = compile_binary("atan2", dtype)
        rng = np.random.default_rng(1)
        y, x = sample_inputs(dtype, n=60_000), sample_inputs(dtype, n=60_000, seed=1)
        x = rng.permutation(x)
        err = ulp_error(atan2(y, x), reference("atan2", y, x))
        worst = int(np.argmax(err))
        assert err[worst] <= vecmath.MAX_ULP["atan2"][0 if dtype == np.float64 else 1], (y[worst], x[worst])
        ys, xs = (a.astype(dtype).ravel() for a in np.meshgrid(specials, specials))
        with np.errstate(all="ignore"):
            want = np.arctan2(ys, xs)
        assert np.all(ulp_error(atan2(ys, xs), want) <= 1), list(
            zip(ys, xs, atan2(ys, xs), want, strict=True)
        )


def test_get_math_function_defines_once():
    from llvmlite import ir

    module = ir.Module()
    first = vecmath.get_math_function(module, "tanh", ir.DoubleType())
    assert vecmath.get_math_function(module, "tanh", ir.DoubleType()) is first
    assert "alwaysinline" in first.attributes
    with pytest.raises(KeyError, match="no 'gamma'"):
        vecmath.get_math_function(module, "gamma", ir.DoubleType())
    with pytest.raises(TypeError):
        vecmath.get_math_function(module, "exp", ir.IntType(32))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly check")
@pytest.mark.parametrize("func", ["exp", "log", "tanh", "sigmoid", "softplus", "sin", "erf", "atan", "asinh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_loop_is_vectorised(func, dtype):
    lib = jit.default_engine().compile(unary_kernel_ir(func, dtype), ["kernel"], name=f"vec_{func}")
    suffix = "pd" if dtype == np.float64 and func != "sin" else "p[sd]"
    # Packed multiply or FMA on xmm/ymm/zmm registers: the loop body runs on whole vectors.
    packed = re.findall(rf"\b(?:v?mul{suffix}|vfn?madd\d+{suffix})\s+%[xyz]mm", lib.asm)
    assert packed, f"no packed SIMD arithmetic in {func} loop:\n{lib.asm[:2000]}"
    assert "call" not in re.sub(r"^\s*#.*$", "", lib.asm, flags=re.M).split("kernel:")[-1]


def test_dump_ir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_DUMP_IR", str(tmp_path))
    settings.reload()
    jit.default_engine().compile(unary_kernel_ir("exp", np.float32), ["kernel"], name="dumped")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dumped.ll", "dumped.opt.ll", "dumped.s"]
    assert "alwaysinline" in (tmp_path / "dumped.ll").read_text()
