"""The type rule of every op (SHAPE_RULES) and its arity: output dtypes and shapes from the input types and
params, checked when a node is built. Core layer.
(Over 300 lines: the type rule of every op, one row each.)

Errors are ShapeError/DTypeError naming the inputs (graph.apply adds the user's line). Dtypes are NumPy's by
construction: an elementwise or reduction rule asks NumPy what it gives on one-element arrays.

Sizes that must be equal unify (graphc.types.unify): the result takes the most specific, and each pair that is
not equal by construction is an *assumption* of the node (`infer_types` returns them; gc.function checks them
at each call and names the node's inputs if one fails).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .dims import Dim, divide
from .errors import DTypeError, ShapeError
from .ops import BINARY, BITWISE, ELEMENTWISE, IMPL, NO_IDENTITY, REDUCTIONS, UNARY, Op, describe
from .shape_rules_indexing import INDEXING_ARITY, INDEXING_SHAPE_RULES
from .shape_rules_math import MATH_ARITY, MATH_SHAPE_RULES
from .types import (
    DTYPES,
    Type,
    as_shape,
    broadcast_shapes,
    dim_product,
    mismatch,
    shape_str,
    shapes_unify,
    unify,
)


class _Assumed(threading.local):
    """The size equalities the rule being run assumes (per thread: graphs may be built on several at once)."""

    def __init__(self):
        self.pairs: list = []


_assumed = _Assumed()


@lru_cache(maxsize=4096)
def _numpy_result_dtype(op: Op, dtypes: tuple[str, ...], param_items: tuple) -> np.dtype:
    """The dtype NumPy gives for this op on these dtypes: dtype rules are NumPy's, by construction."""
    params = dict(param_items)
    dummies = [np.ones((1,), dtype=d) for d in dtypes]
    with np.errstate(all="ignore"):
        out = IMPL[op](*dummies, **params)
    return np.asarray(out).dtype


_SUPPORTED_DTYPES = frozenset(np.dtype(d) for d in DTYPES)  # compared by object: dtype.name is slow


def _elementwise_types(op, inputs, params):
    try:  # messages are built only on failure: this runs for every node a pass rebuilds
        shape = broadcast_shapes(*(v.type.shape for v in inputs), record=_assumed.pairs)
    except ShapeError:
        verb = "combine" if op is not Op.WHERE else "select with"
        what = f"{op.value}: {verb} " + " and ".join(describe(v) for v in inputs)
        shape = broadcast_shapes(*(v.type.shape for v in inputs), what=what)
    if op in BITWISE and any(v.type.dtype.kind not in "biu" for v in inputs):
        raise DTypeError(
            f"{op.value} takes bool or integer inputs, got " + ", ".join(describe(v) for v in inputs)
        )
    if op is Op.WHERE and inputs[0].type.dtype.kind != "b":
        raise DTypeError(
            f"where: the condition {describe(inputs[0])} must be bool (compare first, e.g. x > 0)"
        )
    if op is Op.SCALAR_FN:
        dtype = params["fn"].result_dtype(tuple(v.type.dtype.name for v in inputs))
    else:
        param_items = tuple(sorted(params.items()))
        try:
            # dtypes hash fast
            dtype = _numpy_result_dtype(op, tuple(v.type.dtype for v in inputs), param_items)
        except TypeError as exc:  # NumPy refuses some bool math (-b, a - b): say so in graphc's terms
            operands = " and ".join(describe(v) for v in inputs)
            raise DTypeError(f"{op.value} cannot take {operands}: {exc}") from None
        if dtype not in _SUPPORTED_DTYPES:  # NumPy gives float16 for math on bools; graphc has no float16
            operands = " and ".join(describe(v) for v in inputs)
            raise DTypeError(f"{op.value} cannot take {operands}; cast first, e.g. gc.cast(x, 'float32')")
    return (Type(dtype, shape),)


def empty_reduction_message(op: Op, x, axis: int, how: str) -> str:
    """Why a max, min or argmax over an empty axis is refused (when built here; at a call: graphc.sizes)."""
    return (
        f"{op.value} over axis {axis} of {describe(x)}: the axis has {how}, and the "
        f"{'maximum' if op is not Op.MIN else 'minimum'} of nothing is undefined"
    )


def _reduction_types(op, inputs, params):
    (x,) = inputs
    axis, keepdims = params["axis"], params["keepdims"]
    axes = range(x.type.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    for a in axes:
        if not 0 <= a < x.type.ndim:
            raise ShapeError(f"{op.value}: axis {a} is out of range for {describe(x)}")
        if op in NO_IDENTITY and isinstance(x.type.shape[a], int) and x.type.shape[a] == 0:
            raise ShapeError(empty_reduction_message(op, x, a, "no elements"))
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.type.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.type.shape) if i not in axes)
    if op is Op.ARGMAX:
        return (Type("int64", shape),)
    if op is Op.LOGSUMEXP:
        return (Type(_float_dtype(op, x), shape),)
    param_items = (("axis", tuple(range(min(1, x.type.ndim)))), ("keepdims", False))
    dtype = _numpy_result_dtype(op, (x.type.dtype,), param_items)
    return (Type(dtype, shape),)


def _float_dtype(op, x):
    if x.type.dtype.kind != "f":
        raise DTypeError(f"{op.value} needs a float input, got {describe(x)}; use gc.cast(x, 'float32')")
    return x.type.dtype


def _matmul_types(op, inputs, params):
    a, b = inputs
    if a.type.ndim == 0 or b.type.ndim == 0:
        raise ShapeError(f"matmul: cannot multiply a scalar: {describe(a)} @ {describe(b)}; use *")
    if a.type.dtype.kind == "b" or b.type.dtype.kind == "b":
        raise DTypeError(f"matmul: bool operands are not supported: {describe(a)} @ {describe(b)}")
    ashape = (1,) + a.type.shape if a.type.ndim == 1 else a.type.shape
    bshape = b.type.shape + (1,) if b.type.ndim == 1 else b.type.shape
    if unify(ashape[-1], bshape[-2], _assumed.pairs) is None:
        raise ShapeError(
            f"matmul: cannot multiply {describe(a)} by {describe(b)}: "
            f"inner dimensions {mismatch(ashape[-1], bshape[-2])}"
        )
    try:  # the message only on failure: passes rebuild many matmuls
        batch = broadcast_shapes(ashape[:-2], bshape[:-2], record=_assumed.pairs)
    except ShapeError:
        what = f"matmul batch dimensions of {describe(a)} and {describe(b)}"
        batch = broadcast_shapes(ashape[:-2], bshape[:-2], what=what)
    shape = batch + ((ashape[-2],) if a.type.ndim > 1 else ()) + ((bshape[-1],) if b.type.ndim > 1 else ())
    return (Type(np.result_type(a.type.dtype, b.type.dtype), shape),)


def _transpose_types(op, inputs, params):
    (x,) = inputs
    perm = params["perm"]
    if sorted(perm) != list(range(x.type.ndim)):
        raise ShapeError(f"transpose: {perm} is not a permutation of the axes of {describe(x)}")
    return (Type(x.type.dtype, tuple(x.type.shape[p] for p in perm)),)


def _reshape_types(op, inputs, params):
    (x,) = inputs
    shape = params["shape"]
    if unify(dim_product(x.type.shape), dim_product(shape), _assumed.pairs) is None:
        raise ShapeError(f"reshape: cannot reshape {describe(x)} to {shape_str(shape)}: sizes differ")
    return (Type(x.type.dtype, shape),)


def _broadcast_to_types(op, inputs, params):
    (x,) = inputs
    shape = params["shape"]
    lead = len(shape) - x.type.ndim
    if lead < 0:
        raise ShapeError(f"broadcast_to: cannot broadcast {describe(x)} to {shape_str(shape)}: too few axes")
    for axis, (d, target) in enumerate(zip(x.type.shape, shape[lead:], strict=True), start=lead):
        if not (isinstance(d, int) and d == 1) and unify(d, target, _assumed.pairs) is None:
            raise ShapeError(
                f"broadcast_to: cannot broadcast {describe(x)} to {shape_str(shape)}: dimension "
                f"{axis - len(shape)} is {mismatch(d, target)}"
            )
    return (Type(x.type.dtype, shape),)


def _getitem_types(op, inputs, params):
    (x,) = inputs
    return (Type(x.type.dtype, index_result_shape(x, params["index"])),)


def index_result_shape(x, index: tuple) -> tuple:
    """The shape of x[index] for a normalised basic index (graphc.operators.normalize_index)."""
    shape, axis = [], 0
    for item in index:
        if item[0] == "newaxis":
            shape.append(1)
            continue
        dim = x.type.shape[axis]
        if item[0] == "int":
            if isinstance(dim, int) and not -dim <= item[1] < dim:
                raise ShapeError(f"index {item[1]} is out of bounds for axis {axis} of {describe(x)}")
        else:
            shape.append(slice_length(dim, *item[1:], x))
        axis += 1
    return as_shape(shape)


def slice_length(dim, start, stop, step, x):
    """How many elements x[start:stop:step] takes from an axis of size `dim` (an int or a named size).
    A bound may be a size expression: a position counted from the start (gradients slice by named sizes)."""
    if step == 0:
        raise ShapeError(f"slice step cannot be zero for {describe(x)}")
    symbolic = isinstance(start, Dim) or isinstance(stop, Dim)
    if isinstance(dim, int) and not symbolic:
        return len(range(dim)[slice(start, stop, step)])
    if not isinstance(step, (int, type(None))):
        raise ShapeError(f"a slice step must be an int, not {step} (slicing {describe(x)})")
    step = 1 if step is None else step
    if symbolic and step < 0:
        raise ShapeError(f"a slice with a size expression as a bound needs a positive step ({describe(x)})")

    def bound(v, default):
        if v is None:
            return default
        if isinstance(v, Dim):
            return v
        return dim + v if v < 0 else v

    # The size is assumed large enough for the bounds (x[2:] has dim - 2); each call checks that it is.
    if step > 0:
        length = bound(stop, dim) - bound(start, 0)
    else:  # walking down from start (default: the last) to just above stop (default: before the first)
        length = bound(start, dim - 1) - (-1 if stop is None else bound(stop, -1))
    return length if abs(step) == 1 else divide(length, abs(step), ceil=True)


def _concatenate_types(op, inputs, params):
    axis = params["axis"]
    first = inputs[0]
    shape = list(first.type.shape)
    total = 0
    for v in inputs:
        if v.type.ndim != first.type.ndim:
            raise ShapeError(f"concatenate: {describe(v)} and {describe(first)} have different ranks")
        for i, d in enumerate(v.type.shape):
            unified = d if i == axis else unify(shape[i], d, _assumed.pairs)
            if unified is None:
                raise ShapeError(
                    f"concatenate along axis {axis}: {describe(v)} and {describe(first)} differ in "
                    f"dimension {i}: {mismatch(shape[i], d)}"
                )
            shape[i] = unified
        total = total + v.type.shape[axis]
    shape[axis] = total
    dtype = np.result_type(*(v.type.dtype for v in inputs))
    return (Type(dtype, tuple(shape)),)


def _softmax_types(op, inputs, params):
    (x,) = inputs
    if not 0 <= params["axis"] < max(x.type.ndim, 1):
        raise ShapeError(f"{op.value}: axis {params['axis']} is out of range for {describe(x)}")
    return (Type(_float_dtype(op, x), x.type.shape),)


def _one_hot_types(op, inputs, params):
    (labels,) = inputs
    if labels.type.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be integers, got {describe(labels)}")
    return (Type(params["dtype"], labels.type.shape + (params["depth"],)),)


def _size_types(op, inputs, params):
    (x,) = inputs
    if any(not -x.type.ndim <= a < x.type.ndim for a in params["axis"]):
        raise ShapeError(f"size: axis {params['axis']} is out of range for {describe(x)}")
    return (Type(params["dtype"], ()),)


def _random_uniform_types(op, inputs, params):
    (counter,) = inputs
    if counter.type.dtype.kind not in "iu" or counter.type.ndim != 0:
        raise DTypeError(f"random_uniform: the counter must be an integer scalar, got {describe(counter)}")
    if np.dtype(params["dtype"]).kind != "f":
        raise DTypeError(f"random_uniform: dtype must be float32 or float64, not {params['dtype']}")
    return (Type(params["dtype"], params["shape"]),)


def _fused_types(op, inputs, params):
    return params["kernel"].output_types(inputs)


def _same_type(a, b) -> bool:
    """One dtype and shapes that unify (the pairs of sizes assumed equal are checked at each call)."""
    return a.type.dtype == b.type.dtype and shapes_unify(a.type.shape, b.type.shape, _assumed.pairs)


def _scan_types(op, inputs, params):
    """A SCAN node's types follow from its body's (graphc.bodies): the body must take the carries, one slice
    of each sequence and the captured values, and give back carries of the carries' types."""
    body, n_carry, n_seq, length = params["body"], params["n_carry"], params["n_seq"], params["length"]
    if len(inputs) != len(body.inputs) or len(body.outputs) < n_carry or n_carry + n_seq > len(inputs):
        raise ShapeError(
            f"scan: the body takes {len(body.inputs)} inputs and gives {len(body.outputs)} outputs, which "
            f"does not fit {len(inputs)} inputs with {n_carry} carries and {n_seq} sequences"
        )
    for k, (outer, inner) in enumerate(zip(inputs, body.inputs, strict=True)):
        if n_carry <= k < n_carry + n_seq:
            if outer.type.ndim == 0 or outer.type.dtype != inner.type.dtype:
                raise ShapeError(
                    f"scan: the sequence {describe(outer)} cannot give steps of {describe(inner)}"
                )
            if not shapes_unify(outer.type.shape[1:], inner.type.shape, _assumed.pairs):
                raise ShapeError(
                    f"scan: the sequence {describe(outer)} cannot give steps of {describe(inner)}"
                )
            steps = outer.type.shape[0]
            if unify(steps, length, _assumed.pairs) is None:  # a pair that may differ is checked at each call
                raise ShapeError(
                    "scan: every sequence of one scan must have the same length; the steps of "
                    f"{describe(outer)} and of the scan are {mismatch(steps, length)}"
                )
        elif not _same_type(outer, inner):
            raise ShapeError(f"scan: the body takes {describe(inner)} where the scan gives {describe(outer)}")
    for k, (carry, new) in enumerate(zip(body.inputs[:n_carry], body.outputs[:n_carry], strict=True)):
        if not _same_type(carry, new):
            raise (DTypeError if carry.type.dtype != new.type.dtype else ShapeError)(
                f"scan: carry {k} enters the body as {describe(carry)} and leaves it as {describe(new)}; a "
                "carry must keep its dtype and shape"
            )
    if any(k not in range(n_carry) for k in params["save"]):
        raise ShapeError(f"scan: save={params['save']} names a carry that does not exist")
    carries = [v.type for v in body.inputs[:n_carry]]
    ys = [Type(v.type.dtype, (length, *v.type.shape)) for v in body.outputs[n_carry:]]
    saved = [Type(carries[k].dtype, (length, *carries[k].shape)) for k in params["save"]]
    return (*carries, *ys, *saved)


def _cond_types(op, inputs, params):
    """Both bodies take the operands and captured values (inputs after the predicate) and give the same
    types; the predicate is a bool scalar."""
    pred, operands = inputs[0], inputs[1:]
    if pred.type.dtype.kind != "b" or pred.type.ndim != 0:
        raise DTypeError(f"cond: the predicate must be a bool scalar, got {describe(pred)} (compare first)")
    bodies = (params["true_body"], params["false_body"])
    for body in bodies:
        if len(body.inputs) != len(operands) or not all(map(_same_type, operands, body.inputs)):
            raise ShapeError("cond: a branch does not take the types of the operands given")
    true_out, false_out = (b.outputs for b in bodies)
    if len(true_out) != len(false_out) or not all(map(_same_type, true_out, false_out)):
        shown = [", ".join(describe(v) for v in outs) for outs in (true_out, false_out)]
        raise ShapeError(f"cond: the branches give different types: ({shown[0]}) and ({shown[1]})")
    return tuple(v.type for v in true_out)


SHAPE_RULES: dict[Op, Callable] = {
    **{op: _elementwise_types for op in ELEMENTWISE if op is not Op.CAST},
    Op.CAST: lambda op, inputs, params: (Type(params["dtype"], inputs[0].type.shape),),
    **{op: _reduction_types for op in REDUCTIONS | {Op.ARGMAX, Op.LOGSUMEXP}},
    Op.MATMUL: _matmul_types,
    Op.TRANSPOSE: _transpose_types,
    Op.RESHAPE: _reshape_types,
    Op.BROADCAST_TO: _broadcast_to_types,
    Op.GETITEM: _getitem_types,
    Op.CONCATENATE: _concatenate_types,
    Op.SOFTMAX: _softmax_types,
    Op.LOG_SOFTMAX: _softmax_types,
    Op.ONE_HOT: _one_hot_types,
    Op.SIZE: _size_types,
    Op.RANDOM_UNIFORM: _random_uniform_types,
    Op.FUSED: _fused_types,
    **MATH_SHAPE_RULES,
    **INDEXING_SHAPE_RULES,
    Op.SCAN: _scan_types,
    Op.COND: _cond_types,
}
"""SHAPE_RULES[op](op, input_variables, params) -> output Types; raises ShapeError/DTypeError naming
inputs."""

ARITY: dict[Op, int | None] = {
    **{op: 1 for op in UNARY},
    **{op: 2 for op in BINARY},
    Op.WHERE: 3,
    **{op: 1 for op in REDUCTIONS | {Op.ARGMAX, Op.LOGSUMEXP}},
    Op.MATMUL: 2,
    Op.TRANSPOSE: 1,
    Op.RESHAPE: 1,
    Op.BROADCAST_TO: 1,
    Op.GETITEM: 1,
    Op.SOFTMAX: 1,
    Op.LOG_SOFTMAX: 1,
    Op.ONE_HOT: 1,
    Op.SIZE: 1,
    Op.RANDOM_UNIFORM: 1,
    Op.CONCATENATE: None,
    Op.SCALAR_FN: None,
    Op.FUSED: None,
    **MATH_ARITY,
    **INDEXING_ARITY,
    Op.SCAN: None,
    Op.COND: None,
}
"""How many inputs each op takes (None: variadic)."""


def infer_types(op: Op, inputs, params: dict) -> tuple[tuple[Type, ...], tuple]:
    """(output types, assumptions): the pairs of sizes the node needs equal that are not equal by
    construction (x.1 and W.0 for x @ W), each to be checked when a compiled function is called."""
    arity = ARITY[op]
    if arity is not None and len(inputs) != arity:
        raise TypeError(f"{op.value} takes {arity} inputs, got {len(inputs)}")
    pairs = _assumed.pairs
    try:
        types = SHAPE_RULES[op](op, inputs, params)
    finally:
        assumed = tuple(pairs) if pairs else ()
        pairs.clear()
    return types, assumed
