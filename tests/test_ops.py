"""Forward parity of every op on every backend against plain NumPy. Owns the CASES table; knows no backend.

Each row of CASES builds a small graph with graphc and computes the same thing with NumPy. Every row runs
on every backend (the `backend` fixture) with the passes off and on, and must give NumPy's dtype, shape and
values (float32 within rtol 1e-5, float64 within 1e-12; the interpreter without passes must equal NumPy bit
for bit where the reference is the same NumPy function). A coverage test checks the rows exercise every Op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.graph import toposort
from graphc.ops import Op

# Ops with dedicated tests elsewhere: FUSED is built only by the fusion pass, SCALAR_FN by gc.elementwise.
NOT_IN_CASES = {Op.FUSED, Op.SCALAR_FN}


@dataclass(frozen=True)
class Arg:
    """One input: its concrete shape, its declared shape (names allowed), dtype and value range."""

    shape: tuple
    dtype: str = "float64"
    low: float = -2.0
    high: float = 2.0
    decl: tuple | None = None  # declared shape with named sizes, e.g. ("n", 4); default: `shape`
    ties: bool = False  # draw small integers (as floats) so comparisons and max see equal values
    special: bool = False  # the first entries are nan, inf, -inf, 0.0, -0.0, a huge and a tiny value

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.dtype == "bool":
            return rng.random(self.shape) < 0.5
        if np.dtype(self.dtype).kind == "i" or self.ties:
            return rng.integers(int(self.low), int(self.high) + 1, size=self.shape).astype(self.dtype)
        values = rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)
        if self.special:
            info = np.finfo(self.dtype)
            extremes = [np.nan, np.inf, -np.inf, 0.0, -0.0, info.max / 2, info.tiny]
            values.reshape(-1)[: len(extremes)] = extremes
        return values


def A(shape=(3, 4), dtype="float64", low=-2.0, high=2.0, decl=None, ties=False, special=False) -> Arg:
    return Arg(tuple(shape), dtype, low, high, None if decl is None else tuple(decl), ties, special)


F32, F64, I32, I64, B = "float32", "float64", "int32", "int64", "bool"
POS = {"low": 0.1, "high": 3.0}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable  # graphc Variables -> Variable
    ref: Callable | None  # NumPy arrays -> array; None: `build` works on arrays too (operators)
    args: tuple[Arg, ...]
    exact: bool = True  # the interpreter equals NumPy bit for bit (same NumPy function underneath)


def C(name, build, ref, *args, exact=True) -> Case:
    return Case(name, build, ref, tuple(args), exact)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_logsumexp(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


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
CASES: list[Case] = []
for _name, _gc, _np, _range in UNARY:
    CASES.append(C(f"{_name}_f64", _gc, _np, A((3, 4), F64, **_range)))
    CASES.append(C(f"{_name}_f32", _gc, _np, A((7,), F32, **_range)))
CASES += [
    C("sigmoid_f64", gc.sigmoid, _np_sigmoid, A((3, 4), F64, -30, 30), exact=False),
    C("sigmoid_f32", gc.sigmoid, _np_sigmoid, A((7,), F32, -15, 15), exact=False),
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


def _red(name, axis=None, keepdims=False):
    gc_fn = getattr(gc, name)
    np_fn = getattr(np, name)
    return (lambda x: gc_fn(x, axis=axis, keepdims=keepdims)), (
        lambda x: np_fn(x, axis=axis, keepdims=keepdims)
    )


for _name in ("sum", "mean", "max", "min", "prod"):
    for _axis, _keep in [
        (None, False),
        (0, False),
        (-1, True),
        ((0, 2), False),
        ((0, 2), True),
        (None, True),
    ]:
        _b, _r = _red(_name, _axis, _keep)
        _label = "all" if _axis is None else str(_axis).replace(" ", "")
        CASES.append(
            C(
                f"{_name}_{_label}_keep{int(_keep)}",
                _b,
                _r,
                A((2, 3, 4), F64, 0.5, 1.5),
                exact=_name != "mean",
            )
        )
    for _dtype in (F32, I32, I64):
        _b, _r = _red(_name, 1)
        CASES.append(C(f"{_name}_{_dtype}", _b, _r, A((3, 4), _dtype, -3, 3), exact=_name != "mean"))
    _b, _r = _red(_name, 0)
    CASES.append(C(f"{_name}_symbolic", _b, _r, A((5, 3), decl=("n", 3)), exact=_name != "mean"))
CASES += [
    C("sum_bool", lambda x: gc.sum(x), np.sum, A((3, 4), B)),
    C("sum_0d", lambda x: x.sum(), np.sum, A((), F64)),
    C("sum_method_axes", lambda x: x.sum(axis=(1, 0)), lambda x: x.sum(axis=(1, 0)), A((3, 4))),
    C(
        "mean_of_square",
        lambda x: (x * x).mean(axis=-1),
        lambda x: (x * x).mean(axis=-1),
        A((3, 4), F32),
        exact=False,
    ),
    C("max_int_keep", lambda x: x.max(axis=0, keepdims=True), None, A((3, 4), I64, -9, 9)),
    C("argmax_all", lambda x: gc.argmax(x), np.argmax, A((3, 4))),
    C(
        "argmax_all_keep",
        lambda x: gc.argmax(x, keepdims=True),
        lambda x: np.argmax(x, keepdims=True),
        A((3, 4)),
    ),
    C("mean_bool_neg_axes", lambda x: x.mean(axis=(-1, 0)), lambda x: x.mean(axis=(-1, 0)), A((2, 3, 4), B)),
    C("argmax_0", lambda x: gc.argmax(x, axis=0), lambda x: np.argmax(x, axis=0), A((3, 4), F32)),
    C(
        "argmax_last_keep",
        lambda x: gc.argmax(x, -1, keepdims=True),
        lambda x: np.argmax(x, -1, keepdims=True),
        A((2, 3, 4)),
    ),
    C("argmax_int", lambda x: x.argmax(axis=1), lambda x: x.argmax(axis=1), A((3, 4), I32, -9, 9)),
    C("argmax_ties", lambda x: gc.argmax(x, 1), lambda x: np.argmax(x, 1), A((4, 5), F64, 0, 2, ties=True)),
    C("argmax_symbolic", lambda x: gc.argmax(x, 1), lambda x: np.argmax(x, 1), A((6, 3), decl=("n", 3))),
]

CASES += [
    C("matmul_mm", lambda a, b: a @ b, None, A((3, 4)), A((4, 5))),
    C("matmul_mm_f32", lambda a, b: a @ b, None, A((3, 4), F32), A((4, 5), F32)),
    C("matmul_vm", lambda a, b: a @ b, None, A((4,)), A((4, 5))),
    C("matmul_mv", lambda a, b: a @ b, None, A((3, 4)), A((4,))),
    C("matmul_vv", lambda a, b: a @ b, None, A((4,)), A((4,))),
    C("matmul_batch_m", lambda a, b: a @ b, None, A((2, 3, 4)), A((4, 5))),
    C("matmul_batch_batch", lambda a, b: a @ b, None, A((2, 3, 4), F32), A((2, 4, 5), F32)),
    C("matmul_batch_bcast", lambda a, b: a @ b, None, A((2, 1, 3, 4)), A((3, 4, 2))),
    C("matmul_batch_v", lambda a, b: a @ b, None, A((2, 3, 4)), A((4,))),
    C("matmul_int", lambda a, b: a @ b, None, A((3, 4), I64, -5, 5), A((4, 2), I64, -5, 5)),
    C("matmul_mixed", lambda a, b: a @ b, None, A((3, 4), I32, -5, 5), A((4, 2), F32)),
    C("matmul_symbolic", lambda a, b: a @ b, None, A((6, 4), F32, decl=("n", 4)), A((4, 3), F32)),
    C("matmul_symbolic_inner", lambda a, b: a @ b, None, A((2, 5), decl=(2, "k")), A((5, 3), decl=("k", 3))),
    C("dot_vv", gc.dot, np.dot, A((4,)), A((4,))),
    C("dot_mv", gc.dot, np.dot, A((3, 4)), A((4,))),
    C("dot_mm", gc.dot, np.dot, A((3, 4), F32), A((4, 2), F32)),
    C("dot_scalar", gc.dot, np.dot, A(()), A((4,))),
    C(
        "linear_layer",
        lambda x, W, b: gc.tanh(x @ W + b),
        lambda x, W, b: np.tanh(x @ W + b),
        A((5, 4), F32, decl=("n", 4)),
        A((4, 3), F32),
        A((3,), F32),
    ),
]

CASES += [
    C("transpose_T", lambda x: x.T, None, A((3, 4))),
    C(
        "transpose_perm",
        lambda x: gc.transpose(x, (1, 0, 2)),
        lambda x: np.transpose(x, (1, 0, 2)),
        A((2, 3, 4)),
    ),
    C(
        "transpose_neg_axes",
        lambda x: gc.transpose(x, (-1, 0, 1)),
        lambda x: np.transpose(x, (-1, 0, 1)),
        A((2, 3, 4)),
    ),
    C("transpose_then_add", lambda x, y: x.T + y, None, A((3, 4), I32, -5, 5), A((4, 3), I32, -5, 5)),
    C("transpose_symbolic", lambda x: x.T * 2.0, None, A((5, 3), F32, decl=("n", 3))),
    C("reshape", lambda x: x.reshape(4, 3), None, A((3, 4))),
    C("reshape_minus1", lambda x: x.reshape(2, -1), None, A((3, 4), I64, -5, 5)),
    C(
        "reshape_minus1_first",
        lambda x: gc.reshape(x, (-1, 2, 2)),
        lambda x: x.reshape(-1, 2, 2),
        A((2, 3, 4)),
    ),
    C("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), A((2, 3, 4), F32)),
    C(
        "reshape_symbolic_flat",
        lambda x: gc.reshape(x, (-1,)),
        lambda x: x.reshape(-1),
        A((5, 3), decl=("n", 3)),
    ),
    C(
        "reshape_symbolic_split",
        lambda x: gc.reshape(x, ("n", 2, 3)),
        lambda x: x.reshape(x.shape[0], 2, 3),
        A((5, 6), decl=("n", 6)),
    ),
    C(
        "reshape_symbolic_merge",
        lambda x: gc.reshape(x, (-1, 3)),
        lambda x: x.reshape(-1, 3),
        A((5, 2, 3), decl=("n", 2, 3)),
    ),
    C(
        "reshape_symbolic_expr",
        lambda x: gc.reshape(x, (-1,)) * 2.0,
        lambda x: x.reshape(-1) * 2.0,
        A((4, 5), decl=("n", "m")),
    ),
    C("expand_dims", lambda x: gc.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), A((3, 4))),
    C("expand_dims_neg", lambda x: gc.expand_dims(x, -1), lambda x: np.expand_dims(x, -1), A((3, 4), F32)),
    C("squeeze", lambda x: gc.squeeze(x), np.squeeze, A((3, 1, 4, 1))),
    C("squeeze_axis", lambda x: gc.squeeze(x, axis=1), lambda x: np.squeeze(x, axis=1), A((3, 1, 4, 1), B)),
    C(
        "broadcast_to",
        lambda x: gc.broadcast_to(x, (2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        A((3, 1)),
    ),
    C(
        "broadcast_to_then_op",
        lambda x: gc.broadcast_to(x, (3, 4)) * 2,
        lambda x: np.broadcast_to(x, (3, 4)) * 2,
        A((4,), I32, -5, 5),
    ),
    C(
        "broadcast_to_symbolic",
        lambda x, b: gc.broadcast_to(b, x.shape) + x,
        lambda x, b: np.broadcast_to(b, x.shape) + x,
        A((5, 4), decl=("n", 4)),
        A((1, 4)),
    ),
]

INDEXES = {
    "int": 1,
    "neg_int": -1,
    "slice": slice(1, 3),
    "step": slice(None, None, 2),
    "reverse": slice(None, None, -1),
    "neg_bounds": slice(-3, -1),
    "neg_step_bounds": slice(-1, 0, -2),
    "empty": slice(3, 1),
    "newaxis": None,
    "ellipsis_int": (Ellipsis, 0),
    "int_ellipsis_step": (1, Ellipsis, slice(None, None, 2)),
    "mixed": (slice(None), None, slice(1, None)),
    "two_ints": (0, -1),
    "past_end": slice(1, 100),
}
for _name, _index in INDEXES.items():
    CASES.append(C(f"getitem_{_name}", lambda x, _i=_index: x[_i], None, A((4, 5, 3))))
CASES += [
    C("getitem_f32_then_op", lambda x: x[1:, ::2] * 2.0, None, A((4, 5), F32)),
    C("getitem_int_dtype", lambda x: x[::-1], None, A((5,), I32, -9, 9)),
    C("getitem_0d_result", lambda x: x[2, 1] + 1.0, None, A((4, 5))),
    C("getitem_symbolic_tail", lambda x: x[1:], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_head", lambda x: x[:-1, 1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_step", lambda x: x[::2], None, A((7, 3), decl=("n", 3))),
    C("getitem_symbolic_step3", lambda x: x[1::3], None, A((8, 2), decl=("n", 2))),
    C("getitem_symbolic_int", lambda x: x[0] + x[-1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_reverse", lambda x: x[::-1], None, A((5, 3), decl=("n", 3))),
    C("getitem_symbolic_reverse_step", lambda x: x[-2::-2, ::-1] * 2.0, None, A((7, 3), decl=("n", 3))),
    C("getitem_symbolic_ellipsis", lambda x: x[..., 1], None, A((5, 3), decl=("n", 3))),
    C(
        "concatenate_0",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2, 3)),
        A((4, 3)),
    ),
    C(
        "concatenate_1",
        lambda x, y: gc.concatenate([x, y], 1),
        lambda x, y: np.concatenate([x, y], 1),
        A((2, 3), F32),
        A((2, 1), F32),
    ),
    C(
        "concatenate_neg_axis_three",
        lambda x, y, z: gc.concatenate([x, y, z], -1),
        lambda x, y, z: np.concatenate([x, y, z], -1),
        A((2, 2, 1)),
        A((2, 2, 3)),
        A((2, 2, 2)),
    ),
    C(
        "concatenate_mixed_dtype",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2,), I32, -5, 5),
        A((3,), F32),
    ),
    C(
        "concatenate_bool",
        lambda x, y: gc.concatenate([x, y]),
        lambda x, y: np.concatenate([x, y]),
        A((2,), B),
        A((3,), B),
    ),
    C(
        "concatenate_symbolic",
        lambda x, y: gc.concatenate([x, y], 1),
        lambda x, y: np.concatenate([x, y], 1),
        A((5, 3), decl=("n", 3)),
        A((5, 2), decl=("n", 2)),
    ),
    C(
        "concatenate_symbolic_axis0",
        lambda x, y: gc.concatenate([x, y]) * 2.0,
        lambda x, y: np.concatenate([x, y]) * 2.0,
        A((5, 3), decl=("n", 3)),
        A((2, 3), decl=("m", 3)),
    ),
    C("stack_0", lambda x, y: gc.stack([x, y]), lambda x, y: np.stack([x, y]), A((2, 3)), A((2, 3))),
    C(
        "stack_last",
        lambda x, y, z: gc.stack([x, y, z], -1),
        lambda x, y, z: np.stack([x, y, z], -1),
        A((4,), I64, -5, 5),
        A((4,), I64, -5, 5),
        A((4,), I64, -5, 5),
    ),
]

for _axis in (-1, 0):
    CASES += [
        C(
            f"softmax_{_axis}",
            lambda x, _a=_axis: gc.softmax(x, _a),
            lambda x, _a=_axis: _np_softmax(x, _a),
            A((3, 4)),
            exact=False,
        ),
        C(
            f"log_softmax_{_axis}",
            lambda x, _a=_axis: gc.log_softmax(x, _a),
            lambda x, _a=_axis: _np_log_softmax(x, _a),
            A((3, 4), F32),
            exact=False,
        ),
    ]
CASES += [
    C(
        "softmax_f32_3d",
        lambda x: gc.softmax(x, 1),
        lambda x: _np_softmax(x, 1),
        A((2, 3, 4), F32),
        exact=False,
    ),
    C("softmax_large", gc.softmax, _np_softmax, A((3, 4), F64, 500, 1000), exact=False),
    C("softmax_vector", gc.softmax, _np_softmax, A((5,), F32), exact=False),
    C("log_softmax_large", gc.log_softmax, _np_log_softmax, A((3, 4), F64, -1000, 1000), exact=False),
    C("softmax_symbolic", gc.softmax, _np_softmax, A((6, 4), F32, decl=("n", 4)), exact=False),
    C("logsumexp_all", gc.logsumexp, _np_logsumexp, A((3, 4)), exact=False),
    C(
        "logsumexp_1",
        lambda x: gc.logsumexp(x, 1),
        lambda x: _np_logsumexp(x, 1),
        A((3, 4), F32),
        exact=False,
    ),
    C(
        "logsumexp_keep",
        lambda x: gc.logsumexp(x, (0, 2), keepdims=True),
        lambda x: _np_logsumexp(x, (0, 2), True),
        A((2, 3, 4)),
        exact=False,
    ),
    C(
        "logsumexp_large",
        lambda x: gc.logsumexp(x, -1),
        lambda x: _np_logsumexp(x, -1),
        A((3, 4), F64, 800, 900),
        exact=False,
    ),
    C("one_hot", lambda t: gc.one_hot(t, 4), lambda t: np.eye(4)[t], A((5,), I64, 0, 3)),
    C("size", lambda x: gc.size(x) * x, lambda x: x.size * x, A((5, 4), F64, decl=("n", 4))),
    C(
        "size_axis_int",
        lambda x: gc.size(x, axis=0, dtype="int32") + gc.cast(gc.argmax(x, axis=1), "int32"),
        lambda x: np.int32(x.shape[0]) + np.argmax(x, axis=1).astype(np.int32),
        A((6, 3), F32, decl=("n", "m")),
    ),
    C(
        "one_hot_f32_2d",
        lambda t: gc.one_hot(t, 3, F32),
        lambda t: np.eye(3, dtype=F32)[t],
        A((2, 3), I32, 0, 2),
    ),
    C("one_hot_int", lambda t: gc.one_hot(t, 5, I64), lambda t: np.eye(5, dtype=I64)[t], A((4,), I64, 0, 4)),
    # random_uniform's reference is its own documented hash; here every backend must give the same bits
    C(
        "random_uniform",
        lambda c: gc.nn.random_uniform(c, (3, 4), 7) + gc.nn.random_uniform(c, (4,), 8, F32),
        lambda c: gc.ops.random_uniform(c, (3, 4), 7, F64) + gc.ops.random_uniform(c, (4,), 8, F32),
        A((), I64, 0, 100),
    ),
    C(
        "one_hot_symbolic",
        lambda t: gc.one_hot(t, 3) * 2.0,
        lambda t: np.eye(3)[t] * 2.0,
        A((6,), I64, 0, 2, decl=("n",)),
    ),
    C(
        "cross_entropy",
        lambda x, t: -(gc.one_hot(t, 4) * gc.log_softmax(x)).sum(axis=1).mean(),
        lambda x, t: -(np.eye(4)[t] * _np_log_softmax(x)).sum(axis=1).mean(),
        A((5, 4), F64, decl=("n", 4)),
        A((5,), I64, 0, 3, decl=("n",)),
        exact=False,
    ),
]

# nan, inf, signed zeros and extremes: every backend must propagate them as NumPy does
SPECIAL = [
    ("exp", gc.exp, np.exp),
    ("log", gc.log, np.log),
    ("sqrt", gc.sqrt, np.sqrt),
    ("tanh", gc.tanh, np.tanh),
    ("sigmoid", gc.sigmoid, _np_sigmoid),
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
    ("softmax", gc.softmax, _np_softmax),
]
for _name, _gc, _np in SPECIAL:
    CASES.append(C(f"special_{_name}_f64", _gc, _np, A((3, 4), F64, special=True), exact=False))
    CASES.append(C(f"special_{_name}_f32", _gc, _np, A((2, 5), F32, special=True), exact=False))

IDS = [c.name for c in CASES]
assert len(set(IDS)) == len(IDS), "CASES names must be unique"


def _inputs(case: Case) -> list[gc.Variable]:
    return [
        gc.tensor(f"x{i}", shape=a.decl if a.decl is not None else a.shape, dtype=a.dtype)
        for i, a in enumerate(case.args)
    ]


def _expected(case: Case, arrays: list[np.ndarray]) -> np.ndarray:
    ref = case.ref or case.build
    special = any(a.special for a in case.args)  # nan and inf inputs: NumPy's warnings are expected there
    with np.errstate(all="ignore" if special else "raise", under="ignore"):
        return np.asarray(ref(*[a.copy() for a in arrays]))


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


@pytest.mark.parametrize("optimize", ["none", "fast"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_parity(case: Case, backend: str, optimize: str, rng: np.random.Generator) -> None:
    arrays = [a.sample(rng) for a in case.args]
    expected = _expected(case, arrays)
    xs = _inputs(case)
    f = gc.function(xs, case.build(*xs), backend=backend, optimize=optimize)
    got = f(*arrays)
    assert_matches(got, expected, exact=case.exact and backend == "interp" and optimize == "none")


def test_cases_cover_every_op() -> None:
    seen: set[Op] = set()
    for case in CASES:
        out = case.build(*_inputs(case))
        seen |= {node.op for node in toposort([out])}
    missing = sorted(op.name for op in Op if op not in seen and op not in NOT_IN_CASES)
    assert not missing, f"no CASES row builds {missing}"


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


@pytest.mark.parametrize("index", [slice(None, None, -1), slice(-2, None, -1), slice(None, 0, -1)], ids=str)
def test_reversed_symbolic_slice_gradient(index: slice, backend: str, rng: np.random.Generator) -> None:
    """x[::-1] on a batch of any size: forward and gradient (scatter back in reverse) on every backend."""
    x = gc.tensor("x", ("n", 2))
    weights = np.array([1.0, 3.0])
    (g,) = gc.grad((x[index] ** 2 * weights).sum(), [x])
    f = gc.function([x], g, backend=backend)
    for n in (2, 5):
        a = rng.standard_normal((n, 2))
        expected = np.zeros_like(a)
        expected[index] = 2 * a[index] * weights
        assert_matches(f(a), expected)
