"""Sizes known only at call time and the small algebra shapes need: sums and products of sizes with integer
coefficients, and division by a number (floor or ceiling: slices with a step, strided windows). Core layer;
imports nothing, so `import graphc` does not pay for sympy.
(Over 300 lines: one canonical form with its arithmetic, evaluation and printing, which must agree.)

A dimension is an int, a Size (`NamedSize("n")`: one name is one size; `AnonymousSize("x.0")`: a size the
user did not name, its input's own), or a Poly of them. Every result is kept in one canonical form: equal
sizes compare equal with ==, a constant is an int, and a lone size is the Size itself.

    >>> from graphc.dims import NamedSize, evaluate
    >>> n, m = NamedSize("n"), NamedSize("m")
    >>> (n - 2) * 2, n * m + 1 == 1 + m * n, (n + 1) // 2
    (2*n - 4, True, floor((n + 1)/2))
    >>> evaluate((n + 1) // 2, {n: 4})
    2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import count
from numbers import Integral

_serials = count()


class Dim:
    """Arithmetic shared by every symbolic dimension: + - * with ints and dims, // by a positive int."""

    __slots__ = ()

    def __add__(self, other):
        return _combine(self, other, 1)

    __radd__ = __add__

    def __sub__(self, other):
        return _combine(self, other, -1)

    def __rsub__(self, other):
        return _combine(other, self, -1)

    def __neg__(self):
        return _make({m: -c for m, c in _terms(self).items()})

    def __mul__(self, other):
        if not isinstance(other, Integral | Dim):
            return NotImplemented
        product: dict = {}
        for ma, ca in _terms(self).items():
            for mb, cb in _terms(other).items():
                key = _multiply(ma, mb)
                product[key] = product.get(key, 0) + ca * cb
        return _make(product)

    __rmul__ = __mul__

    def __pow__(self, exponent: int):
        if not isinstance(exponent, int) or exponent < 0:
            return NotImplemented
        result = 1
        for _ in range(exponent):
            result = result * self
        return result

    def __floordiv__(self, divisor: int):
        return divide(self, divisor)


class Size(Dim):
    """An atom: a size read off an input's shape at call time."""

    __slots__ = ("name", "serial")

    def __init__(self, name: str):
        self.name = name
        self.serial = next(_serials)  # orders anonymous sizes that share a label

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name

    def sort_key(self) -> tuple:
        return (0, self.name, self.serial if isinstance(self, AnonymousSize) else 0)


class NamedSize(Size):
    """A size the user named ("n"): every NamedSize("n") is the same size."""

    __slots__ = ()

    def __eq__(self, other) -> bool:
        return type(other) is NamedSize and other.name == self.name

    def __hash__(self) -> int:
        return hash(("size", self.name))


class AnonymousSize(Size):
    """A size the user did not name, fresh per input: ``x.0`` is axis 0 of the input x. Two anonymous sizes
    are two sizes even when they print alike; an op that needs them equal unifies them (graphc.types.unify).
    """

    __slots__ = ()

    __eq__ = object.__eq__
    __hash__ = object.__hash__


class Quotient(Dim):
    """⌊numerator / divisor⌋ or ⌈numerator / divisor⌉ for a positive int divisor, where it is not exact."""

    __slots__ = ("numerator", "divisor", "ceil", "_hash")

    def __init__(self, numerator, divisor: int, ceil: bool):
        self.numerator, self.divisor, self.ceil = numerator, divisor, ceil
        self._hash = hash(("quotient", numerator, divisor, ceil))

    def __eq__(self, other) -> bool:
        return (
            type(other) is Quotient
            and (other.divisor, other.ceil) == (self.divisor, self.ceil)
            and other.numerator == self.numerator
        )

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        sum_ = isinstance(self.numerator, Poly) and len(self.numerator.terms) > 1
        numerator = f"({self.numerator})" if sum_ else str(self.numerator)
        return f"{'ceiling' if self.ceil else 'floor'}({numerator}/{self.divisor})"

    __repr__ = __str__

    def sort_key(self) -> tuple:
        return (1, str(self.numerator), self.divisor, self.ceil)


class Poly(Dim):
    """Σ coefficient · Π atomᵉˣᵖ over sizes and quotients, with int coefficients, in canonical order."""

    __slots__ = ("terms", "_hash")

    def __init__(self, terms: tuple):
        self.terms = terms  # ((monomial, coefficient), ...); a monomial is ((atom, exponent), ...)
        self._hash = hash(terms)

    def __eq__(self, other) -> bool:
        return type(other) is Poly and other.terms == self.terms

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return _format(self, str)

    __repr__ = __str__


# --- canonical form -----------------------------------------------------------------------------------------
def _terms(d) -> dict:
    if isinstance(d, Integral):
        return {(): int(d)} if d else {}
    if isinstance(d, Poly):
        return dict(d.terms)
    return {((d, 1),): 1}


def _multiply(a: tuple, b: tuple) -> tuple:
    powers = dict(a)
    for atom, exponent in b:
        powers[atom] = powers.get(atom, 0) + exponent
    return tuple(sorted(powers.items(), key=lambda item: item[0].sort_key()))


def _combine(a, b, sign: int):
    if not isinstance(a, Integral | Dim) or not isinstance(b, Integral | Dim):
        return NotImplemented
    terms = _terms(a)
    for monomial, c in _terms(b).items():
        terms[monomial] = terms.get(monomial, 0) + sign * c
    return _make(terms)


def _degree_key(item) -> tuple:
    monomial, _ = item
    return (-sum(e for _, e in monomial), tuple((a.sort_key(), e) for a, e in monomial))


def _make(terms: dict):
    """The canonical dimension of a {monomial: coefficient} map: an int, a lone atom, or a Poly."""
    terms = {m: c for m, c in terms.items() if c}
    if not terms:
        return 0
    if len(terms) == 1:
        ((monomial, c),) = terms.items()
        if not monomial:
            return c
        if c == 1 and len(monomial) == 1 and monomial[0][1] == 1:
            return monomial[0][0]
    return Poly(tuple(sorted(terms.items(), key=_degree_key)))


def divide(d, divisor: int, ceil: bool = False):
    """⌊d / divisor⌋ (⌈d / divisor⌉ with ceil) for a positive int divisor: exact where every coefficient
    divides, else a Quotient."""
    if not isinstance(divisor, int) or divisor <= 0:
        raise ValueError(f"a size can be divided by a positive int only, not {divisor!r}")
    if isinstance(d, int):
        return -(-d // divisor) if ceil else d // divisor
    terms = _terms(d)
    if all(c % divisor == 0 for c in terms.values()):
        return _make({m: c // divisor for m, c in terms.items()})
    return Quotient(d, divisor, ceil)


def exact_quotient(a, b):
    """a / b where it is a dimension for every value of the sizes (n·m / m = n, 6·n / 3 = 2·n), else None."""
    if isinstance(b, int):
        if b == 0:
            return None
        terms = _terms(a)
        return (
            _make({m: c // b for m, c in terms.items()}) if all(c % b == 0 for c in terms.values()) else None
        )
    divisor = _terms(b)
    if len(divisor) == 1:  # a monomial: divide term by term
        ((dm, dc),) = divisor.items()
        out = {}
        for monomial, c in _terms(a).items():
            powers = dict(monomial)
            for atom, e in dm:
                powers[atom] = powers.get(atom, 0) - e
            if c % dc or any(e < 0 for e in powers.values()):
                return None
            out[_multiply(tuple((k, e) for k, e in powers.items() if e), ())] = c // dc
        return _make(out)
    lead_a, lead_b = (max(_terms(x).items(), key=_degree_key) for x in (a, b))
    factor = lead_a[1] // lead_b[1] if lead_a[0] == lead_b[0] and lead_a[1] % lead_b[1] == 0 else None
    return factor if factor is not None and b * factor == a else None


# --- reading a dimension ------------------------------------------------------------------------------------
def sizes_in(d) -> set[Size]:
    """The sizes a dimension depends on (inside quotients too)."""
    found: set[Size] = set()
    stack = [d]
    while stack:
        d = stack.pop()
        if isinstance(d, Size):
            found.add(d)
        elif isinstance(d, Quotient):
            stack.append(d.numerator)
        elif isinstance(d, Poly):
            stack.extend(atom for monomial, _ in d.terms for atom, _ in monomial)
    return found


def is_polynomial(d) -> bool:
    """Sums and products of sizes only (no division): what native code computes itself."""
    return not isinstance(d, Quotient) and not (
        isinstance(d, Poly) and any(isinstance(a, Quotient) for m, _ in d.terms for a, _ in m)
    )


def monomials(d) -> list[tuple[int, tuple]]:
    """[(coefficient, ((atom, exponent), ...)), ...]: d as a sum of products, for code generators."""
    return [(c, m) for m, c in _terms(d).items()]


def substitute(d, values: Mapping):
    """d with each size in `values` replaced (by an int or another dimension)."""
    if isinstance(d, int):
        return d
    if isinstance(d, Size):
        return values.get(d, d)
    if isinstance(d, Quotient):
        return divide(substitute(d.numerator, values), d.divisor, d.ceil)
    total = 0
    for monomial, c in d.terms:
        term = c
        for atom, e in monomial:
            term = term * substitute(atom, values) ** e
        total = total + term
    return total


def evaluate(d, sizes: Mapping) -> int:
    """The value of d once the call binds its sizes (a KeyError names a size `sizes` lacks)."""
    value = substitute(d, sizes)
    if not isinstance(value, int):
        missing = ", ".join(sorted(str(s) for s in sizes_in(value)))
        raise KeyError(missing)
    return value


def to_python(d, spell: Callable[[Size], str]) -> str:
    """d as a Python expression over ints (`spell` names each size): floor as //, ceiling as -(-a // b)."""
    if isinstance(d, int):
        return str(d)
    if isinstance(d, Size):
        return spell(d)
    if isinstance(d, Quotient):
        inner = to_python(d.numerator, spell)
        return f"(-(-({inner}) // {d.divisor}))" if d.ceil else f"(({inner}) // {d.divisor})"
    return _format(d, lambda atom: to_python(atom, spell))


def _format(d: Poly, show: Callable) -> str:
    parts = []
    for monomial, c in d.terms:
        factors = [show(a) if e == 1 else f"{show(a)}**{e}" for a, e in monomial]
        magnitude = abs(c)
        text = "*".join(([str(magnitude)] if magnitude != 1 or not factors else []) + factors)
        parts.append((c < 0, text))
    negative, first = parts[0]
    out = ("-" if negative else "") + first
    for negative, text in parts[1:]:
        out += f" - {text}" if negative else f" + {text}"
    return out


def product(dims: Iterable):
    """The product of dimensions (1 for none)."""
    total = 1
    for d in dims:
        total = total * d
    return total


__all__ = [
    "Dim", "Size", "NamedSize", "AnonymousSize", "Quotient", "Poly", "divide", "exact_quotient", "sizes_in",
    "is_polynomial", "monomials", "substitute", "evaluate", "to_python", "product",
]  # fmt: skip
