"""blas: scipy's gemm called from JIT code matches np.matmul, every transpose combination, both dtypes."""

import ctypes
import itertools

import numpy as np
import pytest
from llvmlite import ir

from graphc.codegen.llvm import blas, jit, loops

LLVM_TYPES = {np.float32: ir.FloatType(), np.float64: ir.DoubleType()}
MM_SIG = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, *[ctypes.c_int64] * 3)


def compile_matmul(dtype, trans_a, trans_b, alpha=1.0, beta=0.0):
    """``void mm(T* a, T* b, T* c, i64 m, i64 n, i64 k)`` computing C = alpha op(A) op(B) + beta C."""
    ty = LLVM_TYPES[dtype]
    module = ir.Module(name="mm")
    fnty = ir.FunctionType(ir.VoidType(), [ty.as_pointer()] * 3 + [loops.I64] * 3)
    fn = ir.Function(module, fnty, "mm")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    a, b, c, m, n, k = fn.args
    blas.emit_matmul(builder, ty, a, b, c, m, n, k, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
    builder.ret_void()
    lib = jit.default_engine().compile(str(module), ["mm"], name="mm")
    return MM_SIG(lib.address("mm")), lib


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_matmul_matches_numpy(dtype, trans_a, trans_b):
    fn, _lib = compile_matmul(dtype, trans_a, trans_b)
    rng = np.random.default_rng(1)
    m, n, k = 7, 5, 3
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = np.full((m, n), np.nan, dtype)  # beta = 0 must not read C (BLAS convention)
    fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, m, n, k)
    want = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_alpha_beta_accumulate():
    fn, _lib = compile_matmul(np.float64, False, False, alpha=2.0, beta=1.0)
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal((4, 6)), rng.standard_normal((6, 3)), rng.standard_normal((4, 3))
    want = 2.0 * a @ b + c
    fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, 4, 3, 6)
    np.testing.assert_allclose(c, want, rtol=1e-12)


def test_large_matmul_and_object_reload():
    fn, lib = compile_matmul(np.float32, False, True)
    rng = np.random.default_rng(3)
    a, b = (
        rng.standard_normal((300, 200)).astype(np.float32),
        rng.standard_normal((100, 200)).astype(np.float32),
    )
    c = np.empty((300, 100), np.float32)
    fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, 300, 100, 200)
    np.testing.assert_allclose(c, a @ b.T, rtol=1e-4, atol=1e-4)
    # The same code through object bytes (the cache's path) resolves the BLAS symbol again.
    _, obj = jit.default_engine().optimize(lib.llvm_ir, "mm_obj")
    lib2 = jit.default_engine().add_object(obj, ["mm"], name="mm_obj")
    c2 = np.empty_like(c)
    MM_SIG(lib2.address("mm"))(a.ctypes.data, b.ctypes.data, c2.ctypes.data, 300, 100, 200)
    np.testing.assert_array_equal(c2, c)


def test_capsule_addresses():
    assert blas.blas_function_address("dgemm") != blas.blas_function_address("sgemm")
    with pytest.raises(KeyError):
        blas.blas_function_address("nosuchblas")
