"""Thread dispatch for loop kernels: ``graphc.run`` splits a kernel's outer range across pthreads when the
work pays for starting them. Knows the kernel calling convention, not ops or graphs.
"""

from __future__ import annotations

from llvmlite import ir

from . import loops
from .scalar import I8, I32, I64

I8P = I8.as_pointer()
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), I64.as_pointer(), I64, I64])
"""``void kernel(i8** ptrs, i64* info, i64 lo, i64 hi)``: see ``kernels``."""
MAX_THREADS = 16
PARALLEL_WORK = 1 << 21  # elements x cost above which a loop is split across threads (starting one costs
# ~20 us, and BLAS worker threads may still be spinning on the other core after a matmul)


def get_runner(module: ir.Module) -> ir.Function:
    """``void graphc.run(kernel, ptrs, info, n, work, nthreads)``: the kernel on [0, n), split across threads
    when ``work`` (elements x cost) is large enough to pay for starting them."""
    if "graphc.run" in module.globals:
        return module.globals["graphc.run"]
    par = get_parallel(module)
    i64p = I64.as_pointer()
    fn = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [KERNEL_TYPE.as_pointer(), I8P.as_pointer(), i64p, I64, I64, I64]),
        "graphc.run",
    )
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    kern, ptrs, info, n, work, nt = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    big = b.and_(
        b.icmp_signed(">=", work, ir.Constant(I64, PARALLEL_WORK)),
        b.icmp_signed(">", nt, ir.Constant(I64, 1)),
    )
    with b.if_else(big) as (then, otherwise):
        with then:
            b.call(par, [kern, ptrs, info, n, nt])
        with otherwise:
            b.call(kern, [ptrs, info, ir.Constant(I64, 0), n])
    b.ret_void()
    return fn


_CTX = ir.LiteralStructType([KERNEL_TYPE.as_pointer(), I8P.as_pointer(), I64.as_pointer(), I64, I64])


def get_parallel(module: ir.Module) -> ir.Function:
    """``void graphc.par(kernel, ptrs, info, n, nthreads)``: split [0, n) into chunks, one pthread each.

    The calling thread runs the first chunk. If a thread cannot be created its chunk runs inline, so a
    failure to start threads only costs speed.
    """
    if "graphc.par" in module.globals:
        return module.globals["graphc.par"]
    tramp = _trampoline(module)
    i64p = I64.as_pointer()
    create = ir.Function(module, ir.FunctionType(I32, [i64p, I8P, tramp.type, I8P]), "pthread_create")
    join = ir.Function(module, ir.FunctionType(I32, [I64, I8P.as_pointer()]), "pthread_join")
    fn = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [KERNEL_TYPE.as_pointer(), I8P.as_pointer(), i64p, I64, I64]),
        "graphc.par",
    )
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    kern, ptrs, info, n, nt = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    nt = b.select(b.icmp_signed(">", nt, ir.Constant(I64, MAX_THREADS)), ir.Constant(I64, MAX_THREADS), nt)
    nt = b.select(b.icmp_signed(">", nt, n), n, nt)
    nt = b.select(b.icmp_signed("<", nt, ir.Constant(I64, 1)), ir.Constant(I64, 1), nt)
    chunk = b.sdiv(b.add(n, b.sub(nt, ir.Constant(I64, 1))), nt)
    ctxs = b.alloca(_CTX, size=ir.Constant(I64, MAX_THREADS))
    tids = b.alloca(I64, size=ir.Constant(I64, MAX_THREADS))
    made = b.alloca(I8, size=ir.Constant(I64, MAX_THREADS))
    with loops.for_range(b, nt, start=1, name="t") as t:
        start = b.mul(t, chunk)
        stop = b.add(start, chunk)
        stop = b.select(b.icmp_signed(">", stop, n), n, stop)
        ctx = b.gep(ctxs, [t])
        for k, value in enumerate((kern, ptrs, info, start, stop)):
            b.store(value, b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
        rc = b.call(create, [b.gep(tids, [t]), ir.Constant(I8P, None), tramp, b.bitcast(ctx, I8P)])
        ok = b.icmp_signed("==", rc, ir.Constant(I32, 0))
        b.store(b.zext(ok, I8), b.gep(made, [t]))
        with b.if_then(b.not_(ok)):
            b.call(kern, [ptrs, info, start, stop])
    first = b.select(b.icmp_signed("<", chunk, n), chunk, n)
    b.call(kern, [ptrs, info, ir.Constant(I64, 0), first])
    with loops.for_range(b, nt, start=1, name="j") as t:
        with b.if_then(b.icmp_unsigned("!=", b.load(b.gep(made, [t])), ir.Constant(I8, 0))):
            b.call(join, [b.load(b.gep(tids, [t])), ir.Constant(I8P.as_pointer(), None)])
    b.ret_void()
    return fn


def _trampoline(module: ir.Module) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(I8P, [I8P]), "graphc.tramp")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = b.bitcast(fn.args[0], _CTX.as_pointer())
    fields = [b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)])) for k in range(5)]
    b.call(fields[0], fields[1:])
    b.ret(ir.Constant(I8P, None))
    return fn


__all__ = ["KERNEL_TYPE", "MAX_THREADS", "PARALLEL_WORK", "get_parallel", "get_runner"]
