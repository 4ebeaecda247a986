"""gc.onnx.export: a graphc graph as an ONNX model, for inference elsewhere. Owns the Exporter (ONNX names,
initializers, sizes computed at run time); the rules are in graphc.onnx.export_rules. Knows the core and the
onnx package (an optional extra), nothing of passes or codegen.

Named sizes become ONNX dim_params; a size a reshape or a broadcast needs at run time is read off the input
that binds it (Shape). Shared variables (the parameters) are initializers, constants Constant nodes.
"""

from __future__ import annotations

import numpy as np

from graphc.dims import Quotient, Size, monomials
from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable
from graphc.io.graphs import graphc_version
from graphc.types import Type

from .export_rules import EXPORT_RULES
from .onnx_types import ONNX_DTYPES, onnx_module


class Exporter:
    """Collects ONNX nodes and initializers while the graph is walked; knows each value's ONNX name."""

    def __init__(self, graph: FunctionGraph, opset: int):
        self.onnx = onnx_module()
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}
        self._taken: set[str] = set()
        self.sizes: dict[Size, tuple[str, int]] = {}  # a size -> (input, axis) that binds it
        for v in graph.inputs:  # the model's inputs are the graph's, in order, used or not
            name = self.name_of(v, v.name or "input")
            for axis, d in enumerate(v.type.shape):
                if isinstance(d, Size):
                    self.sizes.setdefault(d, (name, axis))

    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c in "._" else "_" for c in hint) or "v"
        name, k = base, 1
        while name in self._taken:
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def name_of(self, v: Variable, hint: str | None = None) -> str:
        """A value's ONNX name: shared variables (parameters) are initializers, constants Constant nodes."""
        if id(v) not in self.names:
            if isinstance(v, Constant):
                self.names[id(v)] = self.constant(v.value, hint=v.name)
            else:
                self.names[id(v)] = self.fresh(hint or v.name or "v")
            if isinstance(v, SharedVariable):
                array = np.asarray(v.get_value(copy=False))
                self.initializers.append(self.onnx.numpy_helper.from_array(array, self.names[id(v)]))
        return self.names[id(v)]

    def emit(self, op_type: str, inputs: list[str], outputs: int = 1, hint: str | None = None, **attrs):
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, names, **attrs))
        return names

    def one(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        return self.emit(op_type, inputs, hint=hint, **attrs)[0]

    def constant(self, value, dtype=None, hint: str | None = None) -> str:
        array = np.asarray(value, dtype=dtype)
        return self.one("Constant", [], value=self.onnx.numpy_helper.from_array(array), hint=hint)

    def cast(self, name: str, have: np.dtype, want: np.dtype) -> str:
        return (
            name
            if np.dtype(have) == np.dtype(want)
            else self.one("Cast", [name], to=ONNX_DTYPES[np.dtype(want)])
        )

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node: axes as an input from opset 18 (13 for ReduceSum), an attribute before."""
        axes, flag = list(axes), {"noop_with_empty_axes": 1} if not axes else {}
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            return self.one(op_type, [x, self.constant(axes, np.int64)], keepdims=int(keepdims), **flag)
        return self.one(op_type, [x], axes=axes, keepdims=int(keepdims)) if axes else x

    # -- sizes known at run time ----------------------------------------------------------------------------
    def dim(self, d) -> str:
        """A size as a 1-element int64 tensor: a constant, or computed from the input that binds it."""
        if isinstance(d, int):
            return self.constant([d], np.int64)
        if isinstance(d, Size):
            if d not in self.sizes:
                raise GraphcError(f"gc.onnx.export: no input's shape gives the size {d}")
            source, axis = self.sizes[d]
            if self.opset >= 15:
                return self.one("Shape", [source], start=axis, end=axis + 1)
            return self.one("Gather", [self.one("Shape", [source]), self.constant([axis], np.int64)])
        if isinstance(d, Quotient):
            top = self.dim(d.numerator + (d.divisor - 1 if d.ceil else 0))
            return self.one("Div", [top, self.dim(d.divisor)])  # int64 division floors non-negative sizes
        terms = []
        for coefficient, monomial in monomials(d):  # Σ c·Π atomᵉ
            factors = [self.dim(atom) for atom, e in monomial for _ in range(e)]
            constant = [self.dim(coefficient)] if coefficient != 1 or not monomial else []  # n + 1: a term 1
            terms.append(_fold(self, "Mul", factors + constant))
        return _fold(self, "Add", terms)

    def shape(self, dims) -> str:
        if all(isinstance(d, int) for d in dims):
            return self.constant(list(dims), np.int64)
        if not dims:
            return self.constant([], np.int64)
        return self.one("Concat", [self.dim(d) for d in dims], axis=0)


def _fold(ex: Exporter, op_type: str, names: list[str]) -> str:
    out = names[0]
    for n in names[1:]:
        out = ex.one(op_type, [out, n])
    return out


def export_graph(graph: FunctionGraph, opset: int, name: str):
    """The ONNX ModelProto of `graph`'s outputs (its updates are training, not inference)."""
    onnx = onnx_module()
    missing = sorted({n.op.value for n in graph.nodes if n.op not in EXPORT_RULES})
    if missing:
        raise GraphcError(f"gc.onnx.export: no ONNX rule for {', '.join(missing)}")
    ex = Exporter(graph, opset)
    for node in graph.nodes:
        outs = EXPORT_RULES[node.op](ex, node, [ex.name_of(v) for v in node.inputs])
        for v, out in zip(node.outputs, outs, strict=True):
            ex.names[id(v)] = out
    outputs = []
    for k, v in enumerate(graph.outputs):
        final = ex.fresh(v.name or f"output_{k}")
        ex.nodes.append(onnx.helper.make_node("Identity", [ex.name_of(v)], [final]))
        outputs.append(_value_info(onnx, final, v.type))
    inputs = [_value_info(onnx, ex.names[id(v)], v.type) for v in graph.inputs]
    graph_proto = onnx.helper.make_graph(ex.nodes, name, inputs, outputs, ex.initializers)
    model = onnx.helper.make_model(
        graph_proto,
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="graphc",
        producer_version=graphc_version(),
        ir_version=min(onnx.IR_VERSION, 10),
    )
    onnx.checker.check_model(model)
    return model


def _value_info(onnx, name: str, type_: Type):
    dims = [d if isinstance(d, int) else str(d) for d in type_.shape]
    return onnx.helper.make_tensor_value_info(name, ONNX_DTYPES[type_.dtype], dims)
