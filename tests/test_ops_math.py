"""Forward parity of the rounding, integer, bitwise and special-function ops and of the creation and
rearrangement builders (arange, linspace, eye, tril/triu, flip, roll, repeat, tile, split, pad) on every
backend against NumPy/SciPy, passes off and on (tests/cases.py rows); NumPy's edge cases of // and %; the
docstring examples of the new modules.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.special
import sympy
from cases import F32, F64, I32, I64, A, B, C, Case, check_forward, ids

import graphc as gc
from graphc.errors import DomainError

CASES: list[Case] = []

# -- rounding and integer math ------------------------------------------------------------------------------
CASES += [
    C("floor_f64", gc.floor, np.floor, A((3, 4), special=True)),
    C("ceil_f32", gc.ceil, np.ceil, A((7,), F32, -9, 9)),
    C("trunc_f64", gc.trunc, np.trunc, A((3, 4), special=True)),
    C(
        "round_halves",
        lambda x: gc.round(x / 2),
        lambda x: np.round(x / 2),
        A((3, 4), ties=True, low=-9, high=9),
    ),
    C("round_f32", gc.round, np.round, A((7,), F32, -5, 5)),
    C("round_decimals", lambda x: gc.round(x, 2), lambda x: np.round(x, 2), A((3, 4), low=-9, high=9)),
    C("round_negative_decimals", lambda x: gc.round(x, -1), lambda x: np.round(x, -1), A((5,), F32, -99, 99)),
    C(
        "floor_int_unchanged",
        lambda x: gc.floor(x) + gc.round(x),
        lambda x: np.floor(x) + np.round(x),
        A((4,), I32),
    ),
    C("copysign", gc.copysign, np.copysign, A((3, 4), special=True), A((4,), away=0.1)),
    C("copysign_int_f32", gc.copysign, np.copysign, A((4,), I32, -5, 5), A((4,), F32)),
    C("floordiv_f64", lambda x, y: x // y, None, A((3, 4), low=-9, high=9), A((4,), away=0.3)),
    C("mod_f32", lambda x, y: x % y, None, A((3, 4), F32, -9, 9), A((3, 1), F32, away=0.3)),
    C("floordiv_special", lambda x, y: x // y, None, A((3, 4), special=True), A((3, 4), away=0.5)),
    C("mod_special", lambda x, y: x % y, None, A((3, 4), special=True), A((3, 4), away=0.5)),
    C("floordiv_scalar", lambda x: 7.0 // x, None, A((5,), away=0.5)),
    C("floordiv_i64", lambda x, y: x // (y + (y >= 0)), None, A((3, 4), I64, -20, 20), A((4,), I64, -5, 5)),
    C("mod_i32", lambda x, y: x % (y + (y >= 0)), None, A((3, 4), I32, -20, 20), A((3, 4), I32, -5, 5)),
    C("mod_int_scalar", lambda x: x % 3, None, A((6,), I64, -9, 9)),
    C("mod_int_by_float", lambda x, y: gc.mod(x, y), np.mod, A((4,), I32, -9, 9), A((4,), away=0.5)),
]

# -- bitwise ----------------------------------------------------------------------------------------------
CASES += [
    C("and_int", lambda x, y: x & y, None, A((3, 4), I64, -99, 99), A((4,), I64, -99, 99)),
    C("or_int32", lambda x, y: x | y, None, A((3, 4), I32, -99, 99), A((3, 4), I32, -99, 99)),
    C("xor_int", lambda x, y: x ^ y, None, A((3, 4), I64, -99, 99), A((3, 1), I64, -99, 99)),
    C("xor_bool", lambda x, y: x ^ y, None, A((3, 4), B), A((4,), B)),
    C("invert_int", lambda x: ~x, None, A((5,), I32, -99, 99)),
    C("and_bool_int", lambda x, y: x & y, None, A((4,), B), A((4,), I32, 0, 9)),
    C("scalar_and_int", lambda x: 6 & x, None, A((4,), I64, 0, 9)),
    C("lshift", lambda x, y: x << y, None, A((3, 4), I64, -9, 9), A((4,), I64, 0, 70)),
    C("rshift", lambda x, y: x >> y, None, A((3, 4), I64, -999, 999), A((3, 4), I64, 0, 70)),
    C("shift_int32", lambda x, y: (x << y) >> 2, None, A((6,), I32, -9, 9), A((6,), I32, 0, 40)),
    C("logical_xor", gc.logical_xor, np.logical_xor, A((5,), I32, -2, 2), A((5,), B)),
    C("logical_and_numbers", gc.logical_and, np.logical_and, A((5,), F64, ties=True), A((5,), I32, -1, 1)),
]

# -- special functions ------------------------------------------------------------------------------------
UNIT = {"low": -0.999, "high": 0.999}
SPECIAL_FUNCTIONS = [
    ("erf", gc.erf, scipy.special.erf, {"low": -4.0, "high": 4.0}),
    ("erfc", gc.erfc, scipy.special.erfc, {"low": -3.0, "high": 9.0}),
    ("arcsin", gc.arcsin, np.arcsin, UNIT),
    ("arccos", gc.arccos, np.arccos, UNIT),
    ("arctan", gc.arctan, np.arctan, {"low": -50.0, "high": 50.0}),
    ("arcsinh", gc.arcsinh, np.arcsinh, {"low": -50.0, "high": 50.0}),
    ("arccosh", gc.arccosh, np.arccosh, {"low": 1.0, "high": 50.0}),
    ("arctanh", gc.arctanh, np.arctanh, UNIT),
]
for _name, _gc, _np, _range in SPECIAL_FUNCTIONS:
    CASES.append(C(f"{_name}_f64", _gc, _np, A((3, 4), **_range), exact=False))
    CASES.append(C(f"{_name}_f32", _gc, _np, A((7,), F32, **_range), exact=False))
    CASES.append(C(f"{_name}_special", _gc, _np, A((2, 5), special=True), exact=False))
CASES += [
    C("arctan2", gc.arctan2, np.arctan2, A((3, 4), special=True), A((4,)), exact=False),
    C("arctan2_f32_int", gc.arctan2, np.arctan2, A((3, 4), F32), A((3, 4), I32, -2, 2), exact=False),
    C("erf_of_int", gc.erf, scipy.special.erf, A((4,), I64, -3, 3), exact=False),
    C(
        "gelu_like_fused",
        lambda x: 0.5 * x * (1 + gc.erf(x / np.sqrt(2))),
        lambda x: 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2))),
        A((3, 4), F32),
        exact=False,
    ),
]

# -- creation ---------------------------------------------------------------------------------------------
CASES += [
    C("arange", lambda x: gc.arange(5) + x, lambda x: np.arange(5) + x, A((5,), I64)),
    C("arange_step", lambda x: gc.arange(2, 11, 3) * x, lambda x: np.arange(2, 11, 3) * x, A((3,))),
    C(
        "arange_float32",
        lambda x: gc.arange(0.0, 1.0, 0.1, dtype="float32") + x,
        lambda x: np.arange(0.0, 1.0, 0.1, dtype="float32") + x,
        A((10,), F32),
    ),
    C(
        "arange_down",
        lambda x: gc.arange(1.5, -2.0, -0.25) + x,
        lambda x: np.arange(1.5, -2, -0.25) + x,
        A(()),
    ),
    C(
        "arange_named",
        lambda x: gc.arange(x.shape[0]) * x,
        lambda x: np.arange(x.shape[0]) * x,
        A((5,), decl=("n",)),
    ),
    C(
        "arange_named_step",
        lambda x: gc.arange(1, x.shape[0], 2) + x[:1],
        lambda x: np.arange(1, x.shape[0], 2) + x[:1],
        A((6,), I64, decl=("n",)),
    ),
    C("linspace", lambda x: gc.linspace(-1.0, 2.0, 7) * x, lambda x: np.linspace(-1, 2, 7) * x, A((7,))),
    C(
        "linspace_graph",
        lambda a, b: gc.linspace(a, b, 4, endpoint=False),
        lambda a, b: np.linspace(a, b, 4, endpoint=False),
        A((3,)),
        A((3,)),
    ),
    C("eye", lambda x: gc.eye(3, 4, k=1) * x, lambda x: np.eye(3, 4, k=1) * x, A((3, 4))),
    C(
        "eye_named",
        lambda x: gc.eye(x.shape[0], dtype="int32") + x,
        lambda x: np.eye(len(x), dtype="int32") + x,
        A((4, 4), I32, decl=("n", "n")),
    ),
]

# -- rearranging ------------------------------------------------------------------------------------------
REARRANGE = [
    ("tril", lambda x: gc.tril(x), np.tril, A((4, 5))),
    ("triu_k", lambda x: gc.triu(x, 1), lambda x: np.triu(x, 1), A((2, 4, 3), I32)),
    ("tril_named", lambda x: gc.tril(x, -1), lambda x: np.tril(x, -1), A((5, 5), decl=("n", "n"))),
    ("flip_all", lambda x: gc.flip(x), np.flip, A((3, 4))),
    ("flip_axis", lambda x: gc.flip(x, -1), lambda x: np.flip(x, -1), A((2, 3, 4), B)),
    ("roll_flat", lambda x: gc.roll(x, 5), lambda x: np.roll(x, 5), A((3, 4))),
    ("roll_axes", lambda x: gc.roll(x, (1, -2), (0, 1)), lambda x: np.roll(x, (1, -2), (0, 1)), A((3, 4))),
    ("roll_named", lambda x: gc.roll(x, 2, 0), lambda x: np.roll(x, 2, 0), A((5, 2), decl=("n", 2))),
    ("repeat", lambda x: gc.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, axis=1), A((3, 4))),
    ("repeat_flat", lambda x: gc.repeat(x, 3), lambda x: np.repeat(x, 3), A((2, 2), I64)),
    ("repeat_counts", lambda x: gc.repeat(x, [1, 0, 2], 0), lambda x: np.repeat(x, [1, 0, 2], 0), A((3, 2))),
    ("tile", lambda x: gc.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), A((2, 3))),
    ("split", lambda x: gc.split(x, 2, axis=1)[1], lambda x: np.split(x, 2, axis=1)[1], A((3, 4))),
    ("split_at", lambda x: gc.split(x, [1, 3])[1], lambda x: np.split(x, [1, 3])[1], A((5, 2))),
    ("array_split", lambda x: gc.array_split(x, 3)[0], lambda x: np.array_split(x, 3)[0], A((7,))),
    ("pad_constant", lambda x: gc.pad(x, ((1, 2), (0, 3)), constant_values=7.0),
     lambda x: np.pad(x, ((1, 2), (0, 3)), constant_values=7.0), A((2, 3))),
    ("pad_constant_pairs", lambda x: gc.pad(x, 1, constant_values=((1, 2), (3, 4))),
     lambda x: np.pad(x, 1, constant_values=((1, 2), (3, 4))), A((2, 3), I32)),
    ("pad_edge", lambda x: gc.pad(x, (2, 1), mode="edge"), lambda x: np.pad(x, (2, 1), mode="edge"),
     A((2, 3))),
    ("pad_reflect_wide", lambda x: gc.pad(x, (5, 7), mode="reflect"),
     lambda x: np.pad(x, (5, 7), mode="reflect"), A((3,))),
    ("pad_symmetric", lambda x: gc.pad(x, ((1, 3), (2, 2)), mode="symmetric"),
     lambda x: np.pad(x, ((1, 3), (2, 2)), mode="symmetric"), A((2, 3))),
    ("pad_wrap_3d", lambda x: gc.pad(x, ((0, 1), (2, 0), (1, 4)), mode="wrap"),
     lambda x: np.pad(x, ((0, 1), (2, 0), (1, 4)), mode="wrap"), A((2, 3, 2), F32)),
    ("pad_named", lambda x: gc.pad(x, ((2, 1), (1, 1)), mode="reflect"),
     lambda x: np.pad(x, ((2, 1), (1, 1)), mode="reflect"), A((5, 3), decl=("n", 3))),
    ("pad_named_edge", lambda x: gc.pad(x, 2, mode="edge"), lambda x: np.pad(x, 2, mode="edge"),
     A((4,), decl=("n",))),
    ("pad_0d_axes", lambda x: gc.pad(x, 0), lambda x: np.pad(x, 0), A(())),
]  # fmt: skip
CASES += [C(name, build, ref, arg) for name, build, ref, arg in REARRANGE]


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


def test_floor_division_edge_cases_match_numpy(backend: str) -> None:
    """Signed zeros, infinities, NaN, division by ±0.0 and the quotient snap of npy_divmod, bit for bit;
    INT_MIN // -1 wraps, as NumPy."""
    values = [-7.5, -1.0, -0.0, 0.0, 0.1, 1.0, 3.0, np.inf, -np.inf, np.nan, 1e300, -5e-324]
    a, b = (np.array(v) for v in zip(*[(p, q) for p in values for q in values], strict=True))
    x, y = gc.vector("x"), gc.vector("y")
    quotient, remainder = gc.function([x, y], [x // y, x % y], backend=backend)(a, b)
    with np.errstate(all="ignore"):
        want_q, want_r = a // b, a % b
    for got, want in ((quotient, want_q), (remainder, want_r)):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    i, j = gc.vector("i", dtype="int64"), gc.vector("j", dtype="int64")
    ints = np.array([-(2**63), 2**63 - 1, -7, 7, 0])
    f = gc.function([i, j], [i // j, i % j], backend=backend)
    with np.errstate(all="ignore"):
        for divisor in (-1, 1, 3, -3):
            got = f(ints, np.full(5, divisor))
            np.testing.assert_array_equal(got[0], ints // divisor)
            np.testing.assert_array_equal(got[1], ints % divisor)


@pytest.mark.parametrize("optimize", ["none", "fast"])
def test_integer_division_by_zero_is_a_domain_error(backend: str, optimize: str) -> None:
    """NumPy gives 0 and a warning; graphc refuses, on every backend, fused or not, a constant divisor too,
    naming both operands, the position of the zero in the divisor and the user's line. Natively the divisor
    is guarded as well: x86's idiv would stop the process (SIGFPE). Floats divide by 0 as NumPy does."""
    x, y = gc.matrix("x", ("n", 3), dtype="int64"), gc.vector("y", 3, dtype="int64")
    out = (x + 1) // y * 2 + x % (y - 1)
    line = sys._getframe().f_lineno - 1
    f = gc.function([x, y], out, backend=backend, optimize=optimize)
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(f(a, np.array([2, 3, 4])), (a + 1) // [2, 3, 4] * 2 + a % [1, 2, 3])
    for divisor, position in ((np.array([2, 0, 4]), 1), (np.array([1, 3, 4]), 0)):  # y - 1 is 0 at 0
        with pytest.raises(DomainError, match="integer division by zero") as info:
            f(a, divisor)
        assert "y (int64 (3,))" in str(info.value) or "an unnamed value" in str(info.value)
        assert info.value.position == position and f"{__file__}:{line}" in str(info.value)
    assert f(np.zeros((0, 3), np.int64), np.array([0, 0, 0])).shape == (0, 3)  # nothing computed: fine
    for dtype in ("int32", "int64"):
        i = gc.vector("i", dtype=dtype)
        with pytest.raises(DomainError, match="integer division by zero"):
            gc.function([i], i % 0, backend=backend, optimize=optimize)(np.array([7, -7], dtype))
    floats = gc.function([x], gc.cast(x, "float64") // 0.0, backend=backend)(a)
    np.testing.assert_array_equal(floats, np.where(a == 0, np.nan, np.inf))


def test_sympy_special_functions_in_user_elementwise(backend: str) -> None:
    """gc.elementwise with erf, erfc, atan2, asinh, ... runs on every backend (lambdify's math.erf fallback
    fails on arrays; llvm lowers them natively)."""
    fn = gc.elementwise(
        "special", lambda x, y: sympy.erf(x) + sympy.erfc(y) * sympy.atan2(x, y) + sympy.asinh(x)
    )
    x, y = gc.vector("x"), gc.vector("y")
    a, b = np.array([-1.0, 0.5, 2.0]), np.array([0.3, -2.0, 1.0])
    got = gc.function([x, y], fn(x, y), backend=backend)(a, b)
    want = scipy.special.erf(a) + scipy.special.erfc(b) * np.arctan2(a, b) + np.arcsinh(a)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    (g,) = gc.grad(fn(x, y).sum(), [x])  # sympy's derivative of erf: 2 exp(-x^2)/sqrt(pi) + ...
    assert np.all(np.isfinite(gc.function([x, y], g, backend=backend)(a, b)))


def test_pad_refuses_clearly() -> None:
    x = gc.vector("x", 3)
    with pytest.raises(gc.InputError, match="mode must be one of"):
        gc.pad(x, 1, mode="mean")
    with pytest.raises(gc.InputError, match="non-negative"):
        gc.pad(x, -1)
    with pytest.raises(gc.InputError, match="does not fit the 1 axes"):
        gc.pad(x, ((1, 2), (3, 4)))
    with pytest.raises(gc.ShapeError, match="empty axis"):
        gc.pad(gc.vector("e", 0), 1, mode="wrap")


def test_bitwise_ops_refuse_floats_and_split_refuses_uneven() -> None:
    with pytest.raises(gc.DTypeError, match="xor takes bool or integer inputs"):
        gc.vector("x") ^ gc.vector("y")
    with pytest.raises(gc.DTypeError, match="left_shift"):
        gc.vector("b", dtype="bool") << gc.vector("b", dtype="bool")  # int8 in NumPy
    with pytest.raises(gc.ShapeError, match="array_split allows uneven"):
        gc.split(gc.vector("x", 5), 2)
