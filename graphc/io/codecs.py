"""How values are written in a graphc file and read back without running code. Owns CODECS and the sympy
allow-lists; knows the core only.
(Over 300 lines: each codec's writer beside its reader, so that a tag is read in one place.)

A value is itself in JSON when it is None, a bool, a str, an int or a finite float; a tuple is a JSON array;
anything else is a one-key object ``{tag: payload}`` with the tag of a row of CODECS:

    {"float": "nan"}                 nan, inf, -inf (JSON has no spelling for them)
    {"dtype": "float32"}             a NumPy dtype graphc supports
    {"dim": ["Add", ["Symbol", "n"], -2]}        a size expression, as a tree (never a string to parse)
    {"slice": [start, stop, step]}   a Python slice
    {"fn": 0}                        a ScalarFunction, by its index in the file's "functions" table
    {"graph": {...}}                 a sub-graph (an op with a body), encoded like the top-level graph

Extension point: a param of a new Python type needs one Codec row (tag, type, encode, decode); the Writer and
Reader (graphc.io.graphs) give a codec the file's tables. A type with no row is refused when the file is
*written*, naming the op and the param. Decoding dispatches on the tag alone, so keys such as ``__class__`` or
``__reduce__`` are only unknown tags.

Sympy trees: ``[name, *args]`` where name is a key of an allow-list (DIM_NODES for sizes, FN_NODES for
elementwise functions) and the class is called with already-decoded arguments; Integer is a JSON int,
``["Rational", p, q]``, ``["Float", x]`` (53-bit), ``["Symbol", name]`` (plus its assumptions when they
differ from the context's default symbol). Sizes (graphc.dims, no sympy) are written as the same trees, plus
``["Anonymous", k, "x.0"]``: the file's k-th size the user did not name, shown as x.0 (every use of k is one
size).
Nothing is ever given to ``sympify`` or ``eval``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy.core.assumptions import _assume_defined
from sympy.functions.elementary.piecewise import ExprCondPair

from graphc.dims import AnonymousSize, Dim, NamedSize, Quotient, divide, monomials, product
from graphc.elementwise import ScalarFunction
from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.types import DTYPES, symbol

from .archive import fail

MAX_DEPTH = 64  # nesting of tuples and expression trees; deeper is a hostile or broken file

DIM_NODES: dict[str, type] = {
    "Add": sympy.Add, "Mul": sympy.Mul, "Pow": sympy.Pow, "Mod": sympy.Mod,
    "floor": sympy.floor, "ceiling": sympy.ceiling, "Max": sympy.Max, "Min": sympy.Min,
}  # fmt: skip
"""Sympy classes a size expression may use (conv and slice arithmetic); called only on decoded args."""

FN_NODES: dict[str, type] = {
    **DIM_NODES,
    **{f.__name__: f for f in (
        sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh, sympy.tanh,
        sympy.asin, sympy.acos, sympy.atan, sympy.asinh, sympy.acosh, sympy.atanh, sympy.atan2,
        sympy.Abs, sympy.sign, sympy.Heaviside, sympy.DiracDelta, sympy.erf, sympy.erfc, sympy.Piecewise,
        ExprCondPair, sympy.And, sympy.Or, sympy.Not,
    )},
    **{c.__name__: c for c in (
        sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan, sympy.Equality,
        sympy.Unequality,
    )},
}  # fmt: skip
"""Sympy classes a gc.elementwise expression may use: the functions graphc's backends lower."""

_ATOMS: dict[str, Any] = {
    "pi": sympy.pi, "E": sympy.E, "oo": sympy.oo, "-oo": sympy.S.NegativeInfinity, "nan": sympy.nan,
    "true": sympy.true, "false": sympy.false,
}  # fmt: skip
_ATOM_NAMES = {id(v): k for k, v in _ATOMS.items()}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# --- sympy trees --------------------------------------------------------------------------------------------
def encode_tree(
    expr,
    nodes: dict[str, type],
    default_symbol: Callable[[str], sympy.Symbol],
    depth: int = 0,
):
    """A sympy expression as JSON: nested lists over the allow-list `nodes` (see the module docstring)."""
    if depth > MAX_DEPTH:
        raise GraphcError(f"the expression {expr} is nested too deeply to save (over {MAX_DEPTH} levels)")
    if isinstance(expr, sympy.Integer):
        return int(expr)
    if id(expr) in _ATOM_NAMES:
        return [_ATOM_NAMES[id(expr)]]
    if isinstance(expr, sympy.Rational):
        return ["Rational", int(expr.p), int(expr.q)]
    if isinstance(expr, sympy.Float):
        if expr._prec != 53:
            raise GraphcError(f"cannot save the {expr._prec}-bit sympy Float {expr}: only 53-bit floats")
        return ["Float", encode_float(float(expr))]
    if type(expr) is sympy.Symbol:
        if expr == default_symbol(expr.name):
            return ["Symbol", expr.name]
        return ["Symbol", expr.name, dict(sorted(expr.assumptions0.items()))]
    name = type(expr).__name__
    if nodes.get(name) is not type(expr):
        allowed = ", ".join(sorted(nodes))
        raise GraphcError(f"cannot save the sympy {name} in {expr}: a graphc file may use only {allowed}")
    return [name, *(encode_tree(a, nodes, default_symbol, depth + 1) for a in expr.args)]


def decode_tree(tree, nodes: dict[str, type], resolve: Callable[[str, dict | None], sympy.Symbol],
                depth: int = 0):  # fmt: skip
    """The sympy expression of `tree`, built only from allow-listed classes and resolved symbols."""
    if depth > MAX_DEPTH:
        raise fail(f"an expression is nested deeper than {MAX_DEPTH} levels")
    if type(tree) is int:
        return sympy.Integer(tree)
    if type(tree) is not list or not tree or type(tree[0]) is not str:
        raise fail(f"{_show(tree)} is not an expression tree")
    head, args = tree[0], tree[1:]
    if head in _ATOMS and not args:
        return _ATOMS[head]
    if head == "Rational" and len(args) == 2 and all(type(a) is int for a in args) and args[1] > 0:
        return sympy.Rational(*args)
    if head == "Float" and len(args) == 1:
        return sympy.Float(decode_float(args[0]))
    if head == "Symbol" and len(args) in (1, 2) and type(args[0]) is str:
        return resolve(args[0], _assumptions(args[1]) if len(args) == 2 else None)
    if head not in nodes:
        raise fail(
            f"the expression node {head!r} is not one graphc reads (allowed: {', '.join(sorted(nodes))})"
        )
    return nodes[head](*(decode_tree(a, nodes, resolve, depth + 1) for a in args))


def _assumptions(value) -> dict:
    if type(value) is not dict or not all(k in _assume_defined and type(v) is bool for k, v in value.items()):
        raise fail(f"{_show(value)} are not sympy assumptions")
    return value


# --- sizes (graphc.dims), written as the trees sympy would write them ---------------------------------------
def encode_dim(d, writer):
    """A size expression as a tree: ["Symbol", "n"], ["Anonymous", k, "x.0"], ["Add", ...], ["Mul", ...],
    ["Pow", size, e], ["floor" | "ceiling", ["Mul", ["Rational", 1, k], numerator]]."""
    if isinstance(d, int):
        return d
    if isinstance(d, NamedSize):
        if not d.name.isidentifier():
            raise GraphcError(f"cannot save the size {d}: size names must be identifiers")
        return ["Symbol", d.name]
    if isinstance(d, AnonymousSize):
        return ["Anonymous", writer.size_index(d), d.name]
    if isinstance(d, Quotient):
        return [
            "ceiling" if d.ceil else "floor",
            ["Mul", ["Rational", 1, d.divisor], encode_dim(d.numerator, writer)],
        ]
    terms = []
    for coefficient, monomial in monomials(d):
        factors = [
            encode_dim(a, writer) if e == 1 else ["Pow", encode_dim(a, writer), e] for a, e in monomial
        ]
        factors = ([coefficient] if coefficient != 1 else []) + factors
        terms.append(factors[0] if len(factors) == 1 else ["Mul", *factors])
    return terms[0] if len(terms) == 1 else ["Add", *terms]


def decode_dim(tree, reader, depth: int = 0):
    """The size expression of a tree encode_dim (or sympy, in earlier files) wrote; else a FormatError."""
    if depth > MAX_DEPTH:
        raise fail(f"a size expression is nested deeper than {MAX_DEPTH} levels")
    if type(tree) is int:
        return tree
    if type(tree) is not list or not tree or type(tree[0]) is not str:
        raise fail(f"{_show(tree)} is not a size expression")
    head, args = tree[0], tree[1:]
    if head == "Symbol" and len(args) in (1, 2) and type(args[0]) is str:
        if not args[0].isidentifier():
            raise fail(f"the size name {args[0]!r:.40} is not an identifier")
        return symbol(args[0])
    if head == "Anonymous" and len(args) == 2:
        return reader.anonymous_size(*args)
    parts = [decode_dim(a, reader, depth + 1) for a in args] if head in ("Add", "Mul", "Pow") else None
    if head == "Add" and parts:
        return sum(parts[1:], parts[0])
    if head == "Mul" and parts:
        return product(parts)
    if head == "Pow" and len(parts) == 2 and type(parts[1]) is int and 0 <= parts[1] <= 64:
        return parts[0] ** parts[1]
    if head in ("floor", "ceiling") and len(args) == 1:
        numerator, divisor = _over_int(args[0], reader, depth + 1)
        return divide(numerator, divisor, ceil=head == "ceiling")
    raise fail(f"{_show(tree)} is not a size expression graphc reads (sums, products, floor and ceiling)")


def _over_int(tree, reader, depth: int):
    """(numerator, k) of a tree ["Mul", ["Rational", 1, k], ...factors] (a floor's or ceiling's argument)."""
    if type(tree) is list and tree[:1] == ["Mul"]:
        rationals = [a for a in tree[1:] if type(a) is list and a[:1] == ["Rational"]]
        if len(rationals) == 1 and len(rationals[0]) == 3 and rationals[0][1] == 1:
            k = rationals[0][2]
            if type(k) is int and k > 0:
                rest = [decode_dim(a, reader, depth + 1) for a in tree[1:] if a is not rationals[0]]
                return product(rest), k
    return decode_dim(tree, reader, depth), 1


# --- scalar values ------------------------------------------------------------------------------------------
def encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode_float(value) -> float:
    if type(value) in (int, float):
        return float(value)
    if type(value) is dict and len(value) == 1 and value.get("float") in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value["float"]]
    raise fail(f"{_show(value)} is not a number")


def encode_dtype(dtype) -> str:
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise GraphcError(f"cannot save the dtype {name}: graphc files hold {', '.join(DTYPES)}")
    return name


def decode_dtype(value) -> np.dtype:
    if value not in DTYPES:
        raise fail(f"{_show(value)} is not a dtype graphc supports ({', '.join(DTYPES)})")
    return np.dtype(value)


def _show(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the table ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Codec:
    """One kind of value: its tag, the Python types it writes, and how (writer and reader hold the file's
    tables)."""

    tag: str
    types: tuple[type, ...]
    encode: Callable[[Any, Any], Any]  # (writer, value) -> JSON payload
    decode: Callable[[Any, Any], Any]  # (reader, payload) -> value; raises FormatError on bad payloads


def _decode_slice(reader, payload) -> slice:
    if type(payload) is not list or len(payload) != 3:
        raise fail(f"{_show(payload)} is not a slice")
    parts = [decode(reader, p) for p in payload]
    if any(p is not None and type(p) is not int for p in parts):
        raise fail(f"slice bounds must be ints or None, not {_show(payload)}")
    return slice(*parts)


CODECS: list[Codec] = [
    Codec("float", (), None, lambda r, p: decode_float({"float": p})),  # written by encode_float
    Codec("dtype", (np.dtype,), lambda w, d: encode_dtype(d), lambda r, p: decode_dtype(p)),
    Codec("dim", (Dim,), lambda w, d: encode_dim(d, w), lambda r, p: decode_dim(p, r)),
    Codec("slice", (slice,), lambda w, s: [encode(w, s.start), encode(w, s.stop), encode(w, s.step)],
          _decode_slice),
    Codec("fn", (ScalarFunction,), lambda w, f: w.function_index(f), lambda r, p: r.function(p)),
    Codec("graph", (FunctionGraph,), lambda w, g: w.graph(g), lambda r, p: r.graph(p)),
]  # fmt: skip
"""The tagged kinds of value, tried in order by isinstance when writing and looked up by tag when reading."""

_BY_TAG = {c.tag: c for c in CODECS}


def encode(writer, value):
    """`value` as JSON (see the module docstring); raises GraphcError for a type no codec writes."""
    if value is None or type(value) in (bool, str, int):
        return value
    if isinstance(value, (float, np.floating)):
        return encode_float(float(value))
    if isinstance(value, (np.bool_, np.integer)):
        return bool(value) if isinstance(value, np.bool_) else int(value)
    if type(value) is tuple:
        return [encode(writer, v) for v in value]
    for codec in CODECS:
        if isinstance(value, codec.types):
            return {codec.tag: codec.encode(writer, value)}
    raise GraphcError(
        f"graphc files cannot hold a {type(value).__name__} ({_show(value)}); "
        "a new kind of param needs a row in graphc.io.codecs.CODECS"
    )


def decode(reader, value, depth: int = 0):
    """The Python value of JSON written by `encode`; a FormatError for anything else."""
    if value is None or type(value) in (bool, str, int, float):
        return value
    if depth > MAX_DEPTH:
        raise fail(f"a value is nested deeper than {MAX_DEPTH} levels")
    if type(value) is list:
        return tuple(decode(reader, v, depth + 1) for v in value)
    if type(value) is dict and len(value) == 1:
        ((tag, payload),) = value.items()
        if tag in _BY_TAG:
            return _BY_TAG[tag].decode(reader, payload)
        raise fail(f"unknown value tag {tag!r} (graphc reads {', '.join(_BY_TAG)})")
    raise fail(f"{_show(value)} is not a value graphc writes")
