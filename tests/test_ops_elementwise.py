"""Forward parity of the elementwise ops (unary, binary, comparisons and logic, where, cast, user functions,
fused kernels) on every backend against NumPy, passes off and on; special values; broadcasting as a property.

Rows are tests/cases.py `Case`s: every row runs on every backend (the `backend` fixture) and must give NumPy's
dtype, shape and values (float32 within rtol 1e-5, float64 within 1e-12; the interpreter without passes must
equal NumPy bit for bit where the reference is the same NumPy function).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from cases import (
    F32,
    F64,
    I32,
    I64,
    A,
    B,
    C,
    Case,
    assert_matches,
    check_forward,
    ids,
    np_sigmoid,
    np_softmax,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.ops import Op

POS = {"low": 0.1, "high": 3.0}
CASES: list[Case] = []
UNARY = [
    ("neg", gc.neg, np.negative, {}),
    ("abs", gc.abs, np.abs, {}),
    ("sign", gc.sign, np.sign, {}),
    ("exp", gc.exp, np.exp, {}),
    ("log", gc.log, np.log, POS),
    ("log1p", gc.log1p, np.log1p, {"low": -0.9, "high": 3.0}),
    ("expm1", gc.expm1, np.expm1, {}),
    ("sqrt", gc.sqrt, np.sqrt, {"low": 0.0, "high": 4.0}),
    ("sin", gc.sin, np.sin, {}),
    ("cos", gc.cos, np.cos, {}),
    ("tanh", gc.tanh, np.tanh, {"low": -5.0, "high": 5.0}),
    ("relu", gc.relu, lambda x: np.maximum(x, 0), {}),
]
for _name, _gc, _np, _range in UNARY:
    CASES.append(C(f"{_name}_f64", _gc, _np, A((3, 4), F64, **_range)))
    CASES.append(C(f"{_name}_f32", _gc, _np, A((7,), F32, **_range)))
CASES += [
    C("sigmoid_f64", gc.sigmoid, np_sigmoid, A((3, 4), F64, -30, 30), exact=False),
    C("sigmoid_f32", gc.sigmoid, np_sigmoid, A((7,), F32, -15, 15), exact=False),
    C("softplus_f64", gc.softplus, lambda x: np.logaddexp(0, x), A((3, 4), F64, -30, 30), exact=False),
    C("softplus_f32", gc.softplus, lambda x: np.logaddexp(0, x), A((7,), F32, -15, 15), exact=False),
    C("softplus_large", gc.softplus, lambda x: np.logaddexp(0, x), A((5,), F64, 700, 800), exact=False),
    C("neg_int32", gc.neg, np.negative, A((5,), I32, -9, 9)),
    C("abs_int64", gc.abs, np.abs, A((5,), I64, -9, 9)),
    C("sign_int32", gc.sign, np.sign, A((2, 3), I32, -2, 2)),
    C("relu_int64", gc.relu, lambda x: np.maximum(x, 0), A((2, 3), I64, -5, 5)),
    C("exp_int32", gc.exp, np.exp, A((4,), I32, -3, 3)),  # int -> float64, as NumPy
    C("sqrt_int64", gc.sqrt, np.sqrt, A((4,), I64, 0, 9)),
    C("scalar_0d", lambda x: gc.exp(x) * 2.0 - x, lambda x: np.exp(x) * 2.0 - x, A((), F64)),
    C(
        "unary_methods",
        lambda x: x.exp() + x.tanh() - abs(-x),
        lambda x: np.exp(x) + np.tanh(x) - abs(-x),
        A((2, 3), F32),
    ),
]

BINARY = [
    ("add", lambda x, y: x + y),
    ("sub", lambda x, y: x - y),
    ("mul", lambda x, y: x * y),
    ("div", lambda x, y: x / y),
    ("maximum", lambda x, y: (gc if isinstance(x, gc.Variable) else np).maximum(x, y)),
    ("minimum", lambda x, y: (gc if isinstance(x, gc.Variable) else np).minimum(x, y)),
]
for _name, _fn in BINARY:
    CASES += [
        C(f"{_name}_f64", _fn, None, A((3, 4), F64, 0.5, 2), A((3, 4), F64, 0.5, 2)),
        C(f"{_name}_f32_bcast", _fn, None, A((3, 1), F32, 0.5, 2), A((1, 4), F32, 0.5, 2)),
        C(f"{_name}_rank_bcast", _fn, None, A((2, 3, 4), F64, 0.5, 2), A((4,), F64, 0.5, 2)),
        C(f"{_name}_int32_int64", _fn, None, A((3,), I32, 1, 9), A((3,), I64, 1, 9)),
        C(f"{_name}_int_float", _fn, None, A((2, 3), I32, 1, 9), A((3,), F32, 0.5, 2)),
    ]
CASES += [
    C("pow_f64", lambda x, y: x**y, None, A((3, 4), F64, 0.1, 3), A((3, 4), F64, -2, 2)),
    C("pow_f32_bcast", lambda x, y: x**y, None, A((3, 1), F32, 0.1, 3), A((4,), F32, -2, 2)),
    C("pow_int", lambda x, y: x**y, None, A((5,), I64, -3, 3), A((5,), I64, 0, 4)),
    C("pow_scalar_exponent", lambda x: x**2, None, A((5,), F32)),
    C("pow_scalar_base", lambda x: 2.0**x, None, A((5,), F32)),
    C("pow_half", lambda x: x**0.5, None, A((5,), F64, 0, 4)),
    C("div_int_int", lambda x, y: x / y, None, A((4,), I64, 1, 9), A((4,), I64, 1, 9)),  # -> float64
    C("scalar_right_f32", lambda x: x * 0.5 + 1.25 - x / 3.0, None, A((2, 3), F32)),
    C("scalar_left_f32", lambda x: 0.5 * x + (1.25 - x) + 3.0 / (x + 5.0), None, A((2, 3), F32)),
    C("scalar_int_on_float", lambda x: x * 2 + 1, None, A((4,), F32)),
    C("scalar_int_on_int32", lambda x: x * 3 - 7, None, A((4,), I32, -9, 9)),
    C("scalar_float_on_int", lambda x: x * 0.5, None, A((4,), I64, -9, 9)),
    C("scalar_bool_and", lambda x: x & True, None, A((4,), B)),
    C("zero_d_with_vector", lambda s, v: s * v + s, None, A((), F64), A((5,), F64)),
    C("ndarray_constant", lambda x: x * np.arange(4.0) + np.float32(1), None, A((3, 4), F32)),
    C("constant_int_array", lambda x: x + np.array([1, 2, 3], np.int32), None, A((2, 3), I32, -5, 5)),
    C("symbolic_bcast", lambda x, b: x * b + b, None, A((5, 4), decl=("n", 4)), A((4,))),
    C("symbolic_both", lambda x, y: x - y, None, A((5, 3), decl=("n", "m")), A((5, 3), decl=("n", "m"))),
]

COMPARE = [
    ("lt", lambda x, y: x < y),
    ("le", lambda x, y: x <= y),
    ("gt", lambda x, y: x > y),
    ("ge", lambda x, y: x >= y),
    ("eq", lambda x, y: gc.eq(x, y) if isinstance(x, gc.Variable) else np.equal(x, y)),
    ("ne", lambda x, y: gc.neq(x, y) if isinstance(x, gc.Variable) else np.not_equal(x, y)),
]
for _name, _fn in COMPARE:
    CASES += [
        C(f"{_name}_f64_ties", _fn, None, A((3, 4), F64, -2, 2, ties=True), A((4,), F64, -2, 2, ties=True)),
        C(f"{_name}_f32", _fn, None, A((3, 1), F32, ties=True), A((1, 4), F32, ties=True)),
        C(f"{_name}_int_mixed", _fn, None, A((6,), I32, -2, 2), A((6,), I64, -2, 2)),
        C(f"{_name}_scalar", lambda x, _fn=_fn: _fn(x, 1.0), None, A((6,), F32, ties=True)),
    ]
CASES += [
    C("eq_bool", lambda x, y: gc.eq(x, y), np.equal, A((6,), B), A((6,), B)),
    C("and", lambda x, y: x & y, None, A((3, 4), B), A((4,), B)),
    C("or", lambda x, y: x | y, None, A((3, 4), B), A((3, 1), B)),
    C("not", lambda x: ~x, None, A((5,), B)),
    C(
        "logical_mix",
        lambda x, y: gc.logical_or(gc.logical_and(x > 0, y < 0), gc.logical_not(x > y)),
        lambda x, y: ((x > 0) & (y < 0)) | ~(x > y),
        A((3, 4)),
        A((4,)),
    ),
    C("where", lambda c, x, y: gc.where(c, x, y), np.where, A((3, 4), B), A((3, 4)), A((3, 4))),
    C("where_bcast", lambda c, x, y: gc.where(c, x, y), np.where, A((3, 1), B), A((1, 4), F32), A((4,), F32)),
    C(
        "where_scalar_f32",
        lambda x: gc.where(x > 0, x, 0.0),
        lambda x: np.where(x > 0, x, np.float32(0)),
        A((5,), F32),
    ),
    C(
        "where_two_scalars",
        lambda x: gc.where(x > 0, 1.0, -1),
        lambda x: np.where(x > 0, 1.0, -1),
        A((2, 3), F32),
    ),
    C(
        "where_int",
        lambda c, x, y: gc.where(c, x, y),
        np.where,
        A((5,), B),
        A((5,), I32, -9, 9),
        A((5,), I64),
    ),
    C(
        "where_mixed",
        lambda c, x, y: gc.where(c, x, y),
        np.where,
        A((5,), B),
        A((5,), I32, -9, 9),
        A((5,), F32),
    ),
]

CASTS = [
    (F64, F32),
    (F32, F64),
    (F64, I32),
    (F32, I64),
    (I64, F32),
    (I32, I64),
    (I64, I32),
    (B, F32),
    (F64, B),
]
for _src, _dst in CASTS:
    CASES.append(
        C(
            f"cast_{_src}_{_dst}",
            lambda x, _d=_dst: gc.cast(x, _d),
            lambda x, _d=_dst: x.astype(_d),
            A((3, 4), _src, -9, 9),
        )
    )
CASES += [
    C(
        "astype_method",
        lambda x: x.astype("float32") * 2.0,
        lambda x: x.astype(F32) * 2.0,
        A((4,), I32, -9, 9),
    ),
    C("cast_same_dtype", lambda x: gc.cast(x, F32) + 1.0, lambda x: x + np.float32(1), A((4,), F32)),
]


# nan, inf, signed zeros and extremes: every backend must propagate them as NumPy does
SPECIAL = [
    ("exp", gc.exp, np.exp),
    ("log", gc.log, np.log),
    ("sqrt", gc.sqrt, np.sqrt),
    ("tanh", gc.tanh, np.tanh),
    ("sigmoid", gc.sigmoid, np_sigmoid),
    ("softplus", gc.softplus, lambda x: np.logaddexp(0, x)),
    ("relu", gc.relu, lambda x: np.maximum(x, 0)),
    ("sign_abs", lambda x: gc.sign(x) * abs(x), lambda x: np.sign(x) * np.abs(x)),
    ("div", lambda x: 1.0 / x, lambda x: 1.0 / x),
    ("max", lambda x: x.max(axis=1), lambda x: x.max(axis=1)),
    ("min_all", lambda x: x.min(), lambda x: x.min()),
    ("sum", lambda x: x.sum(axis=0), lambda x: x.sum(axis=0)),
    ("argmax", lambda x: gc.argmax(x, 1), lambda x: np.argmax(x, 1)),
    ("maximum", lambda x: gc.maximum(x, 0.5), lambda x: np.maximum(x, 0.5)),
    ("compare", lambda x: gc.logical_or(x < 0.5, gc.eq(x, x)), lambda x: (x < 0.5) | (x == x)),
    ("where", lambda x: gc.where(x > 0, x, -x), lambda x: np.where(x > 0, x, -x)),
    ("softmax", gc.softmax, np_softmax),
]
for _name, _gc, _np in SPECIAL:
    CASES.append(C(f"special_{_name}_f64", _gc, _np, A((3, 4), F64, special=True), exact=False))
    CASES.append(C(f"special_{_name}_f32", _gc, _np, A((2, 5), F32, special=True), exact=False))


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    check_forward(case, backend, optimize, rng)


# -- broadcasting, property-based: NumPy-compatible shape pairs, declared static or with named sizes ---------
BROADCAST_OPS = [
    (gc.add, np.add),
    (gc.mul, np.multiply),
    (gc.maximum, np.maximum),
    (gc.lt, np.less),
    (lambda a, b: gc.where(a > b, a, b * 2.0), lambda a, b: np.where(a > b, a, b * 2.0)),
]


@st.composite
def broadcastable(draw):
    """Two shapes that broadcast, and whether each non-1 dimension is declared by name."""
    ndim = draw(st.integers(0, 3))
    full = draw(st.lists(st.integers(2, 4), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        rank = draw(st.integers(0, ndim))
        shapes.append(tuple(draw(st.sampled_from([d, 1])) for d in full[ndim - rank :]))
    named = draw(st.booleans())
    return shapes, named


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=broadcastable(), op=st.integers(0, len(BROADCAST_OPS) - 1), dtype=st.sampled_from([F32, F64]))
def test_broadcasting_property(case, op: int, dtype: str, backend: str) -> None:
    (sa, sb), named = case
    build, ref = BROADCAST_OPS[op]
    names = {}  # the same size gets the same name in both inputs, aligned from the right

    def decl(shape):
        if not named:
            return shape
        ndim = len(shape)
        return tuple(
            d if d == 1 else names.setdefault((ndim - i, d), f"d{ndim - i}") for i, d in enumerate(shape)
        )

    a, b = gc.tensor("a", decl(sa), dtype), gc.tensor("b", decl(sb), dtype)
    f = gc.function([a, b], build(a, b), backend=backend)
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    xa, xb = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    assert_matches(np.asarray(f(xa, xb)), np.asarray(ref(xa, xb)))


# -- the two ops CASES leaves out: user elementwise functions (SCALAR_FN) and hand-built kernels (FUSED) -----
SWISH = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
BLEND = gc.elementwise("blend", lambda a, b: a * sympy.tanh(b) + sympy.Max(a, b) ** 2)


@pytest.mark.parametrize("optimize", ["none", "fast"])
def test_scalar_fn_parity(backend: str, optimize: str, rng: np.random.Generator) -> None:
    x = gc.tensor("x", ("n", 3), "float32")
    y = gc.tensor("y", (3,), "float64")
    i = gc.tensor("i", (3,), "int32")
    outputs = [SWISH(x), BLEND(x, y), SWISH(i), SWISH(x) * 2.0 + 1.0]
    assert [o.dtype.name for o in outputs] == ["float32", "float64", "float64", "float32"]
    f = gc.function([x, y, i], outputs, backend=backend, optimize=optimize)
    X = rng.uniform(-3, 3, (4, 3)).astype(np.float32)
    Y, K = rng.uniform(-3, 3, 3), np.array([-2, 0, 3], np.int32)

    def swish(v):
        return v / (1 + np.exp(-v))

    expected = [
        swish(X),
        X * np.tanh(Y) + np.maximum(X, Y) ** 2,
        swish(K.astype(np.float64)),
        swish(X) * 2 + 1,
    ]
    expected[0], expected[3] = expected[0].astype(np.float32), expected[3].astype(np.float32)
    for got, want in zip(f(X, Y, K), expected, strict=True):
        assert_matches(got, want)


def test_fused_kernel_parity(backend: str, rng: np.random.Generator) -> None:
    """A FUSED node built by hand (no passes): broadcasting inputs, a constant, two outputs, one reduced."""
    from graphc.graph import apply
    from graphc.kernel import Instr, Kernel

    x = gc.tensor("x", ("n", 3), "float64")
    b = gc.tensor("b", (3,), "float64")
    kernel = Kernel(
        input_dtypes=("float64", "float64"),
        instrs=(
            Instr(Op.ADD, (0, 1), (), "float64"),  # v2 = x + b
            Instr(None, (), (("value", 0.5),), "float64"),  # v3 = 0.5
            Instr(Op.MUL, (2, 3), (), "float64"),  # v4 = v2 * 0.5
            Instr(Op.TANH, (4,), (), "float64"),  # v5 = tanh(v4)
            Instr(Op.EXP, (1,), (), "float64"),  # v6 = exp(b): only b's shape, broadcast to (n, 3)
        ),
        outputs=(5, 6, 5),
        reductions=(None, None, (Op.SUM, (0,), False)),
    )
    outs = apply(Op.FUSED, (x, b), kernel=kernel)
    f = gc.function([x, b], list(outs), backend=backend, optimize="none")
    X, B = rng.standard_normal((4, 3)), rng.standard_normal(3)
    t = np.tanh((X + B) * 0.5)
    expected = [t, np.broadcast_to(np.exp(B), (4, 3)), t.sum(axis=0)]
    for got, want, ref in zip(f(X, B), expected, kernel.evaluate((X, B)), strict=True):
        assert_matches(got, want)
        assert_matches(got, ref)
