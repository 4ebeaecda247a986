"""graphc.dims: the size algebra of shapes (no sympy). Results agree with integer arithmetic at every value of
the sizes, equal sizes compare equal however they were built, and the Python form computes the same value."""

from __future__ import annotations

import operator

from hypothesis import given, settings
from hypothesis import strategies as st

from graphc.dims import (
    AnonymousSize,
    NamedSize,
    Poly,
    divide,
    evaluate,
    exact_quotient,
    is_polynomial,
    sizes_in,
    substitute,
    to_python,
)

N, M = NamedSize("n"), NamedSize("m")
X0 = AnonymousSize("x.0")
ATOMS = [N, M, X0]


def dims(depth: int = 3):
    """Random dimensions built from the three sizes and small ints with + - * and floor/ceiling division."""
    leaves = st.one_of(st.sampled_from(ATOMS), st.integers(-4, 6))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from([operator.add, operator.sub, operator.mul]), inner, inner).map(
                lambda t: t[0](t[1], t[2])
            ),
            st.tuples(inner, st.integers(1, 4), st.booleans()).map(lambda t: divide(t[0], t[1], t[2])),
        ),
        max_leaves=depth * 2,
    )


def direct(d, values: dict) -> int:
    """The value by plain Python evaluation of the printed form, as generated code computes it."""
    return eval(to_python(d, lambda s: f"v[{ATOMS.index(s)}]"), {"v": [values[a] for a in ATOMS]})  # noqa: S307


@settings(max_examples=60, deadline=None)
@given(dims(), dims(), st.tuples(*(st.integers(1, 9) for _ in ATOMS)))
def test_arithmetic_agrees_with_integers(a, b, numbers) -> None:
    values = dict(zip(ATOMS, numbers, strict=True))
    for op in (operator.add, operator.sub, operator.mul):
        assert evaluate(op(a, b), values) == op(evaluate(a, values), evaluate(b, values))
    assert evaluate(divide(a, 3), values) == evaluate(a, values) // 3
    assert evaluate(divide(a, 3, ceil=True), values) == -(-evaluate(a, values) // 3)
    assert direct(a, values) == evaluate(a, values)


@settings(max_examples=40, deadline=None)
@given(dims(), dims())
def test_one_value_one_form(a, b) -> None:
    """Sums and products are canonical: a + b - b is a, (a + b) * 2 is 2a + 2b, whatever the order."""
    assert a + b - b == a and b + a == a + b and a * b == b * a
    assert (a + b) * 2 == a * 2 + b * 2
    assert hash(a + b) == hash(b + a)


def test_forms_and_printing() -> None:
    assert N - N == 0 and isinstance(N * 0, int) and (N + 1) - 1 is N  # constants are ints, a size is itself
    assert str((N - 2) * 2) == "2*n - 4" and str(N * M + 1) == "m*n + 1" and str(1 - N) == "-n + 1"
    assert str(divide(N + 1, 2)) == "floor((n + 1)/2)" and str(divide(N, 2, ceil=True)) == "ceiling(n/2)"
    assert divide(4 * N + 2, 2) == 2 * N + 1  # exact where every coefficient divides
    assert isinstance(N * M, Poly) and str(X0 * N) == "n*x.0"


def test_named_and_anonymous_sizes() -> None:
    assert NamedSize("n") == N and hash(NamedSize("n")) == hash(N)  # one name, one size
    other = AnonymousSize("x.0")
    assert other != X0 and str(other) == str(X0)  # alike in print, two sizes
    assert sizes_in(divide(N * X0, 2) + M) == {N, M, X0}


def test_exact_quotients_for_reshape() -> None:
    assert exact_quotient(6 * N * M, 3 * M) == 2 * N
    assert exact_quotient(2 * N + 2, N + 1) == 2
    assert (
        exact_quotient(N * M, 2) is None and exact_quotient(N, N - 1) is None and exact_quotient(N, M) is None
    )


def test_substitution_and_division() -> None:
    assert substitute(N * M + X0, {N: 2, X0: M}) == 3 * M
    assert is_polynomial(N * M - 1) and not is_polynomial(divide(N, 2) + 1)
    assert evaluate(divide(N - 3, 2) + 1, {N: 9}) == 4
