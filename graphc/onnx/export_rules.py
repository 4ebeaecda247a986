"""EXPORT_RULES: each graphc op as ONNX nodes. Knows the core and the Exporter's helpers (emit, cast,
constant, sizes), nothing of passes or codegen.

A rule is `rule(ex, node, ins) -> output names`, `ins` being the ONNX names of the node's inputs. ONNX does
not promote dtypes, so a rule first casts its operands to the type the graphc node computes in (NumPy's
promotion). A fused kernel (from an optimised graph) becomes one ONNX node per instruction.
"""

from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from graphc.graph import Node, Variable
from graphc.kernel import Kernel
from graphc.ops import Op
from graphc.types import Type, broadcast_shapes

from .export_indexing import INDEXING_EXPORT_RULES
from .export_math import MATH_EXPORT_RULES
from .expressions import export_expression

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def _operands(ex, node: Node, ins: list[str], dtype=None) -> list[str]:
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
        ints = [ex.shape(v) for v in (starts, ends, axes, steps)]  # bounds may be size expressions
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


def _relu(ex, node, ins):
    (x,) = _operands(ex, node, ins)
    dtype = node.outputs[0].type.dtype
    if dtype.kind == "f" or ex.opset >= 14:
        return [ex.one("Relu", [x])]
    return [ex.one("Max", [x, ex.constant(0, dtype)])]  # Relu takes ints from opset 14


def _softplus(ex, node, ins):
    """max(x, 0) + log(1 + exp(-|x|)): onnxruntime's Softplus overflows to inf for large x."""
    (x,) = _operands(ex, node, ins)
    one = ex.constant(1, node.outputs[0].type.dtype)
    tail = ex.one("Log", [ex.one("Add", [one, ex.one("Exp", [ex.one("Neg", [ex.one("Abs", [x])])])])])
    return [ex.one("Add", [ex.one("Relu", [x]), tail])]


def _softmax(op_type: str):
    """Softmax/LogSoftmax; a 0-d value (ONNX wants rank >= 1) as a vector of one."""

    def rule(ex, node, ins):
        if node.inputs[0].type.ndim:
            return [ex.one(op_type, ins, **node.params)]
        axes = ex.constant([0], np.int64)
        vector = ex.one("Unsqueeze", [ins[0], axes])
        return [ex.one("Squeeze", [ex.one(op_type, [vector], axis=0), axes])]

    return rule


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


def _not_supported(why: str):
    def rule(ex, node, ins):
        raise GraphcError(f"gc.onnx.export: {node.op.value} is not supported: {why}")

    return rule


EXPORT_RULES = {
    **{op: _same(name) for op, name in {
        Op.NEG: "Neg", Op.ABS: "Abs", Op.SIGN: "Sign", Op.EXP: "Exp", Op.LOG: "Log", Op.SQRT: "Sqrt",
        Op.SIN: "Sin", Op.COS: "Cos", Op.TANH: "Tanh", Op.SIGMOID: "Sigmoid",
        Op.NOT: "Not", Op.ADD: "Add", Op.SUB: "Sub", Op.MUL: "Mul", Op.DIV: "Div",
        Op.POW: "Pow", Op.MAXIMUM: "Max", Op.MINIMUM: "Min", Op.AND: "And", Op.OR: "Or", Op.MATMUL: "MatMul",
    }.items()},
    **{op: _compare(name) for op, name in {
        Op.LT: "Less", Op.LE: "LessOrEqual", Op.GT: "Greater", Op.GE: "GreaterOrEqual", Op.EQ: "Equal",
    }.items()},
    Op.NE: _compare("Equal", negate=True),
    **MATH_EXPORT_RULES,  # rounding, integer, bitwise (And/Or/Not on integers too), special functions, arange
    Op.SOFTPLUS: _softplus,
    Op.RELU: _relu,
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
    Op.SOFTMAX: _softmax("Softmax"),
    Op.LOG_SOFTMAX: _softmax("LogSoftmax"),
    Op.ONE_HOT: _one_hot,
    Op.SIZE: _size,
    Op.RANDOM_UNIFORM: _no_equivalent("export the evaluation graph (gc.nn.Mode(training=False))"),
    Op.FUSED: _fused,
    **INDEXING_EXPORT_RULES,
    Op.SCAN: _not_supported("ONNX's Scan could express it, but graphc does not export it yet"),
    Op.COND: _not_supported("ONNX's If could express it, but graphc does not export it yet"),
}  # fmt: skip
"""EXPORT_RULES[op](exporter, node, input names) -> output names."""
