"""Bad data found inside a loop kernel (codegen/llvm/kernel_failure.py): an integer to a negative power is the
same DomainError on every backend, optimised or not, fused or not, threaded or not, naming both operands, the
bad exponent, its position in the exponent and the user's line; a kernel without checks is emitted as
before; and a check on a float op (the API the NaN guard and gather will use) reports a float value."""

from __future__ import annotations

import dataclasses
import re
import struct
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.errors import DomainError, GraphcError
from graphc.ops import Op

OPTIMIZE = ["none", "fast"]


def _power(backend, optimize):
    x = gc.matrix("x", ("n", 3), dtype="int64")
    y = gc.vector("y", 3, dtype="int64")
    z = gc.matrix("z", ("n", 1), dtype="int64")
    out = (x + 1) ** y * 2 + x**z
    line = sys._getframe().f_lineno - 1
    return gc.function([x, y, z], out, backend=backend, optimize=optimize), f"{__file__}:{line}"


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_an_integer_to_a_negative_power_is_a_domain_error(backend, optimize):
    f, where = _power(backend, optimize)
    x, y, z = np.ones((4, 3), np.int64), np.array([1, 2, 0]), np.ones((4, 1), np.int64)
    np.testing.assert_array_equal(f(x, y, z), (x + 1) ** y * 2 + x**z)
    with pytest.raises(DomainError) as info:
        f(x, np.array([1, -2, -3]), z)
    err = info.value
    assert isinstance(err, GraphcError) and isinstance(err, ValueError)
    assert (
        "pow: an unnamed value (int64 (n, 3)) ** y (int64 (3,)): integers to negative integer powers"
        in str(err)
    )
    assert "the exponent is -2 at index 1; nothing was updated" in str(err)
    assert str(err).endswith(f"built at {where}")
    assert (err.value, err.position, err.name) == (-2, 1, "y")
    # the exponent broadcasts along the rows: the position is in z's own shape, C order
    with pytest.raises(
        DomainError, match=r"x \(int64 \(n, 3\)\) \*\* z \(int64 \(n, 1\)\).* -5 at index 2 \(C"
    ):
        f(x, y, np.array([[1], [0], [-5], [-1]]))


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_no_element_computed_no_error(backend, optimize):
    f, _ = _power(backend, optimize)
    assert f(np.ones((0, 3), np.int64), np.array([-1, -1, -1]), np.ones((0, 1), np.int64)).shape == (0, 3)


def test_a_constant_negative_exponent_fails_at_the_call_not_the_compile(backend):
    x = gc.vector("x", 2, dtype="int64")
    f = gc.function([x], x + gc.constant(np.array([2, 3])) ** -1, backend=backend)  # folding leaves it
    with pytest.raises(
        DomainError, match=r"\*\* an unnamed value \(int64 \(\)\).* the exponent is -1; nothing"
    ):
        f(np.array([1, 2]))


@pytest.mark.parametrize("optimize", OPTIMIZE)
def test_a_constant_exponent_is_checked_or_skipped_on_every_path(backend, optimize):
    # unoptimised, a constant is an operand the rule cannot see (llvm once raised NotImplementedError)
    x = gc.vector("x", "n", dtype="int64")
    square = gc.function([x], x**2 + x**0, backend=backend, optimize=optimize)
    np.testing.assert_array_equal(square(np.arange(4)), np.arange(4) ** 2 + 1)
    inverse = gc.function([x], x**-1, backend=backend, optimize=optimize)
    with pytest.raises(DomainError, match="the exponent is -1; nothing"):
        inverse(np.arange(1, 4))


def test_a_failed_step_updates_nothing(backend):
    w = gc.shared(np.array([1.0, 2.0]), name="w")
    k = gc.vector("k", 2, dtype="int64")
    step = gc.function([k], gc.sum(w), updates={w: w * gc.cast(2**k, "float64")}, backend=backend)
    step(np.array([1, 1]))
    with pytest.raises(DomainError):
        step(np.array([1, -1]))
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])


def test_threads_report_the_first_failure(monkeypatch):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", "2")
    gc.settings.reload()
    x, e = gc.vector("x", dtype="int64"), gc.vector("e", dtype="int64")
    # sin makes the kernel costly enough to split across threads at this size (threads.PARALLEL_WORK)
    f = gc.function([x, e], gc.sin(gc.cast(x**e, "float64")), backend="llvm")
    n = 200_000
    exponents = np.ones(n, np.int64)
    exponents[[150_001, 170_000]] = [-7, -8]  # both in the second thread's half
    with pytest.raises(DomainError) as info:
        f(np.ones(n, np.int64), exponents)
    assert (info.value.position, info.value.value) == (150_001, -7)
    exponents[99_999] = -9  # now the first thread's half has one too
    with pytest.raises(DomainError) as info:
        f(np.ones(n, np.int64), exponents)
    assert (info.value.position, info.value.value) == (99_999, -9)
    np.testing.assert_allclose(f(np.full(n, 2), np.full(n, 3))[:2], np.sin([8.0, 8.0]))


def test_the_first_instruction_that_fails_is_reported_as_interp_does(backend):
    """Two checks in one fused kernel, each failing somewhere: the earlier instruction's first failure."""
    a, b = gc.vector("a", "n", dtype="int64"), gc.vector("b", "n", dtype="int64")
    found = []
    for name in ("interp", backend):
        f = gc.function([a, b], (2**a) * (3**b), backend=name)
        with pytest.raises(DomainError, match=r"\*\* [ab] \(int64 \(n,\)\)") as info:
            f(np.array([0, 1, 2, -1]), np.array([0, -1, 0, 0]))
        found.append((info.value.name, info.value.value, info.value.position))
    assert found[0] in [("a", -1, 3), ("b", -1, 1)] and found[1] == found[0]


def test_a_check_in_a_later_segment_of_a_big_kernel(backend):
    """A fused body too big for one llvm kernel is cut into segments (segments.py): checks follow their
    instructions into them."""
    x, e = gc.vector("x", "n", dtype="int64"), gc.vector("e", "n", dtype="int64")
    y = x
    for k in range(200):
        y = y * 3 + k if k != 150 else y ** (e + k - 150)
    f = gc.function([x, e], y, backend=backend)
    expected = gc.function([x, e], y, backend="interp")(np.arange(3), np.ones(3, np.int64))
    np.testing.assert_array_equal(f(np.arange(3), np.ones(3, np.int64)), expected)
    with pytest.raises(DomainError, match="the exponent is -2 at index 1"):
        f(np.arange(3), np.array([1, -2, 1]))


def test_kernels_without_checks_are_emitted_as_before():
    x = gc.vector("x")
    f = gc.function([x], gc.exp(x) * 2.0 + x**3.0, backend="llvm")
    assert "explain" not in f.source and "atomic" not in f.source
    i = gc.vector("i", dtype="int64")
    g = gc.function([i], i**2 + i**i, backend="llvm")  # a checked kernel: i**i
    assert "explain" in g.source and "store atomic" in g.source


@dataclasses.dataclass(frozen=True, eq=False)
class _NegativeRoot:
    """A check on a float op, as a NaN guard would be: the value comes back as its float64 bits."""

    node: object
    arg: int = 0
    bound: int = 0
    reads: tuple = (0,)
    rule: str = ">= 0"

    def error(self, value, bound, position):
        value = struct.unpack("<d", struct.pack("<q", value))[0] if isinstance(value, int) else value
        return DomainError(f"sqrt of {value} at index {position}", value=value, position=position)

    def verify(self, values):
        flat = np.asarray(values, np.float64).ravel()
        if (flat < 0).any():
            position = int(np.flatnonzero(flat < 0)[0])
            raise self.error(float(flat[position]), None, position)


def test_a_float_check_in_a_fused_kernel(monkeypatch, tmp_path, backend):
    from graphc.codegen import checks
    from graphc.codegen.llvm import elementwise, lower

    def rule(s, x):
        s.fail_if(s.b.fcmp_ordered("<", x, s.c(0)), x, arg=0)
        return s.intrinsic("llvm.sqrt", x)

    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # kernels made with a test's rule stay here
    monkeypatch.setitem(checks.RUNTIME_CHECKS, Op.SQRT, lambda node: (_NegativeRoot(node),))
    monkeypatch.setitem(lower.LLVM_RULES, Op.SQRT, elementwise.Elementwise(rule))
    x, y = gc.vector("x"), gc.vector("y")
    f = gc.function([x, y], gc.sqrt(x * y + 1.0) * 2.0, backend=backend)
    np.testing.assert_allclose(f(np.arange(3.0), np.ones(3)), 2 * np.sqrt(np.arange(3.0) + 1))
    with pytest.raises(DomainError) as info:
        f(np.arange(5.0), np.array([1, 1, -3, 1, -5.0]))
    assert (info.value.value, info.value.position) == (-5.0, 2)
    if backend == "llvm":  # the checked hot loop still vectorises: the bad bits are OR-ed as vectors
        kernels = re.findall(r'define [^\n]*@"?graphc\.k\.\w+"?\(.*?\n}\n', f.llvm_ir, re.S)
        assert any("x i1>" in kernel and "x double>" in kernel for kernel in kernels)
