"""Graphs into a graphc file: a FunctionGraph as JSON. Owns the Writer (it gathers the file's tables: arrays,
shared variables, elementwise functions) and FunctionSpec; knows the core only, never the compiler.
graphc.io.reading reads it back; the layout is documented in docs/FORMAT.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import sympy

from graphc.elementwise import ScalarFunction
from graphc.errors import GraphcError, where_built
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable
from graphc.types import Type

from . import codecs
from .schema import params_problem

FORMAT = "graphc"
FORMAT_VERSION = 1
MAX_NESTING = 16  # sub-graphs inside sub-graphs


@dataclass
class FunctionSpec:
    """How a compiled function was made: gc.function(graph.inputs, outputs, graph.updates, backend,
    optimize, name), with `single` saying whether outputs was one Variable."""

    graph: FunctionGraph
    backend: str
    optimize: str | list[str]
    name: str | None
    single: bool


class Writer:
    """Collects a file's tables while graphs are encoded; `document(contents)` is the JSON to write."""

    def __init__(self, values: bool = True):
        self.values = values  # False: shared variables are written without their values
        self.arrays: list[np.ndarray] = []
        self.shared: list[dict] = []
        self.functions: list[dict] = []
        self._shared_index: dict[int, int] = {}
        self._function_index: dict[int, int] = {}
        self._size_index: dict = {}  # anonymous size -> its number in this file
        self._alive: list[object] = []  # keeps indexed objects alive so their ids stay theirs
        self._depth = 0

    def array(self, value: np.ndarray, type_: Type) -> int:
        self.arrays.append(np.asarray(value, dtype=np.dtype(type_.dtype.name), order="C"))
        return len(self.arrays) - 1

    def type(self, type_: Type) -> dict:
        return {"dtype": codecs.encode_dtype(type_.dtype), "shape": codecs.encode(self, type_.shape)}

    def size_index(self, size) -> int:
        """The file's number for an anonymous size (x.0): every use of one size writes one number."""
        return self._size_index.setdefault(size, len(self._size_index))

    def shared_index(self, var: SharedVariable) -> int:
        if id(var) not in self._shared_index:
            value = var.get_value(copy=False)
            array = self.array(value, var.type) if self.values else None
            self.shared.append({"name": var.name, "type": self.type(var.type), "array": array})
            self._shared_index[id(var)] = len(self.shared) - 1
            self._alive.append(var)
        return self._shared_index[id(var)]

    def function_index(self, fn: ScalarFunction) -> int:
        if id(fn) not in self._function_index:
            args = [codecs.encode_tree(s, codecs.FN_NODES, real_symbol) for s in fn.symbols]
            expr = codecs.encode_tree(fn.expr, codecs.FN_NODES, real_symbol)
            self.functions.append({"name": fn.name, "args": args, "expr": expr})
            self._function_index[id(fn)] = len(self.functions) - 1
            self._alive.append(fn)
        return self._function_index[id(fn)]

    def graph(self, fg: FunctionGraph) -> dict:
        """A FunctionGraph as {"leaves", "nodes", "inputs", "outputs", "updates"}; value k is leaf k, then
        each node's outputs in order."""
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise GraphcError(f"sub-graphs are nested more than {MAX_NESTING} deep")
        try:
            return self._graph(fg)
        finally:
            self._depth -= 1

    def _graph(self, fg: FunctionGraph) -> dict:
        number: dict[int, int] = {}
        leaves: list[dict] = []
        given = {id(v) for v in fg.inputs}

        def leaf(v: Variable) -> None:
            if id(v) in number or v.owner is not None:
                return
            if isinstance(v, SharedVariable):
                entry = {"shared": self.shared_index(v)}
            elif isinstance(v, Constant):
                array = self.array(v.value, v.type)
                entry = {"constant": {"name": v.name, "type": self.type(v.type), "array": array}}
            elif id(v) in given:
                entry = {"input": {"name": v.name, "type": self.type(v.type)}}
            else:
                raise GraphcError(f"cannot save the graph: it uses {v!r}, which is not among its inputs")
            number[id(v)] = len(leaves)
            leaves.append(entry)

        for v in fg.inputs:
            if v.owner is not None or isinstance(v, (Constant, SharedVariable)):
                raise GraphcError(f"cannot save the graph: its input {v!r} is not a plain input variable")
            leaf(v)
        for node in fg.nodes:
            for v in node.inputs:
                leaf(v)
        for v in fg.roots:
            leaf(v)
        nodes, count = [], len(leaves)
        for node in fg.nodes:
            problem = params_problem(node.op, node.params)
            if problem:
                raise GraphcError(f"cannot save the graph: {problem}{where_built(node.origin)}")
            entry = {
                "op": node.op.value,
                "inputs": [number[id(v)] for v in node.inputs],
                "params": {k: codecs.encode(self, v) for k, v in sorted(node.params.items())},
                "types": [self.type(v.type) for v in node.outputs],
                "names": [v.name for v in node.outputs],
                "origin": list(node.origin) if node.origin else None,
            }
            nodes.append(entry)
            for v in node.outputs:
                number[id(v)] = count
                count += 1
        return {
            "leaves": leaves,
            "nodes": nodes,
            "inputs": [number[id(v)] for v in fg.inputs],
            "outputs": [number[id(v)] for v in fg.outputs],
            "updates": [[self.shared_index(var), number[id(value)]] for var, value in fg.updates],
        }

    def document(self, contents: dict) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "written_by": f"graphc {graphc_version()}",
            "kind": contents["kind"],
            "shared": self.shared,
            "functions": self.functions,
            "contents": contents,
        }


def graphc_version() -> str:
    """graphc's version. The facade (graphc/__init__.py) is loaded before any of its modules, so it is read
    from there, not imported (a module below the facade never imports it)."""
    return getattr(sys.modules.get("graphc"), "__version__", "(unknown)")


def real_symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)
