"""check_numerics: a call stops at the first operation whose output has a NaN or an infinity its inputs did
not have, naming the op, the user's line and the inputs' ranges, on every backend; the failing call changes no
shared variable; off (the default), the compiled code is exactly what it was."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphc as gc
from graphc import settings


def test_the_first_op_to_make_an_infinity_is_named(backend: str) -> None:
    x = gc.vector("x")
    y = gc.tanh(gc.log(x)) + 1  # log(0) = -inf: the first; tanh(-inf) = -1 is finite again
    line = sys._getframe().f_lineno - 1
    f = gc.function([x], y, backend=backend, check_numerics=True)
    np.testing.assert_allclose(f([1.0, np.e]), [1.0, 1 + np.tanh(1.0)])
    with pytest.raises(gc.NumericsError) as info:
        f([1.0, 0.0])
    error = info.value
    assert isinstance(error, gc.GraphcError) and isinstance(error, FloatingPointError)
    assert (error.op, error.kinds) == ("log", "inf")
    message = str(error)
    assert message.startswith("log made an infinity (first at index 1 of its output) from inputs without:")
    assert "x (float64 (x.0,)) in [0, 1]; nothing was updated" in message
    assert message.endswith(f"built at {__file__}:{line}")


def test_an_overflow_in_a_chain_of_elementwise_ops_names_its_op(backend: str) -> None:
    """Such a chain is one fused kernel normally; with check_numerics each op is checked on its own."""
    x = gc.vector("x")
    y = gc.tanh(gc.exp(x * 1000.0) * 2.0 + 1.0)
    f = gc.function([x], y, backend=backend, check_numerics=True)
    with pytest.raises(gc.NumericsError, match=r"^exp made an infinity \(first at index 0 of its output\)"):
        f([1.0, -1.0])


def test_a_failing_step_changes_no_shared_variable(backend: str) -> None:
    """A step size far too large: the third step overflows; W keeps the second step's value."""
    x = gc.matrix("x")
    W = gc.shared(np.full((2, 2), 1.0), name="W")
    loss = gc.sum((x @ W) ** 2)
    (gW,) = gc.grad(loss, [W])
    step = gc.function([x], loss, updates={W: W - 1e100 * gW}, backend=backend, check_numerics=True)
    X = np.ones((3, 2))
    step(X)
    step(X)
    before = W.get_value()
    with pytest.raises(gc.NumericsError, match=r"made an infinity .*; nothing was updated"):
        step(X)
    np.testing.assert_array_equal(W.get_value(), before)


def test_values_that_arrive_non_finite_are_passed_on_not_blamed(backend: str) -> None:
    x = gc.vector("x")
    f = gc.function([x], [x * 2 + 1, gc.exp(x * 1000.0)], backend=backend, check_numerics=True)
    out, _ = f([np.nan, 1e-9])  # a NaN given is carried along; exp(1e-6) is fine
    assert np.isnan(out[0])
    with pytest.raises(gc.NumericsError, match=r"^exp made an infinity .* in \[1000, 1000\] and NaN"):
        f([np.nan, 1.0])  # but a new kind (an infinity) is caught even where a NaN already is


def test_a_masked_branch_counts(backend: str) -> None:
    """gc.where computes both branches: log(0) in the branch not taken is still made (write
    gc.log(gc.maximum(x, tiny)) or use a stable op instead)."""
    x = gc.vector("x")
    f = gc.function([x], gc.where(x > 0, gc.log(x), 0.0), backend=backend, check_numerics=True)
    with pytest.raises(gc.NumericsError, match="^log made"):
        f([0.0, 1.0])


def test_native_code_stops_by_itself(rng) -> None:
    """The llvm program (before gc.function's look at the user's graph) stops through the failure path."""
    pytest.importorskip("llvmlite")
    x = gc.vector("x")
    f = gc.function([x], gc.log(x) + 1, backend="llvm", check_numerics=True)
    with pytest.raises(gc.NumericsError, match="made an infinity"):
        f.program.run([np.array([1.0, 0.0])], [], {x.shape[0]: 2})


def test_off_by_default_the_code_is_unchanged(backend: str, monkeypatch) -> None:
    x = gc.vector("x")
    y = gc.log(x) * 2
    default, off = (
        gc.function([x], y, backend=backend),
        gc.function([x], y, backend=backend, check_numerics=False),
    )
    on = gc.function([x], y, backend=backend, check_numerics=True)
    assert default.check_numerics is False and np.isinf(default([0.0])[0])  # no check: -inf is returned
    if backend != "interp":
        assert default.source == off.source != on.source
    monkeypatch.setenv("GRAPHC_CHECK_NUMERICS", "1")
    settings.reload()
    assert gc.function([x], y, backend=backend).check_numerics is True
    monkeypatch.setenv("GRAPHC_CHECK_NUMERICS", "maybe")
    with pytest.raises(gc.GraphcError, match="GRAPHC_CHECK_NUMERICS must be 1 or 0"):
        settings.reload()


def test_the_readme_example_is_what_graphc_prints() -> None:
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (shown,) = re.findall(r"```\n(NumericsError: .*?)\n  built at", readme, re.S)
    x = gc.vector("x")
    f = gc.function([x], gc.log(x) * 2, check_numerics=True)
    with pytest.raises(gc.NumericsError) as info:
        f([1.0, 0.0])
    assert f"NumericsError: {info.value}".startswith(shown)
