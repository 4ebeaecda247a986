"""Graphs out of a graphc file, trusting nothing in it. Owns the Reader and the field checks; knows the core
only, never the compiler.

Every node is rebuilt through graph.apply, so each op's own shape rule runs again: a file that declares a type
its op does not make is refused, and so is one whose node uses a value before it is made (a cycle). Every
failure is a FormatError saying what is wrong, in the file's terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from graphc.dims import AnonymousSize, Dim
from graphc.elementwise import ScalarFunction
from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable, apply
from graphc.ops import Op
from graphc.shape_rules import ARITY
from graphc.types import Type

from . import codecs
from .archive import Archive, fail
from .graphs import FORMAT, FORMAT_VERSION, MAX_NESTING, graphc_version, real_symbol
from .schema import params_problem

MAX_ZERO_FILLED = 4 << 30  # bytes of shared variables a file may ask for without storing them
MAX_SIZES = 1 << 20  # anonymous sizes a file may number


class Reader:
    """Rebuilds what a Writer wrote, checking every field; everything wrong is a FormatError."""

    def __init__(self, archive: Archive):
        self.archive = archive
        document = archive.document
        check_header(document)
        self._zeros = 0
        self._sizes: dict[int, AnonymousSize] = {}  # the file's anonymous sizes, by number
        self.shared = [self._shared(k, e) for k, e in enumerate(_list(document, "shared"))]
        self.functions = [self._function(k, e) for k, e in enumerate(_list(document, "functions"))]
        self.contents = fields(document.get("contents"), "contents", ("kind",), optional=None)
        self._depth = 0

    # -- tables --------------------------------------------------------------------------------------------
    def type(self, payload, concrete: bool = False) -> Type:
        entry = fields(payload, "a type", ("dtype", "shape"))
        shape = codecs.decode(self, entry["shape"])
        if type(shape) is not tuple or not all(
            (type(d) is int and 0 <= d < 2**62) or (not concrete and isinstance(d, Dim)) for d in shape
        ):
            raise fail(f"{entry['shape']!r:.80} is not a {'concrete ' if concrete else ''}shape")
        return Type(codecs.decode_dtype(entry["dtype"]), shape)

    def anonymous_size(self, k, label) -> AnonymousSize:
        """The file's k-th anonymous size (made on first use), shown as `label` (x.0)."""
        if (
            type(k) is not int
            or not 0 <= k < MAX_SIZES
            or type(label) is not str
            or not 0 < len(label) <= 200
        ):
            raise fail(f"[{k!r:.20}, {label!r:.40}] is not an anonymous size (a number and a label)")
        size = self._sizes.setdefault(k, AnonymousSize(label))
        if size.name != label:
            raise fail(f"anonymous size {k} is labelled both {size.name!r} and {label!r:.40}")
        return size

    def _shared(self, k: int, payload) -> SharedVariable:
        entry = fields(payload, f"shared variable {k}", ("name", "type", "array"))
        type_ = self.type(entry["type"], concrete=True)
        if entry["array"] is None:  # saved without values (gc.save(..., params=False)): zeros to fill
            self._zeros += type_.dtype.itemsize * int(np.prod(type_.shape, dtype=object))
            if self._zeros > MAX_ZERO_FILLED:
                raise fail(f"its shared variables without values would need over {MAX_ZERO_FILLED} bytes")
            value = np.zeros(type_.shape, type_.dtype)
        else:
            value = self.archive.array(entry["array"], type_.dtype, type_.shape)
        return SharedVariable(value, _name(entry["name"]))

    def _function(self, k: int, payload) -> ScalarFunction:
        entry = fields(payload, f"function {k}", ("name", "args", "expr"))
        if type(entry["name"]) is not str or type(entry["args"]) is not list:
            raise fail(f"function {k} needs a name and a list of arguments")

        args = tuple(codecs.decode_tree(a, {}, _argument_symbol) for a in entry["args"])
        if not all(isinstance(a, sympy.Symbol) for a in args):
            raise fail(f"the arguments of function {k} must be symbols")
        if len({a.name for a in args}) != len(args):
            raise fail(f"function {k} names an argument twice")
        by_name = {a.name: a for a in args}

        def resolve(name, assumptions):
            if name not in by_name:
                raise fail(f"function {k} uses the symbol {name!r}, which is not one of its arguments")
            return by_name[name]

        expr = codecs.decode_tree(entry["expr"], codecs.FN_NODES, resolve)
        try:
            return ScalarFunction(entry["name"], args, expr)
        except GraphcError as exc:
            raise fail(f"function {k}: {exc}") from None

    def function(self, index) -> ScalarFunction:
        if type(index) is not int or not 0 <= index < len(self.functions):
            raise fail(f"there is no function {index!r}")
        return self.functions[index]

    def shared_variable(self, index) -> SharedVariable:
        if type(index) is not int or not 0 <= index < len(self.shared):
            raise fail(f"there is no shared variable {index!r}")
        return self.shared[index]

    # -- graphs --------------------------------------------------------------------------------------------
    def graph(self, payload) -> FunctionGraph:
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise fail(f"sub-graphs are nested more than {MAX_NESTING} deep")
        try:
            return self._graph(
                fields(payload, "a graph", ("leaves", "nodes", "inputs", "outputs", "updates"))
            )
        finally:
            self._depth -= 1

    def _graph(self, g: dict) -> FunctionGraph:
        values: list[Variable] = [self._leaf(k, e) for k, e in enumerate(_list(g, "leaves"))]
        for k, payload in enumerate(_list(g, "nodes")):
            values.extend(self._node(k, payload, values))

        def value(i, what: str) -> Variable:
            if type(i) is not int or not 0 <= i < len(values):
                raise fail(f"{what} refers to value {i!r}, which the graph does not make")
            return values[i]

        inputs = [value(i, "an input") for i in _list(g, "inputs")]
        if any(v.owner is not None or isinstance(v, (Constant, SharedVariable)) for v in inputs):
            raise fail("an input of the graph is not an input leaf")
        if len({id(v) for v in inputs}) != len(inputs):
            raise fail("the graph lists an input twice")
        outputs = [value(i, "an output") for i in _list(g, "outputs")]
        updates = []
        for pair in _list(g, "updates"):
            if type(pair) is not list or len(pair) != 2:
                raise fail(f"{pair!r:.80} is not an update [shared variable, value]")
            var, new = self.shared_variable(pair[0]), value(pair[1], "an update")
            if new.type != var.type:
                raise fail(f"the update of {var.name} makes {new.type}, not {var.type}")
            updates.append((var, new))
        if len({id(var) for var, _ in updates}) != len(updates):
            raise fail("a shared variable is updated twice")
        return FunctionGraph(inputs, outputs, updates)

    def _leaf(self, k: int, payload) -> Variable:
        if type(payload) is not dict or len(payload) != 1:
            raise fail(f"leaf {k} is not one of input, constant, shared")
        ((kind, body),) = payload.items()
        if kind == "shared":
            return self.shared_variable(body)
        if kind == "input":
            entry = fields(body, f"input leaf {k}", ("name", "type"))
            return Variable(self.type(entry["type"]), _name(entry["name"]))
        if kind == "constant":
            entry = fields(body, f"constant leaf {k}", ("name", "type", "array"))
            type_ = self.type(entry["type"], concrete=True)
            return Constant(
                self.archive.array(entry["array"], type_.dtype, type_.shape), _name(entry["name"])
            )
        raise fail(f"leaf {k} is a {kind!r:.40}; a leaf is an input, a constant or a shared variable")

    def _node(self, k: int, payload, values: list[Variable]) -> tuple[Variable, ...]:
        entry = fields(payload, f"node {k}", ("op", "inputs", "params", "types", "names", "origin"))
        try:
            op = Op(entry["op"])
        except (ValueError, TypeError):
            known = ", ".join(o.value for o in Op)
            raise fail(
                f"node {k} has the unknown op {entry['op']!r:.40} (this graphc knows {known})"
            ) from None
        where = f"node {k} ({op.value})"
        refs = _list(entry, "inputs")
        for i in refs:
            if type(i) is not int or not 0 <= i < len(values):
                raise fail(
                    f"{where} uses value {i!r}, which is not made before it (a cycle, or a broken file)"
                )
        arity = ARITY[op]
        if (arity is not None and len(refs) != arity) or (arity is None and not refs):
            raise fail(f"{where} has {len(refs)} inputs; {op.value} takes {arity or 'one or more'}")
        if type(entry["params"]) is not dict:
            raise fail(f"{where}: params must be an object")
        params = {name: codecs.decode(self, v) for name, v in entry["params"].items()}
        problem = params_problem(op, params)
        if problem:
            raise fail(f"{where}: {problem}")
        declared = [self.type(t) for t in _list(entry, "types")]
        origin = _origin(entry["origin"], where)
        try:
            made = apply(op, [values[i] for i in refs], origin=origin, **params)
        except GraphcError as exc:
            raise fail(f"{where} does not type-check: {exc}") from None
        except Exception as exc:  # a shape rule meeting values no builder would give it
            raise fail(f"{where} does not type-check ({type(exc).__name__}: {exc})") from None
        made = made if isinstance(made, tuple) else (made,)
        if [v.type for v in made] != declared:
            got = ", ".join(str(v.type) for v in made)
            raise fail(f"{where} declares {', '.join(map(str, declared))}, but {op.value} makes {got}")
        names = _list(entry, "names")
        if len(names) != len(made):
            raise fail(f"{where} names {len(names)} outputs; it makes {len(made)}")
        for v, name in zip(made, names, strict=True):
            v.name = _name(name)
        return made


def _argument_symbol(name: str, assumptions: dict | None) -> sympy.Symbol:
    if not name.isidentifier():
        raise fail(f"the argument name {name!r} is not an identifier")
    return real_symbol(name) if assumptions is None else sympy.Symbol(name, **assumptions)


def check_header(document: dict) -> None:
    """The format name and version, before anything else is read."""
    if document.get("format") != FORMAT:
        raise fail(f"its format is {document.get('format')!r:.40}, not {FORMAT!r}")
    version, writer = document.get("version"), document.get("written_by")
    if type(version) is not int:
        raise fail(f"its format version {version!r:.40} is not a number")
    if version > FORMAT_VERSION:
        raise fail(
            f"it was written by {writer!s:.60} in format version {version}; graphc {graphc_version()} reads "
            f"format version {FORMAT_VERSION} and older (upgrade graphc to read it)"
        )
    if version < 1:
        raise fail(f"format version {version} does not exist")


def fields(payload, what: str, required: Sequence[str], optional: Sequence[str] | None = ()) -> dict:
    """`payload` as a dict with exactly the `required` keys (plus any of `optional`; None: any others)."""
    if type(payload) is not dict:
        raise fail(f"{what} must be an object, not {payload!r:.60}")
    missing = [k for k in required if k not in payload]
    if missing:
        raise fail(f"{what} lacks {', '.join(missing)}")
    if optional is not None:
        extra = sorted(set(payload) - set(required) - set(optional))
        if extra:
            raise fail(f"{what} has unexpected keys {', '.join(map(repr, extra))}")
    return payload


def _list(payload: dict, key: str) -> list:
    value = payload.get(key)
    if type(value) is not list:
        raise fail(f"{key} must be a list, not {value!r:.60}")
    return value


def _name(name) -> str | None:
    if name is not None and type(name) is not str:
        raise fail(f"a name must be a string or null, not {name!r:.60}")
    return name


def _origin(origin, where: str) -> tuple[str, int] | None:
    """[file, line] or null. The file must be printable text: it is shown in messages and in comments of the
    numpy backend's generated source, where a newline would start a line of code."""
    if origin is None:
        return None
    if (
        type(origin) is not list
        or len(origin) != 2
        or type(origin[0]) is not str
        or not origin[0].isprintable()
        or len(origin[0]) > 4096
        or type(origin[1]) is not int
        or origin[1] < 0
    ):
        raise fail(f"{where}: its origin must be [file, line] in printable text, not {origin!r:.60}")
    return origin[0], origin[1]
