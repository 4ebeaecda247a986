"""Node lowerings of the llvm backend (NODE_RULES): everything that is not a scalar rule. Knows ops, not
graphs.

Each rule is ``rule(lowerer, node, input_views) -> output views``. Elementwise work, reductions, softmax and
logsumexp are all expressed as scalar bodies (`Instr` lists) run by `Lowerer.loop`, so they share one
vectorised, thread-split loop emitter; matmul calls BLAS; shape ops return views without copying.
"""

from __future__ import annotations

import numpy as np
import sympy
from llvmlite import ir

from graphc.errors import ShapeError
from graphc.kernel import Instr
from graphc.ops import Op
from graphc.types import broadcast_shapes

from . import loops, views
from .kernels import identity
from .matmul import matmul
from .scalar import F64, I64, constant, convert, load_value, store_value
from .views import View, const


def _instr(op, args, dtype, **params) -> Instr:
    return Instr(op, tuple(args), tuple(sorted(params.items())), np.dtype(dtype).name)


def _const(value, dtype) -> Instr:
    return Instr(None, (), (("value", value),), np.dtype(dtype).name)


# --- elementwise and fused
# -------------------------------------------------------------------------------------
def elementwise_node(lw, node, ins: list[View]) -> list[View]:
    out = node.outputs[0]
    body = (Instr(node.op, tuple(range(len(ins))), node.param_key, out.type.dtype.name),)
    dest = lw.output_buffer(out)
    lw.loop(body, ins, [(len(ins), dest, None)], out.type.shape)
    return [dest]


def _fused(lw, node, ins):
    kernel = node.params["kernel"]
    shape = broadcast_shapes(*(v.type.shape for v in node.inputs))
    outs = [
        (vid, lw.output_buffer(var), red)
        for var, vid, red in zip(node.outputs, kernel.outputs, kernel.reductions, strict=True)
    ]
    return run_kernel(lw, kernel.instrs, ins, outs, shape)


def run_kernel(lw, instrs, ins, outs, shape, mean=False) -> list[View]:
    """One loop over ``shape`` for all outputs; ``outs`` = (value id, destination, (op, axes, keepdims) |
    None).

    Reductions accumulate in place, in float64 for float32 sums (and for means, divided at the end).
    """
    loop_outs, finals = [], []
    dims = [lw.dim(d) for d in shape]
    for vid, dest, red in outs:
        if red is None:
            loop_outs.append((vid, dest, None))
            continue
        op, axes, keepdims = red
        acc_dtype = np.dtype("float64") if (op is Op.SUM and dest.dtype.kind == "f") or mean else dest.dtype
        acc = lw.temp(acc_dtype, dest.shape) if (acc_dtype != dest.dtype or mean) else dest
        lw.fill(acc, identity(op, acc_dtype))
        if op in (Op.MAX, Op.MIN):
            count = lw.product([dims[a] for a in axes])
            lw.check(
                lambda b, c=count: b.icmp_signed("!=", c, const(0)),
                ValueError,
                f"zero-size array to reduction operation {op.value} which has no identity",
            )
        spread = acc if keepdims else views.insert_axes(acc, axes)
        loop_outs.append((vid, views.broadcast(spread, shape, dims), op))
        if acc is not dest:
            finals.append((acc, dest, [dims[a] for a in axes]))
    lw.loop(instrs, ins, loop_outs, shape)
    for acc, dest, reduced in finals:
        if mean:
            count = lw.b.sitofp(lw.product(reduced), F64)
            cell = _scalar_cell(lw, count)
            body = (_instr(Op.DIV, (0, 1), "float64"),)
            lw.loop(body, [acc, cell], [(2, dest, None)], dest.shape)
        else:
            lw.copy(acc, dest)
        lw.release(acc)
    return [dest for _, dest, _ in outs]


def _scalar_cell(lw, value) -> View:
    """A 0-d view holding a run-time scalar (e.g. the count a mean divides by)."""
    with lw.eb.goto_entry_block():
        cell = lw.eb.alloca(value.type)
    lw.b.store(value, cell)
    return views.contiguous(lw.eb, cell, "float64", (), ())


def _axes(node, ndim):
    axis = node.params["axis"]
    return tuple(range(ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))


def _reduction(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    op = Op.SUM if node.op is Op.MEAN else node.op
    red = (op, _axes(node, x.ndim), node.params["keepdims"])
    return run_kernel(lw, (), ins, [(0, lw.output_buffer(out), red)], x.shape, mean=node.op is Op.MEAN)


# --- softmax family: max pass, sum-of-exp pass, output pass
# ------------------------------------------------------
def _max_shift(lw, x: View, axes, finite_only: bool) -> View:
    """m = max(x over axes, keepdims) (with -inf/inf/NaN maxima replaced by 0 for logsumexp)."""
    mshape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    m = lw.temp(x.dtype, mshape)
    run_kernel(lw, (), [x], [(0, m, (Op.MAX, axes, True))], x.shape)
    if finite_only:  # m = where(|m| < inf, m, 0)
        d = x.dtype.name
        body = (
            _instr(Op.ABS, (0,), d),
            _const(np.inf, d),
            _instr(Op.LT, (1, 2), "bool"),
            _const(0, d),
            _instr(Op.WHERE, (3, 0, 4), d),
        )
        m2 = lw.temp(x.dtype, mshape)
        lw.loop(body, [m], [(5, m2, None)], mshape)
        lw.release(m)
        m = m2
    return m


def _sum_exp(lw, x: View, m: View, axes) -> View:
    s = lw.temp(x.dtype, m.shape)
    d = x.dtype.name
    body = (_instr(Op.SUB, (0, 1), d), _instr(Op.EXP, (2,), d))
    run_kernel(lw, body, [x, m], [(3, s, (Op.SUM, axes, True))], x.shape)
    return s


def _softmax(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    axes = (node.params["axis"],) if x.ndim else ()
    m = _max_shift(lw, x, axes, finite_only=False)
    s = _sum_exp(lw, x, m, axes)
    d = x.dtype.name
    dest = lw.output_buffer(out)
    if node.op is Op.SOFTMAX:  # exp(x - m) / s
        body = (_instr(Op.SUB, (0, 1), d), _instr(Op.EXP, (3,), d), _instr(Op.DIV, (4, 2), d))
    else:  # (x - m) - log(s)
        body = (_instr(Op.SUB, (0, 1), d), _instr(Op.LOG, (2,), d), _instr(Op.SUB, (3, 4), d))
    lw.loop(body, [x, m, s], [(5, dest, None)], x.shape)
    lw.release(m)
    lw.release(s)
    return [dest]


def _logsumexp(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    axes, keepdims = _axes(node, x.ndim), node.params["keepdims"]
    m = _max_shift(lw, x, axes, finite_only=True)
    s = _sum_exp(lw, x, m, axes)
    d = x.dtype.name
    dest = lw.output_buffer(out)
    # log(s) + m, computed on the keepdims shape and written through a view with the reduced axes dropped
    target = dest if keepdims else views.insert_axes(dest, axes)
    body = (_instr(Op.LOG, (0,), d), _instr(Op.ADD, (2, 1), d))
    lw.loop(body, [s, m], [(3, target, None)], m.shape)
    lw.release(m)
    lw.release(s)
    return [dest]


# --- shape ops: views
# ------------------------------------------------------------------------------------------
def _transpose(lw, node, ins):
    return [views.transpose(ins[0], node.params["perm"])]


def _broadcast_to(lw, node, ins):
    shape = node.outputs[0].type.shape
    return [views.broadcast(ins[0], shape, [lw.dim(d) for d in shape])]


def contiguous_copy(lw, x: View, var=None) -> View:
    """``x`` itself if C-contiguous, else a contiguous copy (for ``var``'s buffer when given)."""
    if x.contig:
        return x
    dest = lw.output_buffer(var) if var is not None else lw._arena(x.dtype, x.shape)
    lw.copy(x, dest)
    return dest


def _reshape(lw, node, ins):
    x = contiguous_copy(lw, ins[0])
    shape = node.outputs[0].type.shape
    return [views.contiguous(lw.eb, x.ptr, x.dtype, shape, [lw.dim(d) for d in shape], x.buffer)]


def _getitem(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    eb = lw.eb
    offset, axis, k = const(0), 0, 0
    dims, strides, sstrides = [], [], []
    # contiguous: ints, then at most one step-1 slice, then only full slices (new axes anywhere)
    contig, seen_slice = x.contig, False
    for item in node.params["index"]:
        if item[0] == "newaxis":
            dims.append(const(1))
            strides.append(const(0))
            sstrides.append(0)
            k += 1
            continue
        n, stride, sstride = x.dims[axis], x.strides[axis], x.sstrides[axis]
        if item[0] == "int":
            i = const(item[1])
            if item[1] < 0:
                i = eb.add(n, i)
            lw.check(
                lambda b, i=i, n=n: b.and_(b.icmp_signed(">=", i, const(0)), b.icmp_signed("<", i, n)),
                IndexError,
                f"index {item[1]} is out of bounds for axis {axis} of the input to getitem",
            )
            offset = eb.add(offset, eb.mul(i, stride))
            contig = contig and not seen_slice
        else:
            start, step, length = _slice(lw, x.shape[axis], n, *item[1:])
            want = lw.dim(out.type.shape[k])
            lw.check(
                lambda b, a=length, w=want: b.icmp_signed("==", a, w),
                ShapeError,
                f"slice {item[1]}:{item[2]}:{item[3]} of axis {axis} does not have the length its type says "
                f"({out.type.shape[k]}): the input is too short",
            )
            offset = eb.add(offset, eb.mul(start, stride))
            dims.append(want)
            strides.append(eb.mul(stride, const(step)) if step != 1 else stride)
            sstrides.append(sstride * step if sstride is not None else None)
            full = item[1:] == (None, None, None)
            contig = contig and (full or (not seen_slice and step == 1))
            seen_slice = True
            k += 1
        axis += 1
    ptr = lw.b.gep(x.ptr, [offset])
    view = View(
        ptr, x.dtype, out.type.shape, tuple(dims), tuple(strides), tuple(sstrides), contig, None, x.buffer
    )
    if contig:
        view = views.contiguous(lw.eb, ptr, x.dtype, out.type.shape, dims, x.buffer)
    return [view]


def _slice(lw, static_dim, n, start, stop, step):
    """(start, step, length) of a slice as run-time values (Python's slice.indices semantics)."""
    step = 1 if step is None else step
    symbolic = isinstance(start, sympy.Basic) or isinstance(stop, sympy.Basic)
    if isinstance(static_dim, int) and not symbolic:
        r = range(static_dim)[slice(start, stop, step)]
        return const(r.start if len(r) else 0), r.step, const(len(r))
    eb = lw.eb
    if step < 0:
        return _slice_down(eb, n, start, stop, step)

    def bound(v, default):
        if v is None:
            return default
        if isinstance(v, sympy.Basic):  # a size expression: a position from the start (type rules: step > 0)
            value = lw.dim(v)
            return eb.select(eb.icmp_signed(">", value, n), n, value)
        if v < 0:
            value = eb.add(n, const(v))
            return eb.select(eb.icmp_signed("<", value, const(0)), const(0), value)
        return eb.select(eb.icmp_signed(">", const(v), n), n, const(v))

    lo, hi = bound(start, const(0)), bound(stop, n)
    span = eb.sub(hi, lo)
    length = eb.sdiv(eb.add(span, const(step - 1)), const(step))
    length = eb.select(eb.icmp_signed("<", length, const(0)), const(0), length)
    return lo, step, length


def _slice_down(eb, n, start, stop, step):
    """A negative-step slice of a run-time size: bounds clamped to [-1, n - 1] as Python does."""
    last = eb.sub(n, const(1))

    def bound(v, default):
        if v is None:
            return default
        value = eb.add(n, const(v)) if v < 0 else const(v)
        value = eb.select(eb.icmp_signed("<", value, const(-1)), const(-1), value)
        return eb.select(eb.icmp_signed(">", value, last), last, value)

    hi, lo = bound(start, last), bound(stop, const(-1))
    length = eb.sdiv(eb.add(eb.sub(hi, lo), const(-step - 1)), const(-step))
    length = eb.select(eb.icmp_signed("<", length, const(0)), const(0), length)
    return hi, step, length


def _concatenate(lw, node, ins):
    out = node.outputs[0]
    axis = node.params["axis"]
    dest = lw.output_buffer(out)
    start = const(0)
    for v in ins:
        ptr = lw.b.gep(dest.ptr, [lw.eb.mul(start, dest.strides[axis])])
        part = View(
            ptr,
            dest.dtype,
            v.shape,
            tuple(v.dims),
            dest.strides,
            dest.sstrides,
            axis == 0 or all(s == 1 for s in v.shape[:axis]),
            None,
            dest.buffer,
        )
        lw.copy(v, part)
        start = lw.eb.add(start, v.dims[axis])
    return [dest]


def _size(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    dest = lw.output_buffer(out)
    count = lw.product([x.dims[a] for a in node.params["axis"]])
    store_value(lw.b, convert(lw.b, count, "int64", out.type.dtype), dest.ptr, out.type.dtype)
    return [dest]


def _one_hot(lw, node, ins):
    (labels,), out = ins, node.outputs[0]
    depth, b = node.params["depth"], lw.b
    dest = lw.output_buffer(out)
    dtype = out.type.dtype
    with loops.loop_nest(b, list(labels.dims) + [const(depth)]) as idx:
        label = b.load(loops.strided_gep(b, labels.ptr, idx[:-1], labels.strides))
        label = b.sext(label, I64) if label.type != I64 else label
        hit = b.icmp_signed("==", label, idx[-1])
        store_value(
            b, convert(b, hit, "bool", dtype), loops.strided_gep(b, dest.ptr, idx, dest.strides), dtype
        )
    return [dest]


def _argmax(lw, node, ins):
    (x,), out = ins, node.outputs[0]
    axis, b = node.params["axis"], lw.b
    dest = lw.output_buffer(out)
    reduced = list(range(x.ndim)) if axis is None else [axis]
    kept = [a for a in range(x.ndim) if a not in reduced]
    count = lw.product([x.dims[a] for a in reduced])
    lw.check(
        lambda cb: cb.icmp_signed("!=", count, const(0)),
        ValueError,
        "attempt to get argmax of an empty sequence",
    )
    if axis is None:
        out_strides = []
    else:
        out_strides = (
            [s for i, s in enumerate(dest.strides) if i != axis]
            if node.params["keepdims"]
            else list(dest.strides)
        )
    with lw.eb.goto_entry_block():
        best_i, best = lw.eb.alloca(I64), lw.eb.alloca(x.ptr.type.pointee)
    # the flat position inside the reduced axes (what np.argmax returns): C-order strides of those axes
    linear_strides = [const(1)]
    for a in reversed(reduced[1:]):
        linear_strides.insert(0, lw.eb.mul(linear_strides[0], x.dims[a]))
    with loops.loop_nest(b, [x.dims[a] for a in kept], name="o") as outer:
        b.store(const(-1), best_i)
        with loops.loop_nest(b, [x.dims[a] for a in reduced], name="r") as inner:
            index = {a: i for a, i in zip(kept, outer, strict=True)} | dict(zip(reduced, inner, strict=True))
            value = load_value(
                b, loops.strided_gep(b, x.ptr, [index[a] for a in range(x.ndim)], x.strides), x.dtype
            )
            linear = const(0)
            for i, stride in zip(inner, linear_strides, strict=True):
                linear = b.add(linear, b.mul(i, stride))
            best_value = load_value(b, best, x.dtype)
            first = b.icmp_signed("<", b.load(best_i), const(0))
            with b.if_then(b.or_(first, _argmax_better(b, x.dtype, value, best_value))):
                store_value(b, value, best, x.dtype)
                b.store(linear, best_i)
        b.store(b.load(best_i), loops.strided_gep(b, dest.ptr, outer, out_strides))
    return [dest]


def _argmax_better(b, dtype, value, best):
    """True where ``value`` replaces the running best: larger, or the first NaN (as NumPy)."""
    if dtype.kind == "f":
        larger = b.fcmp_ordered(">", value, best)
        first_nan = b.and_(b.fcmp_unordered("uno", value, value), b.fcmp_ordered("ord", best, best))
        return b.or_(larger, first_nan)
    if dtype.kind == "b":
        return b.icmp_unsigned(">", value, best)
    return b.icmp_signed(">", value, best)


def _u64(value: int) -> ir.Constant:
    """A uint64 constant as LLVM's (two's complement) i64."""
    value &= 0xFFFFFFFFFFFFFFFF
    return ir.Constant(I64, value - (1 << 64) if value >= 1 << 63 else value)


def _mix64(b, z):
    """splitmix64's finaliser, as graphc.ops.random_uniform documents it (wrapping i64 arithmetic)."""
    z = b.mul(b.xor(z, b.lshr(z, _u64(30))), _u64(0xBF58476D1CE4E5B9))
    z = b.mul(b.xor(z, b.lshr(z, _u64(27))), _u64(0x94D049BB133111EB))
    return b.xor(z, b.lshr(z, _u64(31)))


def _random_uniform(lw, node, ins):
    """The counter-based hash of graphc.ops.random_uniform, bit for bit (one scalar loop; it is never hot)."""
    (counter,), out = ins, node.outputs[0]
    b, dtype = lw.b, out.type.dtype
    dest = lw.output_buffer(out)
    c = b.load(counter.ptr)
    c = b.sext(c, I64) if c.type != I64 else c
    key = _mix64(b, b.xor(_u64(int(node.params["seed"])), _mix64(b, c)))
    dims = list(dest.dims)
    with loops.loop_nest(b, dims) as idx:
        flat = const(0)
        for i, d in zip(idx, dims, strict=True):
            flat = b.add(b.mul(flat, d), i)
        z = _mix64(b, b.add(key, b.mul(b.add(flat, const(1)), _u64(0x9E3779B97F4A7C15))))
        if dtype == np.float32:
            u = b.fmul(b.uitofp(b.lshr(z, _u64(40)), F64), ir.Constant(F64, 2.0**-24))
            u = b.fptrunc(u, ir.FloatType())
        else:
            u = b.fmul(b.uitofp(b.lshr(z, _u64(11)), F64), ir.Constant(F64, 2.0**-53))
        store_value(b, u, loops.strided_gep(b, dest.ptr, idx, dest.strides), dtype)
    return [dest]


NODE_RULES = {
    Op.FUSED: _fused,
    Op.SUM: _reduction,
    Op.MEAN: _reduction,
    Op.MAX: _reduction,
    Op.MIN: _reduction,
    Op.PROD: _reduction,
    Op.ARGMAX: _argmax,
    Op.MATMUL: matmul,
    Op.TRANSPOSE: _transpose,
    Op.RESHAPE: _reshape,
    Op.BROADCAST_TO: _broadcast_to,
    Op.GETITEM: _getitem,
    Op.CONCATENATE: _concatenate,
    Op.SOFTMAX: _softmax,
    Op.LOG_SOFTMAX: _softmax,
    Op.LOGSUMEXP: _logsumexp,
    Op.ONE_HOT: _one_hot,
    Op.SIZE: _size,
    Op.RANDOM_UNIFORM: _random_uniform,
}
"""NODE_RULES[op](lowerer, node, input_views) -> output views, for every op that is not elementwise."""

__all__ = ["NODE_RULES", "elementwise_node", "run_kernel", "constant", "F64"]
