"""Ops that read indices from the data, for the llvm backend: ONE_HOT, the gathers (GATHER, GATHER_ALONG) and
their transposes (SCATTER_ADD, SCATTER_ADD_ALONG). Each index is checked where it is read (``ctx.fail_if``),
against the op's row of ``graphc.codegen.checks``. Knows views and ops.

A gather works on its operands as (outer, n, inner) blocks around its axis: all indices are checked first (a
helper returns the position of the first bad one), then a helper function of the module does the work with
no failure path. Helpers are functions of the kernel module (always optimised), one per dtype, shared by
every node that needs them.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.codegen.checks import indices as index_check
from graphc.codegen.checks import one_hot_labels
from graphc.ops import Op

from . import loops
from .scalar import I64, convert, memory_type, store_value
from .views import View, const


def _one_hot(ctx, node, ins):
    """out[..., k] = (labels[...] == k); a label outside [0, depth) stops the call (not a row of zeros)."""
    (labels,), out = ins, node.outputs[0]
    depth, b, dtype = node.params["depth"], ctx.b, out.type.dtype
    dest = ctx.out(out)
    check = one_hot_labels(node)
    with loops.loop_nest(b, list(labels.dims)) as idx:
        label = b.load(loops.strided_gep(b, labels.ptr, idx, labels.strides))
        label = b.sext(label, I64) if label.type != I64 else label
        position = const(0)  # the label's flat C-order index, as the Python check reports it
        for i, n in zip(idx, labels.dims, strict=True):
            position = b.add(b.mul(position, n), i)
        ctx.fail_if(b.icmp_unsigned(">=", label, const(depth)), check, label, position)  # negatives too
        with loops.for_range(b, depth, name="k") as k:
            hit = convert(b, b.icmp_signed("==", label, k), "bool", dtype)
            store_value(b, hit, loops.strided_gep(b, dest.ptr, [*idx, k], dest.strides), dtype)
    return [dest]


# --- the helpers --------------------------------------------------------------------------------------------
VOID = ir.VoidType()


def helper(module: ir.Module, name: str, args: list[ir.Type], build, ret: ir.Type = VOID) -> ir.Function:
    """The module's function ``name``, made once: ``build(builder, *fn.args)`` writes its body."""
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    build(b, *fn.args)
    if not b.block.is_terminated:
        b.ret_void()
    return fn


def _index(b: ir.IRBuilder, ptr, position, n) -> ir.Value:
    """The index at ``ptr[position]`` as an i64 in [0, n) (a checked index: negatives wrap)."""
    k = b.load(b.gep(ptr, [position]))
    k = b.sext(k, I64) if k.type != I64 else k
    return b.select(b.icmp_signed("<", k, const(0)), b.add(k, n), k)


def _first_bad(b, idx, count, n, bad):
    """Body of the check: the position of the first index outside [-n, n) (its value to *bad), else -1."""
    with loops.for_range(b, count, name="j") as j:
        k = b.load(b.gep(idx, [j]))
        k = b.sext(k, I64) if k.type != I64 else k
        outside = b.or_(b.icmp_signed("<", k, b.neg(n)), b.icmp_signed(">=", k, n))
        with b.if_then(outside, likely=False):
            b.store(k, bad)
            b.ret(j)
    b.ret(const(-1))


def _add(b: ir.IRBuilder, x, y, dtype):
    """x + y as np.add.at adds (bools: or), on values as they are stored."""
    if dtype.kind == "f":
        return b.fadd(x, y)
    return b.or_(x, y) if dtype.kind == "b" else b.add(x, y)


def _move(b, p, q, dtype, scatter: bool) -> None:
    """gather: *q = *p; scatter: *p += *q."""
    if scatter:
        b.store(_add(b, b.load(p), b.load(q), dtype), p)
    else:
        b.store(b.load(p), q)


def _rows(dtype, scatter: bool):
    def body(b, data, idx, other, outer, n, inner, m):
        """gather: other[o, j, :] = data[o, idx[j], :]
        scatter: data[o, idx[j], :] += other[o, j, :], in the order of j (as np.add.at)"""
        with loops.for_range(b, outer, name="o") as o:
            with loops.for_range(b, m, name="j") as j:
                p = b.gep(data, [b.mul(b.add(b.mul(o, n), _index(b, idx, j, n)), inner)])
                q = b.gep(other, [b.mul(b.add(b.mul(o, m), j), inner)])
                with loops.for_range(b, inner) as i:
                    _move(b, b.gep(p, [i]), b.gep(q, [i]), dtype, scatter)

    return body


def _along(dtype, scatter: bool):
    def body(b, data, idx, other, outer, n, inner, m):
        """gather: other[o, j, i] = data[o, idx[o, j, i], i]
        scatter: data[o, idx[o, j, i], i] += other[o, j, i]"""
        with loops.for_range(b, outer, name="o") as o:
            with loops.for_range(b, m, name="j") as j:
                row = b.mul(b.add(b.mul(o, m), j), inner)
                with loops.for_range(b, inner) as i:
                    at = b.add(row, i)
                    p = b.gep(data, [b.add(b.mul(b.add(b.mul(o, n), _index(b, idx, at, n)), inner), i)])
                    _move(b, p, b.gep(other, [at]), dtype, scatter)

    return body


# --- the rules ----------------------------------------------------------------------------------------------
def _contiguous(ctx, v: View) -> View:
    if v.contig:
        return v
    copy = ctx.temp(v.dtype, v.shape)
    ctx.copy(v, copy)
    return copy


def blocks(ctx, shape, axis: int) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(outer, n, inner): the sizes before, along and after ``axis`` (a 0-d value is one block of one)."""
    shape = tuple(shape) or (1,)
    dims = [ctx.dim(d) for d in shape]
    return ctx.product(dims[:axis]), dims[axis], ctx.product(dims[axis + 1 :])


def _checked(ctx, node, idx: View, count, n) -> None:
    """Every index in [-n, n), or the call stops at the first that is not."""
    args = [memory_type(idx.dtype).as_pointer(), I64, I64, I64.as_pointer()]
    fn = helper(ctx.module, f"graphc.check_indices.{idx.dtype.name}", args, _first_bad, ret=I64)
    value = ctx.entry_alloca(I64)
    position = ctx.b.call(fn, [idx.ptr, count, n, value])
    bad = ctx.b.icmp_signed("!=", position, const(-1))
    ctx.fail_if(bad, index_check(node), ctx.b.load(value), position, n)


def _gather_rule(kind: str):
    def rule(ctx, node, ins):
        x, idx = ins[0], _contiguous(ctx, ins[1])
        outer, n, inner = blocks(ctx, x.shape, node.params["axis"])
        count = ctx.product([ctx.dim(d) for d in idx.shape])
        m = count if kind in ("gather", "scatter_add") else ctx.dim(idx.shape[node.params["axis"]])
        _checked(ctx, node, idx, count, n)
        dest = ctx.out(node.outputs[0])
        if kind.startswith("scatter"):
            ctx.copy(x, dest)  # then the updates are added in place
            operands = [dest.ptr, idx.ptr, _contiguous(ctx, ins[2]).ptr]
        else:
            operands = [_contiguous(ctx, x).ptr, idx.ptr, dest.ptr]
        dtype, itype = x.dtype, idx.dtype
        body = (_along if kind.endswith("along") else _rows)(dtype, scatter=kind.startswith("scatter"))
        pointer = memory_type(dtype).as_pointer()
        args = [pointer, memory_type(itype).as_pointer(), pointer, I64, I64, I64, I64]
        fn = helper(ctx.module, f"graphc.{kind}.{dtype.name}.{itype.name}", args, body)
        ctx.b.call(fn, [*operands, outer, n, inner, m])
        return [dest]

    return rule


RULES = {
    Op.ONE_HOT: _one_hot,
    Op.GATHER: _gather_rule("gather"),
    Op.SCATTER_ADD: _gather_rule("scatter_add"),
    Op.GATHER_ALONG: _gather_rule("gather_along"),
    Op.SCATTER_ADD_ALONG: _gather_rule("scatter_add_along"),
}

__all__ = ["RULES", "blocks", "helper"]
