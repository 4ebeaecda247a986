"""The dtype rules, tested. Owns nothing but these checks; knows no backend internals.

graphc supports five dtypes: float32, float64, int32, int64 and bool. Its rules are NumPy 2's (NEP 50):

1. A Python scalar takes the tensor's dtype: ``W - 0.01 * g`` stays float32 when ``W`` and ``g`` are
   float32, so an SGD update on float32 parameters compiles and keeps the parameter's dtype (no silent float64
   upcast). A Python float with an integer tensor gives float64 (``i * 0.5``); a Python int with an integer
   tensor keeps its dtype (``i + 1`` stays int32), and one that does not fit is an error.
2. A NumPy scalar or array (``np.float64(0.01)``, ``np.arange(3.0)``) is a typed value and promotes as NumPy
   promotes it.
3. Tensor with tensor promotes as NumPy does: int32 + int64 -> int64, int + float -> float (int32 +
   float32 -> float64), ``/`` of integers is float64, comparisons and logical ops give bool; reductions follow
   NumPy (sum of int32 is int64, mean of ints is float64, argmax is int64). Math NumPy refuses on bools
   (``-b``) or would do in float16 (``exp(b)``) is a ``DTypeError``.
4. Nothing else converts implicitly: ``gc.cast(x, "float32")`` converts explicitly (float -> int truncates
   toward zero, as ``astype``).
5. A compiled function accepts arrays of its inputs' dtypes or ones that cast safely (int32 into int64,
   float32 into float64, bool into anything numeric); Python lists and scalars are converted when their kind
   fits. Anything else (float64 into float32, float into int) is a ``DTypeError``.
6. An update must keep its shared variable's dtype (and shape) exactly.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc

DTYPES = ["float32", "float64", "int32", "int64", "bool"]


def _numpy_dtype(fn, *dtypes) -> np.dtype:
    with np.errstate(all="ignore"):
        return np.asarray(fn(*(np.ones(2, d) for d in dtypes))).dtype


# -- rule 3: tensor with tensor is NumPy's promotion ---------------------------------------------------------
@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_binary_promotion_is_numpys(a: str, b: str) -> None:
    x, y = gc.tensor("x", (2,), a), gc.tensor("y", (2,), b)
    assert (x * y).dtype == _numpy_dtype(np.multiply, a, b)
    assert gc.maximum(x, y).dtype == _numpy_dtype(np.maximum, a, b)
    assert (x < y).dtype == np.bool_
    if "bool" not in (a, b):
        assert (x + y).dtype == _numpy_dtype(np.add, a, b)
        assert (x / y).dtype == _numpy_dtype(np.true_divide, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [True, 3, 2.5], ids=["bool", "int", "float"])
def test_python_scalars_are_weak(dtype: str, value) -> None:
    x = gc.tensor("x", (2,), dtype)
    expected = _numpy_dtype(lambda a: a * value, dtype)
    assert (x * value).dtype == expected
    assert (value * x).dtype == expected


def test_float32_update_stays_float32(backend: str) -> None:
    W = gc.shared(np.ones((3, 2), np.float32), name="W")
    x = gc.tensor("x", ("n", 3), "float32")
    g = x.T @ (x @ W)  # a float32 "gradient"
    new_W = W - 0.01 * g
    assert new_W.dtype == np.float32
    step = gc.function([x], (g * g).sum(), updates={W: new_W}, backend=backend)
    X = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    expected = np.ones((3, 2), np.float32) - np.float32(0.01) * (X.T @ (X @ np.ones((3, 2), np.float32)))
    loss = step(X)
    assert loss.dtype == np.float32
    assert W.get_value().dtype == np.float32
    np.testing.assert_allclose(W.get_value(), expected, rtol=1e-6)


def test_float32_stays_float32_through_a_model(backend: str) -> None:
    x = gc.tensor("x", ("n", 3), "float32")
    t = gc.tensor("t", ("n",), "int64")
    W = gc.shared(np.full((3, 4), 0.1, np.float32), name="W")
    logits = x @ W + 1.0
    loss = -(gc.one_hot(t, 4, "float32") * gc.log_softmax(logits)).sum(axis=1).mean()
    hidden = gc.where(logits > 0.5, logits, 0.0) ** 2 / 2 + gc.sigmoid(logits) - gc.exp(-logits)
    for v in (logits, loss, hidden, gc.softmax(logits), gc.logsumexp(logits, axis=1), gc.clip(x, -1, 1)):
        assert v.dtype == np.float32, v
    f = gc.function([x, t], [loss, hidden], backend=backend)
    results = f(np.ones((2, 3), np.float32), np.array([0, 3]))
    assert [r.dtype for r in results] == [np.float32, np.float32]


def test_numpy_scalars_and_arrays_are_strong() -> None:
    x = gc.tensor("x", (3,), "float32")
    assert (x * np.float64(0.5)).dtype == np.float64
    assert (x * np.float32(0.5)).dtype == np.float32
    assert (x + np.arange(3.0)).dtype == np.float64
    assert (x + np.arange(3, dtype=np.float32)).dtype == np.float32


def test_integers() -> None:
    i32, i64 = gc.tensor("i", (3,), "int32"), gc.tensor("j", (3,), "int64")
    f32 = gc.tensor("f", (3,), "float32")
    assert (i32 + 1).dtype == np.int32
    assert (i32 * 0.5).dtype == np.float64
    assert (i32 + i64).dtype == np.int64
    assert (i32 + f32).dtype == np.float64
    assert (i64 / i64).dtype == np.float64
    assert gc.sum(i32).dtype == np.dtype(_numpy_dtype(np.sum, "int32"))
    assert gc.mean(i32).dtype == np.float64
    assert gc.argmax(f32).dtype == np.int64
    assert gc.exp(i32).dtype == np.float64


def test_integer_arithmetic_runs_exactly(backend: str) -> None:
    i = gc.tensor("i", ("n",), "int32")
    f = gc.function([i], [i * 3 + 1, i / 2], backend=backend)
    a = np.array([-3, 0, 7], np.int32)
    r, q = f(a)
    assert r.dtype == np.int32 and q.dtype == np.float64
    np.testing.assert_array_equal(r, a * 3 + 1)
    np.testing.assert_array_equal(q, a / 2)


def test_scalar_that_does_not_fit_is_an_error() -> None:
    i = gc.tensor("i", (3,), "int32")
    with pytest.raises(gc.DTypeError, match=r"2147483648 does not fit i \(int32"):
        i + 2**31


def test_explicit_cast(backend: str) -> None:
    x = gc.tensor("x", ("n",), "float64")
    casts = [gc.cast(x, d) for d in DTYPES]
    assert [c.dtype.name for c in casts] == DTYPES
    assert gc.cast(x, "float64") is x  # a no-op cast builds nothing
    f = gc.function([x], casts, backend=backend)
    a = np.array([-2.7, -0.5, 0.0, 0.5, 2.7])
    for got, dtype in zip(f(a), DTYPES, strict=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, a.astype(dtype))  # truncation toward zero; nonzero -> True


def test_constants_and_shared_keep_their_dtype() -> None:
    assert gc.constant(1.5).dtype == np.float64
    assert gc.constant([1, 2]).dtype == np.int64
    assert gc.constant([1, 2], dtype="int32").dtype == np.int32
    assert gc.shared(np.zeros(2, np.float32)).dtype == np.float32
    assert gc.shared(np.zeros(2), dtype="float32").get_value().dtype == np.float32
    with pytest.raises(gc.DTypeError, match="float16"):
        gc.shared(np.zeros(2, np.float16))


def test_bool_math_that_numpy_refuses_is_a_dtype_error() -> None:
    b = gc.tensor("b", (3,), "bool")
    with pytest.raises(gc.DTypeError, match=r"neg cannot take b \(bool \(3,\)\)"):
        _ = -b
    with pytest.raises(gc.DTypeError, match=r"exp cannot take b \(bool \(3,\)\); cast first"):
        gc.exp(b)  # NumPy would give float16, which graphc does not have
    assert gc.exp(gc.cast(b, "float32")).dtype == np.float32


# -- rule 5: what a compiled function accepts ----------------------------------------------------------------
SAFE = [
    ("float32", "float64"),
    ("int32", "int64"),
    ("int32", "float64"),
    ("bool", "float32"),
    ("bool", "int32"),
]
UNSAFE = [("float64", "float32"), ("int64", "int32"), ("float32", "int64"), ("int64", "float32")]


@pytest.mark.parametrize("given, declared", SAFE)
def test_safe_casts_are_accepted(given: str, declared: str, backend: str) -> None:
    x = gc.tensor("x", ("n",), declared)
    f = gc.function([x], x * 2, backend=backend)
    got = f(np.array([1, 0, 1], dtype=given))
    assert got.dtype == declared
    np.testing.assert_array_equal(got, np.array([2, 0, 2], dtype=declared))


@pytest.mark.parametrize("given, declared", UNSAFE)
def test_unsafe_casts_are_refused(given: str, declared: str) -> None:
    x = gc.tensor("x", ("n",), declared)
    f = gc.function([x], x * 2)
    with pytest.raises(gc.DTypeError, match=rf"x: expected {declared}, got {given}"):
        f(np.array([1, 0, 1], dtype=given))


def test_python_values_are_converted_when_their_kind_fits() -> None:
    x = gc.tensor("x", ("n",), "float32")
    i = gc.tensor("i", (), "int32")
    f = gc.function([x, i], [x * 3, i + 1])
    got, j = f([1.5, 2.0], 3)
    assert got.dtype == np.float32 and j.dtype == np.int32
    np.testing.assert_array_equal(got, [4.5, 6.0])
    assert j == 4
    with pytest.raises(gc.DTypeError, match="i: expected int32, got float64"):
        f([1.5], 2.5)


def test_update_must_keep_the_dtype() -> None:
    W = gc.shared(np.zeros(3, np.float32), name="W")
    x = gc.tensor("x", (3,), "float64")
    with pytest.raises(gc.GraphError, match=r"new value of W \(float32 \(3,\)\) has type float64\(3,\)"):
        gc.function([x], x.sum(), updates={W: W + x})
    f = gc.function([x], x.sum(), updates={W: W + gc.cast(x, "float32")})
    f(np.ones(3))
    assert W.get_value().dtype == np.float32


def test_non_native_byte_order_is_converted_at_the_boundary(backend: str) -> None:
    """'>f8' data (or a '>f8' declaration) is float64 in the machine's byte order from the start: shared
    values, call-time inputs, constants and declared dtypes (llvm read the swapped bytes before)."""
    big = np.arange(3, dtype=">f8")
    other = ">" if np.little_endian else "<"
    swapped = np.arange(3, dtype=f"{other}f8")
    s = gc.shared(swapped, name="s")
    assert s.type.dtype == np.float64 and s.get_value().dtype.isnative
    x = gc.tensor("x", (3,), f"{other}f8")
    i = gc.vector("i", dtype=f"{other}i4")
    assert x.type.dtype == np.dtype("float64") and i.type.dtype == np.dtype("int32")
    c = gc.constant(swapped * 10)
    assert c.value.dtype.isnative
    f = gc.function([x, i], [s * 2.0 + x, i * 2, c + 1.0], updates={s: s + x}, backend=backend)
    out, ints, const = f(swapped, np.arange(3, dtype=f"{other}i4"))
    np.testing.assert_array_equal(out, [0.0, 3.0, 6.0])
    np.testing.assert_array_equal(ints, [0, 2, 4])
    np.testing.assert_array_equal(const, [1.0, 11.0, 21.0])
    np.testing.assert_array_equal(s.get_value(), [0.0, 2.0, 4.0])
    s.set_value(swapped)
    assert s.get_value(copy=False).dtype.isnative
    np.testing.assert_array_equal(f(big, np.zeros(3, np.int32))[0], [0.0, 3.0, 6.0])
