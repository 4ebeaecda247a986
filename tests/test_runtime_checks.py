"""Checks on the data made during a call (graphc.codegen.checks): a one_hot label out of range raises the same
IndexOutOfRange on every backend (from native code on llvm), naming the input, the value, the bound and the
user's line; a failing call changes no shared variable; failing calls leak no memory."""

from __future__ import annotations

import ctypes
import pathlib
import re
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphcError, IndexOutOfRange


def _training_step(backend: str):
    x = gc.matrix("x", ("n", 3))
    labels = gc.vector("labels", dtype="int64")
    W = gc.shared(np.full((3, 4), 0.5), name="W")
    b = gc.shared(np.zeros(4), name="b")
    J = gc.nn.softmax_cross_entropy(x @ W + b, labels)
    line = sys._getframe().f_lineno - 1
    gW, gb = gc.grad(J, [W, b])
    step = gc.function([x, labels], J, updates={W: W - 0.1 * gW, b: b - 0.1 * gb}, backend=backend)
    return step, (W, b), f"{__file__}:{line}"


@pytest.mark.parametrize("bad", [4, 12, -1])
def test_a_label_out_of_range_raises_and_updates_nothing(backend, bad):
    step, shared, where = _training_step(backend)
    X = np.arange(9.0).reshape(3, 3) / 10
    step(X, np.array([0, 1, 3]))  # labels in range: the step runs and updates
    before = [v.get_value() for v in shared]
    with pytest.raises(IndexOutOfRange) as info:
        step(X, np.array([0, bad, 1]))
    err = info.value
    assert isinstance(err, GraphcError) and isinstance(err, IndexError)
    assert f"label {bad} at index 1 of labels (int64 (labels.0,))" in str(err)
    assert "out of range for depth 4: labels must be in [0, 4)" in str(err)
    assert str(err).endswith(f"built at {where}")
    assert (err.value, err.bound, err.position, err.name) == (bad, 4, 1, "labels")
    for var, old in zip(shared, before, strict=True):
        np.testing.assert_array_equal(var.get_value(), old)
    step(X, np.array([2, 0, 1]))  # still usable after the error


def test_the_message_is_the_same_on_every_backend(backend):
    labels = gc.matrix("labels", ("n", 2), dtype="int32")
    f = gc.function([labels], gc.one_hot(labels, 3).sum(), backend=backend)
    assert float(f(np.array([[0, 2], [1, 1]], np.int32))) == 4.0
    with pytest.raises(IndexOutOfRange) as info:
        f(np.array([[0, 2], [5, 7]], np.int32))  # the first bad label in C order is reported
    reference = gc.function([labels], gc.one_hot(labels, 3).sum(), backend="interp")
    with pytest.raises(IndexOutOfRange) as expected:
        reference(np.array([[0, 2], [5, 7]], np.int32))
    assert str(info.value).split("\n")[0] == str(expected.value).split("\n")[0]
    assert "label 5 at index 2 (C order) of labels" in str(info.value)


def test_a_computed_label_is_checked_where_it_is_read(backend):
    x = gc.matrix("scores", ("n", 5))
    pred = gc.argmax(x, axis=1)  # labels 0..4, one_hot of depth 3: out of range for some rows
    f = gc.function([x], gc.one_hot(pred, 3).sum(axis=0), backend=backend)
    np.testing.assert_array_equal(f(np.eye(5)[[0, 1, 2, 1]]), [1.0, 2.0, 1.0])
    with pytest.raises(IndexOutOfRange, match=r"label 4 at index 1 of an unnamed value \(int64 \(n,\)\)"):
        f(np.eye(5)[[0, 4, 2]])


def _allocated_bytes() -> int | None:
    """Bytes the C allocator has handed out and not taken back (glibc); None elsewhere."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    names = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    mallinfo2.restype = type(
        "Mallinfo2", (ctypes.Structure,), {"_fields_": [(n, ctypes.c_size_t) for n in names]}
    )
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def test_failing_calls_leak_no_memory(backend):
    before = _allocated_bytes()
    if before is None:
        pytest.skip("needs glibc's mallinfo2 to count the C heap")
    x, labels = gc.vector("x"), gc.tensor("labels", ("m",), "int64")
    # softmax gives the llvm arena a 32 KB slot and scratch; each failure also mallocs its error record
    J = gc.softmax(x).sum() + gc.one_hot(labels, 4).sum()
    f = gc.function([x, labels], J, backend=backend)
    X, bad = np.zeros(4096), np.array([0, 9])

    def fail(times: int) -> None:
        for _ in range(times):
            try:
                f(X, bad)
            except IndexOutOfRange:
                pass

    fail(100)  # warm up: outputs reused between calls, caches
    before = _allocated_bytes()
    fail(10_000)
    grown = _allocated_bytes() - before
    assert grown < 256 * 1024, f"{grown} bytes more in use after 10^4 failing calls"
    assert float(f(X, np.array([0, 3]))) == pytest.approx(3.0)


def test_the_readme_examples_are_what_graphc_prints(backend):
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    label, index = re.findall(r"```\n(IndexOutOfRange: .*?)\n  built at", readme, re.S)
    logits, y = gc.matrix("logits", ("n", 10)), gc.vector("y", dtype="int64")
    f = gc.function([logits, y], gc.nn.softmax_cross_entropy(logits, y), backend=backend)
    with pytest.raises(IndexOutOfRange) as info:
        f(np.zeros((4, 10)), np.array([1, 2, 3, 12]))
    assert f"IndexOutOfRange: {info.value}".startswith(label)
    E, ids = gc.matrix("E", (50000, 256), "float32"), gc.vector("ids", "n", dtype="int64")
    f = gc.function([E, ids], E[ids].mean(axis=0), backend=backend)
    with pytest.raises(IndexOutOfRange) as info:
        f(np.zeros((50000, 256), np.float32), np.array([0, 1, 2, 3, 4, 5, 6, 50000]))  # pages never touched
    assert f"IndexOutOfRange: {info.value}".startswith(index)
