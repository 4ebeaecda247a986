"""gc.onnx.export: a graphc graph as an ONNX model, for inference elsewhere. Owns EXPORT_RULES; knows the core
and the onnx package (an optional extra), nothing of passes or codegen.

Each rule maps one graphc op to ONNX nodes: `rule(ex, node, ins) -> output names`, `ins` being the ONNX names
of the node's inputs. ONNX does not promote dtypes, so every rule first casts its operands to the type the
graphc node computes in (NumPy's promotion). Named sizes become ONNX dim_params; a size a reshape or a
broadcast needs at run time is read off the input that binds it (Shape). Fused kernels (an optimised graph)
are expanded back into one ONNX node per instruction.
"""

from __future__ import annotations

import numpy as np
import sympy

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, Node, SharedVariable, Variable
from graphc.kernel import Kernel
from graphc.ops import Op
from graphc.types import Type, broadcast_shapes

from .expressions import export_expression
from .onnx_types import ONNX_DTYPES, onnx_module

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


class Exporter:
    """Collects ONNX nodes and initializers while the graph is walked; knows each value's ONNX name."""

    def __init__(self, graph: FunctionGraph, opset: int):
        self.onnx = onnx_module()
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}
        self._taken: set[str] = set()
        self.sizes: dict[sympy.Symbol, tuple[str, int]] = {}  # a named size -> (input, axis) that binds it
        for v in graph.inputs:  # the model's inputs are the graph's, in order, used or not
            name = self.name_of(v, v.name or "input")
            for axis, d in enumerate(v.type.shape):
                if isinstance(d, sympy.Symbol):
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
        if isinstance(d, int) or (isinstance(d, sympy.Basic) and d.is_Integer):
            return self.constant([int(d)], np.int64)
        if isinstance(d, sympy.Symbol):
            if d not in self.sizes:
                raise GraphcError(f"gc.onnx.export: no input's shape gives the size {d}")
            source, axis = self.sizes[d]
            if self.opset >= 15:
                return self.one("Shape", [source], start=axis, end=axis + 1)
            return self.one("Gather", [self.one("Shape", [source]), self.constant([axis], np.int64)])
        if isinstance(d, sympy.Add):
            terms = [self.dim(a) for a in d.args]
            return _fold(self, "Add", terms)
        if isinstance(d, sympy.Mul) and not any(a.is_Rational and not a.is_Integer for a in d.args):
            return _fold(self, "Mul", [self.dim(a) for a in d.args])
        if isinstance(d, sympy.Pow) and d.exp.is_Integer and d.exp > 0:
            return _fold(self, "Mul", [self.dim(d.base)] * int(d.exp))
        if isinstance(d, (sympy.floor, sympy.ceiling)):
            numerator, q = sympy.fraction(sympy.together(d.args[0]))
            if q.is_Integer and q > 0:
                top = self.dim(numerator + (q - 1 if isinstance(d, sympy.ceiling) else 0))
                return self.one("Div", [top, self.dim(q)])  # int64 division floors non-negative sizes
        raise GraphcError(f"gc.onnx.export: cannot compute the size {d} in ONNX")

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


# --- rules --------------------------------------------------------------------------------------------------
def _operands(ex: Exporter, node: Node, ins: list[str], dtype=None) -> list[str]:
    """The inputs cast to the dtype the op computes in (default: its output's)."""
    want = dtype if dtype is not None else node.outputs[0].type.dtype
    return [ex.cast(n, v.type.dtype, want) for n, v in zip(ins, node.inputs, strict=True)]


def _same(op_type: str):
    return lambda ex, node, ins: [ex.one(op_type, _operands(ex, node, ins))]


def _compare(op_type: str, negate: bool = False):
    def rule(ex, node, ins):
        common = np.result_type(*(v.type.dtype for v in node.inputs))
        out = ex.one(op_type, _operands(ex, node, ins, common))
        return [ex.one("Not", [out]) if negate else out]

    return rule


def _log1p(ex, node, ins):
    (x,) = _operands(ex, node, ins)
    return [ex.one("Log", [ex.one("Add", [x, ex.constant(1, node.outputs[0].type.dtype)])])]


def _expm1(ex, node, ins):
    (x,) = _operands(ex, node, ins)
    return [ex.one("Sub", [ex.one("Exp", [x]), ex.constant(1, node.outputs[0].type.dtype)])]


def _where(ex, node, ins):
    dtype = node.outputs[0].type.dtype
    branches = [ex.cast(n, v.type.dtype, dtype) for n, v in zip(ins[1:], node.inputs[1:], strict=True)]
    return [ex.one("Where", [ins[0], *branches])]


def _reduction(op_type: str):
    def rule(ex, node, ins):
        (x,) = _operands(ex, node, ins)
        return [ex.reduce(op_type, x, node.params["axis"], node.params["keepdims"])]

    return rule


def _argmax(ex, node, ins):
    axis, keepdims = node.params["axis"], node.params["keepdims"]
    (x,) = ins
    if axis is None:
        flat = ex.one("Reshape", [x, ex.constant([-1], np.int64)])
        out = ex.one("ArgMax", [flat], axis=0, keepdims=0)
        shape = [1] * node.inputs[0].type.ndim if keepdims else []
        return [ex.one("Reshape", [out, ex.constant(shape, np.int64)])]
    return [ex.one("ArgMax", [x], axis=axis, keepdims=int(keepdims))]


def _getitem(ex, node, ins):
    (x,) = ins
    starts, ends, steps, axes, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for item in node.params["index"]:
        if item[0] == "newaxis":
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if item[0] == "int":
            i = item[1]
            (
                starts.append(i),
                ends.append(i + 1 if i != -1 else INT64_MAX),
                steps.append(1),
                squeeze.append(axis),
            )
        else:
            start, stop, step = item[1:]
            step = 1 if step is None else step
            starts.append(start if start is not None else (0 if step > 0 else INT64_MAX))
            ends.append(stop if stop is not None else (INT64_MAX if step > 0 else INT64_MIN))
            steps.append(step)
            out_axis += 1
        axes.append(axis)
        axis += 1
    if axes:
        ints = [ex.constant(v, np.int64) for v in (starts, ends, axes, steps)]
        x = ex.one("Slice", [x, *ints])
    if squeeze:
        x = ex.one("Squeeze", [x, ex.constant(squeeze, np.int64)])
    if unsqueeze:
        x = ex.one("Unsqueeze", [x, ex.constant(unsqueeze, np.int64)])
    return [x]


def _one_hot(ex, node, ins):
    """labels[..., None] == arange(depth), as graphc defines it (a label out of range gives a row of 0s)."""
    labels = ex.cast(ins[0], node.inputs[0].type.dtype, np.int64)
    classes = ex.constant(np.arange(node.params["depth"], dtype=np.int64))
    hits = ex.one("Equal", [ex.one("Unsqueeze", [labels, ex.constant([-1], np.int64)]), classes])
    return [ex.cast(hits, np.bool_, node.params["dtype"])]


def _softplus(ex, node, ins):
    """max(x, 0) + log(1 + exp(-|x|)): onnxruntime's Softplus overflows to inf for large x."""
    (x,) = _operands(ex, node, ins)
    one = ex.constant(1, node.outputs[0].type.dtype)
    tail = ex.one("Log", [ex.one("Add", [one, ex.one("Exp", [ex.one("Neg", [ex.one("Abs", [x])])])])])
    return [ex.one("Add", [ex.one("Relu", [x]), tail])]


def _size(ex, node, ins):
    (x,) = ins
    dims = ex.one("Gather", [ex.one("Shape", [x]), ex.constant(list(node.params["axis"]), np.int64)])
    count = (
        ex.reduce("ReduceProd", dims, [0], keepdims=False)
        if node.params["axis"]
        else ex.constant(1, np.int64)
    )
    return [ex.cast(count, np.int64, node.params["dtype"])]


def _scalar_fn(ex, node, ins):
    fn, dtype = node.params["fn"], node.outputs[0].type.dtype
    args = dict(zip(fn.symbols, _operands(ex, node, ins), strict=True))
    return [export_expression(ex, fn.expr, args, dtype)]


def _fused(ex, node, ins):
    """A fused kernel back as one ONNX node per instruction, its outputs broadcast (and reduced) as the
    kernel's contract says."""
    kernel: Kernel = node.params["kernel"]
    values = list(ins)
    for instr in kernel.instrs:
        dtype = np.dtype(instr.dtype)
        if instr.op is None:
            values.append(ex.constant(instr.param_dict["value"], dtype))
            continue
        args = [Variable(Type(kernel.dtype_of(a), ())) for a in instr.args]
        pseudo = Node(instr.op, args, instr.param_dict, [Type(dtype, ())], node.origin)
        values.append(EXPORT_RULES[instr.op](ex, pseudo, [values[a] for a in instr.args])[0])
    shape = ex.shape(broadcast_shapes(*(v.type.shape for v in node.inputs)))
    outputs = []
    for out, red in zip(kernel.outputs, kernel.reductions, strict=True):
        full = ex.one("Expand", [values[out], shape])
        if red is not None:
            op, axes, keepdims = red
            full = ex.reduce({Op.SUM: "ReduceSum", Op.MAX: "ReduceMax"}[op], full, axes, keepdims)
        outputs.append(full)
    return outputs


def _no_equivalent(why: str):
    def rule(ex, node, ins):
        raise GraphcError(f"gc.onnx.export: {node.op.value} has no ONNX equivalent: {why}")

    return rule


EXPORT_RULES = {
    **{op: _same(name) for op, name in {
        Op.NEG: "Neg", Op.ABS: "Abs", Op.SIGN: "Sign", Op.EXP: "Exp", Op.LOG: "Log", Op.SQRT: "Sqrt",
        Op.SIN: "Sin", Op.COS: "Cos", Op.TANH: "Tanh", Op.SIGMOID: "Sigmoid",
        Op.RELU: "Relu", Op.NOT: "Not", Op.ADD: "Add", Op.SUB: "Sub", Op.MUL: "Mul", Op.DIV: "Div",
        Op.POW: "Pow", Op.MAXIMUM: "Max", Op.MINIMUM: "Min", Op.AND: "And", Op.OR: "Or", Op.MATMUL: "MatMul",
    }.items()},
    **{op: _compare(name) for op, name in {
        Op.LT: "Less", Op.LE: "LessOrEqual", Op.GT: "Greater", Op.GE: "GreaterOrEqual", Op.EQ: "Equal",
    }.items()},
    Op.NE: _compare("Equal", negate=True),
    Op.SOFTPLUS: _softplus,
    Op.LOG1P: _log1p,
    Op.EXPM1: _expm1,
    Op.CONCATENATE: lambda ex, node, ins: [ex.one("Concat", _operands(ex, node, ins), **node.params)],
    Op.CAST: lambda ex, node, ins: [ex.cast(ins[0], node.inputs[0].type.dtype, node.params["dtype"])],
    Op.WHERE: _where,
    Op.SCALAR_FN: _scalar_fn,
    **{op: _reduction(name) for op, name in {
        Op.SUM: "ReduceSum", Op.MEAN: "ReduceMean", Op.MAX: "ReduceMax", Op.MIN: "ReduceMin",
        Op.PROD: "ReduceProd", Op.LOGSUMEXP: "ReduceLogSumExp",
    }.items()},
    Op.ARGMAX: _argmax,
    Op.TRANSPOSE: lambda ex, node, ins: [ex.one("Transpose", ins, perm=list(node.params["perm"]))],
    Op.RESHAPE: lambda ex, node, ins: [ex.one("Reshape", [ins[0], ex.shape(node.params["shape"])])],
    Op.BROADCAST_TO: lambda ex, node, ins: [ex.one("Expand", [ins[0], ex.shape(node.params["shape"])])],
    Op.GETITEM: _getitem,
    Op.SOFTMAX: lambda ex, node, ins: [ex.one("Softmax", ins, **node.params)],
    Op.LOG_SOFTMAX: lambda ex, node, ins: [ex.one("LogSoftmax", ins, **node.params)],
    Op.ONE_HOT: _one_hot,
    Op.SIZE: _size,
    Op.RANDOM_UNIFORM: _no_equivalent("export the evaluation graph (gc.nn.Mode(training=False))"),
    Op.FUSED: _fused,
}  # fmt: skip
"""EXPORT_RULES[op](exporter, node, input names) -> output names."""


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
    from graphc import __version__

    model = onnx.helper.make_model(
        graph_proto,
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="graphc",
        producer_version=__version__,
        ir_version=min(onnx.IR_VERSION, 10),
    )
    onnx.checker.check_model(model)
    return model


def _value_info(onnx, name: str, type_: Type):
    dims = [d if isinstance(d, int) else str(d) for d in type_.shape]
    return onnx.helper.make_tensor_value_info(name, ONNX_DTYPES[type_.dtype], dims)
