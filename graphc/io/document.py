"""What a graphc file holds (a graph, a compiled function's recipe, or a named collection of them) and the
pickling hooks. Knows the core only: a function entry is compiled by the `compile` callable its caller passes
(graphc.compile.compile_spec), so this module never imports the compiler.

    contents = {"kind": "graph", "graph": G, "returns": "graph" | "variable"}
             | {"kind": "function", "function": {"graph": G, "backend", "optimize", "name", "single"}}
             | {"kind": "collection", "entries": {name: graph or function contents}}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable, graph_inputs

from . import archive
from .archive import Archive, fail
from .graphs import FunctionSpec, Writer
from .reading import Reader, fields

BACKENDS = ("interp", "numpy", "llvm")


def encode(obj, values: bool = True) -> tuple[dict, list]:
    """The JSON document and the arrays of a file holding `obj`: a compiled function, Variables, a
    FunctionGraph, or a dict of these (one file, shared variables shared between its entries)."""
    writer = Writer(values)
    if isinstance(obj, Mapping):
        entries = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise GraphcError(f"the names in a saved collection must be strings, not {key!r}")
            entries[key] = _entry(writer, value)
        contents = {"kind": "collection", "entries": entries}
    else:
        contents = _entry(writer, obj)
    return writer.document(contents), writer.arrays


def _entry(writer: Writer, obj, returns: str = "graph") -> dict:
    if isinstance(obj, FunctionGraph):
        return {"kind": "graph", "graph": writer.graph(obj), "returns": "graph"}
    if isinstance(obj, Variable) or (
        isinstance(obj, Sequence) and obj and all(isinstance(v, Variable) for v in obj)
    ):
        outputs = [obj] if isinstance(obj, Variable) else list(obj)
        free = [v for v in graph_inputs(outputs) if not isinstance(v, (Constant, SharedVariable))]
        return {"kind": "graph", "graph": writer.graph(FunctionGraph(free, outputs)), "returns": returns}
    spec = function_spec(obj)
    if spec is None:
        raise GraphcError(
            f"gc.save takes a compiled function, Variables, a FunctionGraph or a dict of them, not "
            f"{type(obj).__name__}"
        )
    return {
        "kind": "function",
        "function": {
            "graph": writer.graph(spec.graph),
            "backend": spec.backend,
            "optimize": spec.optimize,
            "name": spec.name,
            "single": spec.single,
        },
    }


def function_spec(f) -> FunctionSpec | None:
    """The recipe of a compiled function (graphc.compile.Function), or None for anything else."""
    if not isinstance(getattr(f, "fgraph", None), FunctionGraph) or not hasattr(f, "backend"):
        return None
    optimize = getattr(f, "optimize", "fast")
    if optimize is None:
        raise GraphcError(f"cannot save {f!r}: it was compiled with a pass graphc does not know by name")
    return FunctionSpec(f.fgraph, f.backend, optimize, f.name, f._single)


def decode(reader: Reader, compile: Callable | None):
    """What the file holds: a FunctionGraph (or a Variable), a compiled Function, or a dict of them."""
    contents = reader.contents
    if contents["kind"] == "collection":
        entries = fields(contents, "contents", ("kind", "entries"))["entries"]
        if type(entries) is not dict:
            raise fail("the entries of a collection must be an object")
        return {key: _decode_entry(reader, e, compile) for key, e in entries.items()}
    return _decode_entry(reader, contents, compile)


def _decode_entry(reader: Reader, contents, compile: Callable | None):
    kind = fields(contents, "an entry", ("kind",), optional=None)["kind"]
    if kind == "graph":
        entry = fields(contents, "a graph entry", ("kind", "graph", "returns"))
        graph = reader.graph(entry["graph"])
        if entry["returns"] == "graph":
            return graph
        if entry["returns"] == "variable" and len(graph.outputs) == 1:
            return graph.outputs[0]
        raise fail(f"a graph entry returns {entry['returns']!r:.40}")
    if kind == "function":
        spec = _function_spec(reader, fields(contents, "a function entry", ("kind", "function"))["function"])
        if compile is None:
            raise fail("it holds a compiled function where a graph was expected")
        return compile(spec)
    if kind in ("params", "checkpoint"):
        raise GraphcError(f"this file holds {kind}; read it with gc.load_params")
    raise fail(
        f"its contents are a {kind!r:.40}; graphc writes graph, function, collection, params, checkpoint"
    )


def _function_spec(reader: Reader, payload) -> FunctionSpec:
    entry = fields(payload, "a function", ("graph", "backend", "optimize", "name", "single"))
    if entry["backend"] not in BACKENDS:
        raise fail(f"the backend {entry['backend']!r:.40} is not one of {', '.join(BACKENDS)}")
    optimize = entry["optimize"]
    if optimize not in ("fast", "none") and not (
        type(optimize) is list and all(type(p) is str for p in optimize)
    ):
        raise fail(f"optimize must be 'fast', 'none' or a list of pass names, not {optimize!r:.60}")
    if type(entry["single"]) is not bool or (entry["name"] is not None and type(entry["name"]) is not str):
        raise fail("a function's name must be a string or null and single a bool")
    graph = reader.graph(entry["graph"])
    if entry["single"] and len(graph.outputs) != 1:
        raise fail("a function with a single output lists several")
    return FunctionSpec(graph, entry["backend"], optimize, entry["name"], entry["single"])


def read(source: str | os.PathLike | bytes, compile: Callable | None, backend: str | None = None):
    """Everything in the file, validated before anything is compiled (no half-loaded state is left)."""
    with Archive(source) as box:
        reader = Reader(box)
        specs: list[FunctionSpec] = []
        loaded = decode(reader, None if compile is None else _Deferred(specs))
        box.check_all_read()
    if not specs:  # compile only once the whole file has been read and checked
        return loaded
    compiled = [compile(spec, backend) for spec in specs]
    if isinstance(loaded, dict):
        return {k: compiled[v.index] if isinstance(v, _Deferred.Slot) else v for k, v in loaded.items()}
    return compiled[loaded.index]


class _Deferred:
    """Stands in for the compiler while a file is read: records each function, returns a slot for it."""

    class Slot:
        def __init__(self, index: int):
            self.index = index

    def __init__(self, specs: list[FunctionSpec]):
        self.specs = specs

    def __call__(self, spec: FunctionSpec) -> Slot:
        self.specs.append(spec)
        return self.Slot(len(self.specs) - 1)


def write(path: str | os.PathLike, obj, values: bool = True):
    document, arrays = encode(obj, values)
    return archive.atomic_write(path, lambda f: archive.write_to(f, document, arrays))


# --- pickling: the payload is a graphc file; the unpickler only reads it ------------------------------------
def to_bytes(obj) -> bytes:
    """A graphc file in memory (what __reduce__ pickles)."""
    writer = Writer()
    contents = _entry(writer, obj, returns="variable")
    return archive.to_bytes(writer.document(contents), writer.arrays)


def read_bytes(blob: bytes, compile: Callable | None = None):
    """What a pickle held: a Variable or FunctionGraph, or (given `compile`) a compiled function."""
    if not isinstance(blob, bytes):
        raise fail(f"a pickled graphc object holds bytes, not {type(blob).__name__}")
    return read(blob, compile)
