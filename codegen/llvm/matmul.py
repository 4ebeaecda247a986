"""Matrix products for the llvm backend: BLAS ``?gemm`` for float matrices (batched, broadcast, transposed
views read in place), one reduction loop for integers. Knows views and ops, not graphs.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from llvmlite import ir

from graphc.errors import ShapeError
from graphc.kernel import Instr
from graphc.ops import Op, describe

from . import blas, loops, views
from .reduce import run_kernel
from .scalar import I64
from .views import View, const


def matmul(ctx, node, ins):
    """LLVM_RULES[Op.MATMUL]: vectors as (1, k)/(k, 1) matrices, operands BLAS cannot read are copied."""
    a, bm = ins
    out = node.outputs[0]
    dtype = out.type.dtype
    dest = ctx.out(out)
    # vectors become (1, k) / (k, 1) matrices; contiguous ones stay dense ("C") for BLAS
    a2 = _vector_as_matrix(a, 0) if a.ndim == 1 else a
    b2 = _vector_as_matrix(bm, 1) if bm.ndim == 1 else bm
    batch_shape = tuple(dest.shape[: max(0, len(dest.shape) - (a.ndim > 1) - (bm.ndim > 1))])
    if dtype.kind != "f":
        _matmul_loops(ctx, a2, b2, dest, batch_shape)
        return [dest]
    operands = []
    for v in (a2, b2):
        if v.dtype != dtype or v.mat is None:
            t = ctx.temp(dtype, v.shape)
            ctx.copy(v, t)
            v = t
        operands.append(v)
    a2, b2 = operands
    c2 = views.contiguous(
        ctx.entry,
        dest.ptr,
        dtype,
        batch_shape + (a2.shape[-2], b2.shape[-1]),
        [ctx.dim(d) for d in batch_shape] + [a2.dims[-2], b2.dims[-1]],
    )
    batch_dims = [ctx.dim(d) for d in batch_shape]
    abat = views.broadcast(_batch(a2), batch_shape, batch_dims)
    bbat = views.broadcast(_batch(b2), batch_shape, batch_dims)
    b = ctx.b
    m, k, n = a2.dims[-2], a2.dims[-1], b2.dims[-1]
    x, y = node.inputs
    ctx.check(
        lambda cb: _fits_blas(cb, a2, b2, m, n, k),
        ShapeError,
        f"matmul: {describe(x)} @ {describe(y)}: BLAS takes sizes and row strides below 2**31, and these "
        "are larger (graphc refuses rather than wrap them)",
    )
    with loops.loop_nest(b, batch_dims, name="batch") as idx:
        pa = loops.strided_gep(b, a2.ptr, idx, abat.strides) if idx else a2.ptr
        pb = loops.strided_gep(b, b2.ptr, idx, bbat.strides) if idx else b2.ptr
        pc = loops.strided_gep(b, c2.ptr, idx, c2.strides[:-2]) if idx else c2.ptr
        ta, lda = _ld(b, a2)
        tb, ldb = _ld(b, b2)
        gemm = _gemm(ctx.module, pa.type.pointee, ta, tb)
        b.call(gemm, [m, n, k, pa, lda, pb, ldb, pc, _at_least(b, n, const(1))])
    return [dest]


def _gemm(module: ir.Module, ty: ir.Type, trans_a: bool, trans_b: bool) -> ir.Function:
    """``graphc.gemm.<t>.<NT>(m, n, k, a, lda, b, ldb, c, ldc)``: one small function per variant, so each
    matmul in the entry is a single call (the BLAS argument slots would otherwise bloat it)."""
    name = f"graphc.gemm.{'f32' if isinstance(ty, ir.FloatType) else 'f64'}.{'NT'[trans_a]}{'NT'[trans_b]}"
    if name in module.globals:
        return module.globals[name]
    tp = ty.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, I64, tp, I64, tp, I64, tp, I64]), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    m, n, k, a, lda, b_, ldb, c, ldc = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    empty = builder.or_(builder.icmp_signed("==", m, const(0)), builder.icmp_signed("==", n, const(0)))
    with builder.if_then(empty):  # nothing to compute, and the other size may not fit BLAS's int32
        builder.ret_void()
    blas.emit_matmul(
        builder, ty, a, b_, c, m, n, k, trans_a=trans_a, trans_b=trans_b, lda=lda, ldb=ldb, ldc=ldc
    )
    builder.ret_void()
    return fn


def _fits_blas(b: ir.IRBuilder, a: View, bm: View, m, n, k) -> ir.Value:
    """Every size and leading dimension the gemm call passes fits BLAS's int32, or C is empty (no call)."""
    sizes = (m, n, k, _ld(b, a)[1], _ld(b, bm)[1])  # ldc is n (at least 1)
    fits = functools.reduce(b.and_, [b.icmp_signed("<=", v, const(2**31 - 1)) for v in sizes])
    empty = b.or_(b.icmp_signed("==", m, const(0)), b.icmp_signed("==", n, const(0)))
    return b.or_(fits, empty)


def _vector_as_matrix(v: View, axis: int) -> View:
    m = views.insert_axes(v, (axis,))
    return replace(m, mat="C" if v.contig else None)


def _batch(v: View) -> View:
    """The batch axes of a matrix view, as a view (for broadcasting the strides)."""
    return View(v.ptr, v.dtype, v.shape[:-2], v.dims[:-2], v.strides[:-2], v.sstrides[:-2], False, None)


def _at_least(b, x, y):
    if isinstance(x, ir.Constant) and isinstance(y, ir.Constant):
        return const(max(x.constant, y.constant))
    return b.select(b.icmp_signed(">", x, y), x, y)


def _ld(b, v: View):
    """(transposed?, leading dimension) of a dense matrix view; ld is at least what BLAS requires."""
    if v.mat == "C":
        return False, _at_least(b, _at_least(b, v.strides[-2], v.dims[-1]), const(1))
    return True, _at_least(b, _at_least(b, v.strides[-1], v.dims[-2]), const(1))


def _matmul_loops(ctx, a: View, bm: View, dest: View, batch_shape) -> None:
    """Integer matmul: C[..., i, j] = sum_p A[..., i, p] B[..., p, j] as one reduction loop."""
    m, k, n = a.shape[-2], a.shape[-1], bm.shape[-1]
    shape = tuple(batch_shape) + (m, n, k)
    dims = [ctx.dim(d) for d in shape]
    nb = len(batch_shape)
    abat = views.broadcast(_batch(a), batch_shape, dims[:nb])
    bbat = views.broadcast(_batch(bm), batch_shape, dims[:nb])
    zero = const(0)
    av = views.restride(
        a,
        shape,
        dims,
        abat.strides + (a.strides[-2], zero, a.strides[-1]),
        abat.sstrides + (a.sstrides[-2], 0, a.sstrides[-1]),
    )
    bv = views.restride(
        bm,
        shape,
        dims,
        bbat.strides + (zero, bm.strides[-1], bm.strides[-2]),
        bbat.sstrides + (0, bm.sstrides[-1], bm.sstrides[-2]),
    )
    c = views.contiguous(ctx.entry, dest.ptr, dest.dtype, shape[:-1], dims[:-1])
    body = (Instr(Op.MUL, (0, 1), (), dest.dtype.name),)
    run_kernel(ctx, body, [av, bv], [(2, c, (Op.SUM, (len(shape) - 1,), False))], shape)


RULES = {Op.MATMUL: matmul}

__all__ = ["RULES"]
