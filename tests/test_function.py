"""gc.function semantics on every backend: outputs, updates, shared values, aliasing, shape polymorphism,
generated source and debugprint. Owns these checks; knows no backend internals."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest

import graphc as gc


def here() -> int:
    """The caller's line number: `value, line = build(), here()` records where `value` was built."""
    return sys._getframe(1).f_lineno


# -- outputs -------------------------------------------------------------------------------------------------
def test_single_output_is_an_array_a_list_gives_a_tuple(backend: str) -> None:
    x = gc.vector("x")
    a = np.array([1.0, 2.0, 3.0])
    single = gc.function([x], x * 2, backend=backend)(a)
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, a * 2)
    one = gc.function([x], [x * 2], backend=backend)(a)
    assert isinstance(one, tuple) and len(one) == 1
    np.testing.assert_array_equal(one[0], a * 2)
    total, doubled = gc.function([x], (x.sum(), x * 2), backend=backend)(a)
    assert total.shape == () and float(total) == 6.0
    np.testing.assert_array_equal(doubled, a * 2)


def test_no_inputs_and_unused_inputs(backend: str) -> None:
    W = gc.shared(np.arange(3.0), name="W")
    assert float(gc.function([], W.sum(), backend=backend)()) == 3.0
    x, unused = gc.vector("x"), gc.tensor("unused", (2,), "int32")
    f = gc.function([x, unused], x + 1, backend=backend)
    np.testing.assert_array_equal(f([1.0], np.zeros(2, np.int32)), [2.0])
    with pytest.raises(gc.ShapeError, match="unused"):  # an unused input is still checked
        f([1.0], np.zeros(3, np.int32))


# -- updates and shared variables ----------------------------------------------------------------------------
def test_updates_all_see_old_values(backend: str) -> None:
    a = gc.shared(np.array([1.0, 2.0]), name="a")
    b = gc.shared(np.array([10.0, 20.0]), name="b")
    step = gc.function([], [a + b], updates={a: b, b: a * b}, backend=backend)
    (out,) = step()
    np.testing.assert_array_equal(out, [11.0, 22.0])  # outputs are computed from the old values too
    np.testing.assert_array_equal(a.get_value(), [10.0, 20.0])
    np.testing.assert_array_equal(b.get_value(), [10.0, 40.0])  # the old a times the old b
    step()
    np.testing.assert_array_equal(a.get_value(), [10.0, 40.0])
    np.testing.assert_array_equal(b.get_value(), [100.0, 800.0])


def test_sgd_updates_accumulate(backend: str) -> None:
    x = gc.tensor("x", ("n", 2))
    w = gc.shared(np.zeros(2), name="w")
    count = gc.shared(np.array(0, np.int64), name="count")
    loss = ((x @ w - 1.0) ** 2).mean()
    grad = 2 * ((x @ w - 1.0)[:, None] * x).mean(axis=0)  # by hand: the gradient pass is tested elsewhere
    step = gc.function([x], loss, updates=[(w, w - 0.1 * grad), (count, count + 1)], backend=backend)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w_np = np.zeros(2)
    for k in range(5):
        expected_loss = ((X @ w_np - 1.0) ** 2).mean()
        assert float(step(X)) == pytest.approx(expected_loss, rel=1e-12)
        w_np = w_np - 0.1 * 2 * ((X @ w_np - 1.0) @ X) / 3
        np.testing.assert_allclose(w.get_value(), w_np, rtol=1e-12)
        assert int(count.get_value()) == k + 1


def test_shared_get_and_set_value(backend: str) -> None:
    source = np.array([1.0, 2.0, 3.0])
    W = gc.shared(source, name="W")
    source[0] = 100.0  # gc.shared copied it
    f = gc.function([], W * 2, backend=backend)
    np.testing.assert_array_equal(f(), [2.0, 4.0, 6.0])
    got = W.get_value()
    got[:] = -1.0  # get_value gives a copy
    np.testing.assert_array_equal(f(), [2.0, 4.0, 6.0])
    new = np.array([5.0, 6.0, 7.0])
    W.set_value(new)
    new[:] = 0.0  # set_value copied it
    np.testing.assert_array_equal(f(), [10.0, 12.0, 14.0])
    np.testing.assert_array_equal(W.get_value(), [5.0, 6.0, 7.0])


def test_set_value_between_calls_of_a_stepping_function(backend: str) -> None:
    W = gc.shared(np.zeros(2, np.float32), name="W")
    step = gc.function([], W, updates={W: W + 1.0}, backend=backend)
    np.testing.assert_array_equal(step(), [0, 0])
    W.set_value(np.array([10.0, 20.0], np.float32))
    np.testing.assert_array_equal(step(), [10.0, 20.0])
    np.testing.assert_array_equal(W.get_value(), [11.0, 21.0])


# -- aliasing ------------------------------------------------------------------------------------------------
def test_outputs_never_alias_inputs_shared_or_each_other(backend: str) -> None:
    x = gc.tensor("x", (2, 3))
    W = gc.shared(np.ones((2, 3)), name="W")
    y = x * 2.0
    outputs = [
        x,
        x.T,
        x[1:],
        W,
        W.reshape(3, 2),
        gc.constant(np.arange(3.0)),
        y,
        y,
        gc.broadcast_to(x[0], (4, 3)),
    ]
    f = gc.function([x], outputs, updates={W: y}, backend=backend)
    a = np.arange(6.0).reshape(2, 3)
    results = f(a)
    assert results[6] is not results[7]  # the same variable twice: two arrays
    for r in results:
        assert r.flags.writeable
        r[...] = -7.0  # the caller owns every result
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(W.get_value(), 2 * np.arange(6.0).reshape(2, 3))  # the update is its own
    again = f(a)
    np.testing.assert_array_equal(again[5], np.arange(3.0))  # the constant was not changed
    np.testing.assert_array_equal(again[3], 2 * np.arange(6.0).reshape(2, 3))


def test_results_survive_the_next_call(backend: str) -> None:
    x = gc.tensor("x", ("n",), "float32")
    f = gc.function([x], [gc.exp(x) * 2.0 + 1.0, (x * x).sum()], backend=backend)
    first = f(np.zeros(4, np.float32))
    second = f(np.ones(4, np.float32))
    np.testing.assert_array_equal(first[0], np.full(4, 3.0, np.float32))
    assert float(first[1]) == 0.0 and float(second[1]) == 4.0


def test_update_does_not_alias_the_caller_s_input(backend: str) -> None:
    x = gc.tensor("x", (3,))
    W = gc.shared(np.zeros(3), name="W")
    f = gc.function([x], W.sum(), updates={W: x}, backend=backend)
    a = np.arange(3.0)
    f(a)
    a[:] = 9.0
    np.testing.assert_array_equal(W.get_value(), [0.0, 1.0, 2.0])


# -- shape polymorphism --------------------------------------------------------------------------------------
def test_new_batch_size_does_not_recompile(backend: str, monkeypatch) -> None:
    import graphc.codegen

    x = gc.tensor("x", ("n", 3), "float32")
    W = gc.shared(np.arange(6, dtype=np.float32).reshape(3, 2), name="W")
    f = gc.function([x], [gc.softmax(x @ W), (x[1:] - x[:-1]).sum(axis=1)], backend=backend)
    program = f.program

    def no_recompiling(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(graphc.codegen, "compile_program", no_recompiling)
    rng = np.random.default_rng(1)
    for n in (2, 5, 1, 64, 3):
        X = rng.standard_normal((n, 3)).astype(np.float32)
        probs, diffs = f(X)
        logits = X @ W.get_value()
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(diffs, (X[1:] - X[:-1]).sum(axis=1), rtol=1e-5, atol=1e-6)
        assert probs.shape == (n, 2) and diffs.shape == (n - 1,)
    assert f.program is program


def test_input_arrays_that_need_converting(backend: str) -> None:
    x = gc.tensor("x", ("n", 2))
    f = gc.function([x], x * 1.0 + 0.0, backend=backend)
    base = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(base[:, ::2]), base[:, ::2])  # strided view
    np.testing.assert_array_equal(f(np.asfortranarray(base[:2, :2])), base[:2, :2])
    np.testing.assert_array_equal(f(base[:2, :2].astype(">f8")), base[:2, :2])  # big-endian
    np.testing.assert_array_equal(f([[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]])  # nested lists


# -- the compiled graph is a private copy --------------------------------------------------------------------
def test_compiling_does_not_change_the_user_graph(backend: str) -> None:
    x = gc.vector("x")
    y = gc.log(gc.exp(x) * 1.0 + 0.0).sum()
    before = gc.debugprint(y, file=io.StringIO())
    f = gc.function([x], y, backend=backend)
    assert gc.debugprint(y, file=io.StringIO()) == before
    assert f.fgraph.outputs == [y]
    assert float(f([0.0, 1.0])) == pytest.approx(1.0)


def test_optimize_levels_agree(backend: str) -> None:
    x = gc.tensor("x", ("n", 4))
    y = gc.log(gc.softmax(x * 1.0 + 0.0)) - gc.log1p(gc.exp(x)) + (x - x)
    a = np.random.default_rng(2).standard_normal((3, 4))
    fast = gc.function([x], y, backend=backend, optimize="fast")
    none = gc.function([x], y, backend=backend, optimize="none")
    assert none.reports == [] and none.report() == "no passes ran"
    np.testing.assert_allclose(fast(a), none(a), rtol=1e-12, atol=1e-12)
    assert fast.report() == "\n".join(str(r) for r in fast.reports)
    assert f"backend={backend}" in repr(fast)


# -- generated source and debugprint -------------------------------------------------------------------------
def test_numpy_source_is_readable() -> None:
    x = gc.tensor("x", ("n", 3), "float32")
    W = gc.shared(np.ones((3, 2), np.float32), name="W")
    y, line = gc.tanh(x @ W), here()
    f = gc.function([x], y.sum(axis=1), backend="numpy", optimize="none")
    src = f.source
    assert src.startswith("def compiled(in0, in1):")  # identifiers are ours; user names are in comments
    assert "# in0: input 'x' 'float32(n, 3)'" in src and "# in1: shared 'W' 'float32(3, 2)'" in src
    assert "d0 = in0.shape[0]  # 'n'" in src
    assert "np.matmul(in0, in1)" in src and "np.tanh(" in src and "np.sum(" in src
    assert f"# matmul  built at '{os.path.basename(__file__)}:{line}'" in src
    compile(src, "<test>", "exec")  # it is valid Python
    assert gc.function([x], y, backend="interp").source is None


def test_numpy_source_avoids_name_clashes() -> None:
    a = gc.tensor("np", (2,))  # a user name that would shadow the module in generated code
    b = gc.tensor("v1", (2,))  # and one that looks like our temporaries
    c = gc.tensor("lambda", (2,))  # and a keyword
    f = gc.function([a, b, c], a * b + c, backend="numpy", optimize="none")
    np.testing.assert_array_equal(f([1.0, 2.0], [3.0, 4.0], [1.0, 1.0]), [4.0, 9.0])
    assert "def compiled(in0, in1, in2):" in f.source


def test_debugprint_of_a_variable() -> None:
    x = gc.tensor("x", ("n", 3), "float32")
    W = gc.shared(np.ones((3, 2), np.float32), name="W")
    h = gc.tanh(x @ W)
    h.name = "h"
    y, line = (h * h).sum() + h.mean(), here()
    buffer = io.StringIO()
    text = gc.debugprint(y, file=buffer, origins=True)
    assert buffer.getvalue() == text + "\n"
    lines = text.splitlines()
    assert lines[0].startswith("#1 add -> ? [float32()]")
    assert f"@ {os.path.basename(__file__)}:{line}" in lines[0]
    assert any(ln.strip() == "└ x [float32(n, 3)]" for ln in lines)
    assert any(ln.strip() == "└ shared W [float32(3, 2)]" for ln in lines)
    assert any("sum{axis=(0, 1), keepdims=False}" in ln for ln in lines)
    # h is used three times but printed in full once; later uses refer to it by number
    full = [ln for ln in lines if "tanh -> h" in ln and "#" in ln]
    refs = [ln for ln in lines if "tanh -> h" in ln and "*" in ln]
    assert len(full) == 1 and len(refs) == 2
    assert lines[1].startswith("  └ ") and lines[2].startswith("    └ ")  # indented by depth


def test_debugprint_of_a_list_and_a_function(backend: str) -> None:
    x = gc.vector("x")
    W = gc.shared(np.zeros(2), name="W")
    text = gc.debugprint([x * 2, x + 1], file=io.StringIO())
    assert "output 0:" in text and "output 1:" in text and "mul" in text and "add" in text
    f = gc.function([x], (x * 2).sum(), updates={W: W + 1.0}, backend=backend)
    text = gc.debugprint(f, file=io.StringIO())
    assert "output 0:" in text and "update W:" in text and "shared W [float64(2,)]" in text


def test_outputs_that_are_intermediates_of_each_other(backend: str) -> None:
    # fusion turns these into one multi-output kernel that reuses buffers: no output may be overwritten
    x = gc.tensor("x", ("n", 3))
    a = gc.exp(x)
    b = a * 2.0 - x
    outputs = [a, b, a * b, (a + b).sum(axis=1), gc.tanh(b), x]
    f = gc.function([x], outputs, backend=backend)
    X = np.random.default_rng(3).standard_normal((4, 3))
    A_, B_ = np.exp(X), np.exp(X) * 2.0 - X
    expected = [A_, B_, A_ * B_, (A_ + B_).sum(axis=1), np.tanh(B_), X]
    for got, want in zip(f(X), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_names_that_clash_with_generated_code(backend: str) -> None:
    # input and size names that would shadow what generated code uses: np, int, a keyword, a temporary
    a = gc.tensor("int", ("np", "lambda"))
    b = gc.tensor("v1", ("np",))
    f = gc.function([a, b], [gc.reshape(a, (-1,)) * 2.0, a[1:].sum(axis=1) + b[1:]], backend=backend)
    A_, B_ = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0])
    flat, tail = f(A_, B_)
    np.testing.assert_array_equal(flat, A_.reshape(-1) * 2.0)
    np.testing.assert_array_equal(tail, A_[1:].sum(axis=1) + B_[1:])


def test_a_single_input_need_not_be_a_list(backend: str) -> None:
    x = gc.vector("x")
    np.testing.assert_array_equal(gc.function(x, x + 1, backend=backend)([1.0]), [2.0])


def test_the_direct_call_path_checks_like_the_general_one(backend: str) -> None:
    """A function with no shared values calls straight through one closure on llvm; whatever the fast check
    does not accept still gets the general path's conversions and errors."""
    x, y = gc.vector("x"), gc.vector("y")
    f = gc.function([x, y], [x * y, x + y], backend=backend)
    a, b = np.arange(4.0), np.ones(4)
    got = f(a, b)
    assert isinstance(got, tuple) and isinstance(f, gc.Function)
    np.testing.assert_array_equal(got[0], a * b)
    np.testing.assert_array_equal(f([0, 1, 2, 3], b)[1], a + b)  # a list is converted
    np.testing.assert_array_equal(f(np.arange(8.0)[::2], b)[0], np.arange(8.0)[::2])  # a strided view
    with pytest.raises(gc.InputError, match="expected 2 inputs"):
        f(a)
    with pytest.raises(gc.DTypeError, match="x: expected float64, got complex128"):
        f(a.astype(complex), b)
    with pytest.raises(gc.ShapeError, match=r"x.0 = 4 and y.0 = 5 at this call"):
        f(a, np.ones(5))


def test_a_number_as_the_one_output(backend: str) -> None:
    f = gc.function([gc.vector("x")], 1.5, backend=backend)
    assert f(np.zeros(2)) == 1.5
