"""ONNX exchange (the optional extra `pip install 'graphc[onnx]'`): export a graphc graph for inference with
onnxruntime and friends; import an ONNX model (e.g. one exported from PyTorch) as a graphc graph to draw,
differentiate and compile.

    >>> import numpy as np, graphc as gc, tempfile, os
    >>> x = gc.tensor("x", ("n", 3), "float32"); W = gc.shared(np.ones((3, 2), np.float32), name="W")
    >>> predict = gc.function([x], gc.softmax(x @ W))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = gc.onnx.export(predict, os.path.join(folder, "model.onnx"))  # "n": the dim_param n
    ...     graph = gc.onnx.load(os.path.join(folder, "model.onnx"))  # W is a shared variable again
    >>> [v.name for v in graph.shared]
    ['W']

Export covers every op but the random ones and cumprod/cummax/cummin/logcumsumexp (ONNX has no such
operators); fused kernels are expanded back, user sympy functions written out as ONNX operators. Import
covers the operators of MLPs and CNNs and of indexing by data (IMPORT_RULES lists them) and names every one
it lacks. DEFAULT_OPSET is the opset export writes unless told otherwise.
"""

from __future__ import annotations

import os

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable, graph_inputs

__all__ = ["export", "load", "DEFAULT_OPSET"]

DEFAULT_OPSET = 18


def export(graph, path: str | os.PathLike | None = None, opset: int = DEFAULT_OPSET, name: str = "graphc"):
    """The ONNX model (a ModelProto) of a compiled function's outputs (its graph as built, or
    `f.optimized`), a FunctionGraph, or Variables; written to `path` (atomically) when given. Shared
    variables and constants become initializers; named sizes become dim_params.

    >>> x = gc.tensor("x", ("n", 3), "float32")
    >>> model = gc.onnx.export(gc.tanh(x))
    >>> [node.op_type for node in model.graph.node]
    ['Tanh', 'Identity']
    >>> model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    'n'
    """
    from graphc.io.archive import atomic_write

    from .exporter import export_graph

    if not 13 <= opset <= 28:
        raise GraphcError(f"gc.onnx.export: opset {opset} is outside the supported 13..28")
    model = export_graph(_as_graph(graph), opset, name)
    if path is not None:
        atomic_write(path, lambda f: f.write(model.SerializeToString()))
    return model


def load(source) -> FunctionGraph:
    """An ONNX model (a path, bytes or a ModelProto) as a FunctionGraph: its inputs (named sizes from
    dim_params), its outputs, and its float initializers as shared variables named as in the model. An
    operator graphc lacks is a GraphcError listing all of them.

    >>> x = gc.tensor("x", ("n", 3), "float32")
    >>> graph = gc.onnx.load(gc.onnx.export(gc.tanh(x)))
    >>> [node.op.value for node in graph.nodes], graph.inputs[0].shape
    (['tanh'], (n, 3))
    """
    from .importer import load_model

    return load_model(source)


def __dir__() -> list[str]:
    return __all__


def _as_graph(obj) -> FunctionGraph:
    if isinstance(obj, FunctionGraph):
        return obj
    if isinstance(getattr(obj, "fgraph", None), FunctionGraph):
        return FunctionGraph(obj.fgraph.inputs, obj.fgraph.outputs)
    outputs = [obj] if isinstance(obj, Variable) else list(obj)
    if not outputs or not all(isinstance(v, Variable) for v in outputs):
        raise GraphcError(
            f"gc.onnx.export takes a compiled function, a FunctionGraph or Variables, not {obj!r:.60}"
        )
    inputs = [v for v in graph_inputs(outputs) if not isinstance(v, (Constant, SharedVariable))]
    return FunctionGraph(inputs, outputs)
