"""gc.onnx.load: an ONNX model as a graphc graph (a FunctionGraph) that can be drawn, differentiated and
compiled. Knows the core, gc.nn's composites and the onnx package; rules are in graphc.onnx.import_rules.

Values while importing are graphc Variables, or *static* NumPy arrays known when the model is loaded
(integer initializers, Constant nodes, and shapes: an object array of sizes, named ones included, so the
Shape → Gather → Concat → Reshape chains exporters write resolve to a graphc reshape). Float initializers
become shared variables named as in the model: the parameters, which gc.grad can differentiate.
"""

from __future__ import annotations

import functools
import os
import re
from numbers import Integral

import numpy as np

from graphc.dims import Dim, Size, is_polynomial, monomials
from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Variable
from graphc.origin import origin_scope
from graphc.tensor import add, constant, mul, reshape, shared, size, stack, tensor

from .import_rules import IMPORT_RULES
from .onnx_types import GRAPHC_DTYPES, onnx_module


class Importer:
    """The values of an ONNX graph by name while its nodes are translated in order."""

    def __init__(self, onnx, opset: int):
        self.onnx, self.opset = onnx, opset
        self.values: dict[str, Variable | np.ndarray] = {"": None}  # "" is an omitted optional input
        self.sizes: dict[Size, Variable] = {}  # a size -> gc.size of the input that binds it

    def tensor(self, name: str) -> Variable:
        """A value as a graph Variable (a static number array becomes a constant, sizes gc.size nodes)."""
        value = self.values[name]
        if isinstance(value, Variable) or value is None:
            return value
        if value.dtype != object:
            return constant(value)
        if value.ndim == 0:
            return self._size(value[()])
        return reshape(stack([self._size(d) for d in value.reshape(-1)]), value.shape)

    def _size(self, d) -> Variable:
        """A size expression (sizes, + and *) as an int64 scalar computed at run time. Anything else in a
        static object array is refused (never parsed: a string would have been evaluated as Python)."""
        if isinstance(d, Integral):
            return constant(np.int64(d))
        if not isinstance(d, Dim):
            raise GraphcError(f"gc.onnx.load: {d!r} is not a size")
        if d in self.sizes:
            return self.sizes[d]
        if is_polynomial(d) and not isinstance(d, Size):
            terms = [
                functools.reduce(mul, [self._size(a) for a, e in monomial for _ in range(e)], self._size(c))
                for c, monomial in monomials(d)
            ]
            return functools.reduce(add, terms)
        raise GraphcError(f"gc.onnx.load: the size {d} cannot be computed as a tensor")

    def static(self, name: str, what: str) -> np.ndarray:
        value = self.values[name]
        if not isinstance(value, np.ndarray):
            raise GraphcError(f"gc.onnx.load: {what} ({name}) must be known when the model is loaded")
        return value


def load_model(source) -> FunctionGraph:
    """The graph of an ONNX model (a path, bytes or a ModelProto): inputs, outputs, float initializers as
    named shared variables."""
    onnx = onnx_module()
    where = str(source) if isinstance(source, (str, os.PathLike)) else "<onnx model>"
    if isinstance(source, (str, os.PathLike)):
        model = onnx.load(os.fspath(source), load_external_data=False)
    elif isinstance(source, (bytes, bytearray)):
        model = onnx.load_model_from_string(bytes(source))
    else:
        model = source
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    standard = ("", "ai.onnx")
    unknown = sorted(
        n.op_type if n.domain in standard else f"{n.domain}.{n.op_type}"
        for n in graph.node
        if n.domain not in standard or n.op_type not in IMPORT_RULES
    )
    unknown = sorted(set(unknown))
    if unknown:
        raise GraphcError(f"gc.onnx.load: {where} uses ONNX ops graphc does not import: {', '.join(unknown)}")
    external = [t.name for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise GraphcError(
            f"gc.onnx.load: {where} keeps tensors in external files ({', '.join(external[:5])})"
        )
    im = Importer(onnx, opset)
    for t in graph.initializer:
        array = onnx.numpy_helper.to_array(t)
        _dtype(t.data_type, t.name)
        im.values[t.name] = shared(array, name=t.name) if array.dtype.kind == "f" else array
    inputs = []
    for info in graph.input:
        if info.name in im.values:  # an initializer also listed as an input (old exporters)
            continue
        v = tensor(info.name, _shape(info), _dtype(info.type.tensor_type.elem_type, info.name))
        im.values[info.name] = v
        inputs.append(v)
        for axis, d in enumerate(v.type.shape):
            if isinstance(d, Size) and d not in im.sizes:
                im.sizes[d] = size(v, axis, dtype="int64")
    for k, node in enumerate(graph.node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        with origin_scope((where, k)):  # errors name the model and the node's position in it
            try:
                outs = IMPORT_RULES[node.op_type](im, [n for n in node.input], attrs)
            except GraphcError as exc:
                raise type(exc)(f"{exc}\n  in ONNX node {k} ({node.op_type} {node.name})") from None
        for name, value in zip(node.output, outs, strict=False):
            im.values[name] = value
    outputs = []
    for info in graph.output:
        v = im.tensor(info.name)
        v.name = info.name
        outputs.append(v)
    return FunctionGraph(inputs, outputs)


def _dtype(code: int, name: str) -> np.dtype:
    if code not in GRAPHC_DTYPES:
        raise GraphcError(
            f"gc.onnx.load: {name} has ONNX element type {code}; graphc has float32/64, int32/64, bool"
        )
    return GRAPHC_DTYPES[code]


def _shape(info) -> tuple:
    dims = []
    for axis, d in enumerate(info.type.tensor_type.shape.dim):
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:  # a named size; an anonymous one gets a name of its own
            name = re.sub(r"\W", "_", d.dim_param or f"{info.name}_{axis}")
            dims.append(name if name.isidentifier() else f"d_{name}")
    return tuple(dims)
