"""Never code from data (issue 17): names and strings that reach generated code or a parser cannot run, shadow
or collide. The numpy backend's source uses only identifiers graphc makes; user names appear in comments,
repr-escaped. gc.elementwise refuses strings (sympy would eval them); gc.onnx.load refuses string tensors."""

from __future__ import annotations

import io
import tokenize

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc.dims import NamedSize


@pytest.mark.parametrize("named", [True, False])
def test_a_size_named_like_code_does_not_run(backend, capfd, named) -> None:
    """A size named like code, or an anonymous size of an input named like code (its label is the name's)."""
    code = "a=0; print('INJECTED'); b"
    x = gc.tensor("x", (NamedSize(code), 2)) if named else gc.tensor(code, (None, 2))
    f = gc.function([x], gc.reshape(x * 2.0, (-1,)), backend=backend)
    np.testing.assert_array_equal(f(np.ones((3, 2))), np.full(6, 2.0))
    assert "INJECTED" not in capfd.readouterr().out
    if backend == "numpy":
        assert "INJECTED" in f.source and not outside_comments(f.source, "INJECTED")


def outside_comments(source: str, text: str) -> list[str]:
    """The tokens of `source` other than comments that contain `text`."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [t.string for t in tokens if text in t.string and t.type != tokenize.COMMENT]


def test_a_name_with_a_newline_stays_in_its_comment() -> None:
    x = gc.tensor("x\nimport os; os.exit(1)", (NamedSize("n\u2028raise SystemExit"),))
    f = gc.function([x], x + 1.0, backend="numpy")
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
    assert not outside_comments(f.source, "import") and not outside_comments(f.source, "raise")


def test_sizes_named_np_and_size_np_do_not_collide(backend) -> None:
    x = gc.tensor("x", ("np", "size_np"))
    y = gc.tensor("np", ("size_np",))  # an input named like the module, too
    f = gc.function(
        [x, y], [gc.reshape(x, (-1,)), gc.broadcast_to(y, ("np", "size_np")) + x], backend=backend
    )
    a, b = np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0, 30.0])
    flat, total = f(a, b)
    assert flat.shape == (6,) and total.shape == (2, 3)
    np.testing.assert_array_equal(total, a + b)


def test_names_equal_after_nfkc_normalisation_do_not_collide(backend) -> None:
    """Python reads the identifiers 'ﬁ' (U+FB01) and 'fi' as the same name."""
    a = gc.tensor("fi", ("fi",))
    b = gc.tensor("\ufb01", ("\ufb01",))
    f = gc.function([a, b], [a * 2.0, b + 1.0], backend=backend)
    got_a, got_b = f(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(got_a, [2.0, 2.0])
    np.testing.assert_array_equal(got_b, [2.0, 2.0, 2.0])


def test_function_names_that_are_not_identifiers(backend) -> None:
    twice = gc.elementwise("2x", lambda x: 2 * x)
    spaced = gc.elementwise("my fn (v2)", lambda x: x + 1)
    x = gc.vector("x")
    f = gc.function([x], [twice(x), spaced(x)], backend=backend, optimize="none")
    got = f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(got[0], [2.0, 4.0])
    np.testing.assert_array_equal(got[1], [2.0, 3.0])


def test_an_input_named_like_a_function_does_not_shadow_it(backend) -> None:
    inc = gc.elementwise("inc", lambda x: x + 1)
    x = gc.vector(inc.key)  # the function's internal key, as an input name
    f = gc.function([x], inc(x) * 3.0, backend=backend, optimize="none")
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [6.0, 9.0])


def test_sizes_of_strided_slices_of_named_sizes(backend) -> None:
    """The size of x[::2] is ceiling(n/2): printed as integer arithmetic, not as sympy's `ceiling`."""
    x = gc.vector("x", "n")
    m = gc.matrix("m", ("n", "k"))
    f = gc.function([x, m], [gc.reshape(x[::2], (-1, 1)), gc.reshape(m[1::3], (-1,))], backend=backend)
    for n in (4, 5, 7):
        a, b = np.arange(float(n)), np.arange(3.0 * n).reshape(n, 3)
        col, flat = f(a, b)
        np.testing.assert_array_equal(col, a[::2].reshape(-1, 1))
        np.testing.assert_array_equal(flat, b[1::3].reshape(-1))


def test_elementwise_refuses_strings() -> None:
    x = sympy.Symbol("x")
    with pytest.raises(gc.GraphcError, match="strings are not parsed: sympy's parser runs Python's eval"):
        gc.elementwise("f", "__import__('os').getpid()", args=(x,))
    with pytest.raises(gc.GraphcError, match="not str"):
        gc.elementwise("g", lambda x: "x + 1")
    with pytest.raises(gc.GraphcError, match="must be sympy Symbols"):
        gc.elementwise("h", sympy.Symbol("y") + 1, args=("y",))
    third = gc.elementwise("third", sympy.Rational(1, 3) * x, args=(x,))  # expressions and numbers still work
    assert gc.elementwise("one", 1.0, args=(x,)).expr == 1.0
    np.testing.assert_allclose(gc.function([v := gc.vector("v")], third(v))(np.array([3.0])), [1.0])


def test_onnx_string_tensors_are_refused_not_evaluated(capfd) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    code = helper.make_tensor("c", TensorProto.STRING, [], [b'__import__("builtins").print("INJECTED") or 1'])
    node = helper.make_node("Constant", [], ["y"], value=code)
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.INT64, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(gc.GraphcError, match="a Constant of ONNX element type 8"):
        gc.onnx.load(model.SerializeToString())
    assert "INJECTED" not in capfd.readouterr().out
    assert onnx is not None


def test_size_expressions_print_as_exact_integer_python() -> None:
    """Ceiling and floor quotients as floor divisions: exact where floats are not (n near 2**62)."""
    from graphc.dims import evaluate, to_python

    n, m = gc.types.symbol("n"), gc.types.symbol("m")
    exprs = [(n - 1 + 2) // 3, n // 2 + m, 2 * ((n + 1) // 2), n * m - 3, n**2]
    for a, b in ((2**62 + 1, 5), (7, 1), (1, 9)):
        for e in exprs:
            code = to_python(e, {n: "a", m: "b"}.__getitem__)
            assert eval(code, {}, {"a": a, "b": b}) == evaluate(e, {n: a, m: b}), code
            assert "." not in code, code  # no float division anywhere


def test_an_argument_named_like_code_in_an_elementwise_function(backend, capfd) -> None:
    """sympy's lambdify writes Python source too: an argument that is no identifier is renamed there."""
    s = sympy.Symbol("a=0; print('INJECTED'); b", real=True)
    affine = gc.elementwise("affine", s * 2 + 1, args=(s,))
    x = gc.vector("x")
    f = gc.function([x], [affine(x), gc.grad(gc.sum(affine(x) ** 2.0), x)], backend=backend)
    value, slope = f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(value, [3.0, 5.0])
    np.testing.assert_array_equal(slope, [12.0, 20.0])
    assert "INJECTED" not in capfd.readouterr().out
