"""BLAS for JIT code: scipy's Fortran ``?gemm`` pointers and a row-major matmul emitter; no graph knowledge.

The function pointers come from ``scipy.linalg.cython_blas.__pyx_capi__`` (a stable public Cython API), so we
use the same OpenBLAS as scipy and never start a second BLAS thread pool. In IR the functions are external
symbols named ``graphc_blas_<name>`` (e.g. ``graphc_blas_dgemm``); ``register_symbols`` tells the JIT their
addresses, so cached object code stays relocatable across processes.

Example (inside a function being built)::

    emit_matmul(builder, ir.DoubleType(), a_ptr, b_ptr, c_ptr, m, n, k, trans_b=True)   # C = A @ B.T
"""

from __future__ import annotations

import ctypes
from functools import cache

from llvmlite import ir

from . import jit
from .vecmath_emit import float_suffix

__all__ = ["SYMBOL_PREFIX", "blas_function_address", "declare_gemm", "emit_matmul", "register_symbols"]

SYMBOL_PREFIX = "graphc_blas_"
_GEMM_NAMES = {"f32": "sgemm", "f64": "dgemm"}
I8 = ir.IntType(8)
I32 = ir.IntType(32)


@cache
def blas_function_address(name: str) -> int:
    """Address of scipy's Fortran-convention BLAS routine ``name`` (e.g. ``"dgemm"``, ``"sgemv"``)."""
    from scipy.linalg import cython_blas

    try:
        capsule = cython_blas.__pyx_capi__[name]
    except KeyError:
        raise KeyError(f"scipy.linalg.cython_blas has no {name!r}") from None
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    # The capsule's name is its C signature; GetPointer insists on being given exactly that name.
    address = get_pointer(capsule, get_name(capsule))
    if not address:
        raise RuntimeError(f"null pointer in scipy's BLAS capsule for {name!r}")
    return int(address)


def register_symbols(names: tuple[str, ...] = ("sgemm", "dgemm", "sgemv", "dgemv")) -> None:
    """Let JIT-linked code resolve ``graphc_blas_<name>``; idempotent and cheap after the first call."""
    for name in names:
        jit.register_symbol(SYMBOL_PREFIX + name, blas_function_address(name))


def declare_gemm(module: ir.Module, ty: ir.Type) -> ir.Function:
    """Declare Fortran ``?gemm`` (all arguments by pointer, int32 sizes) in ``module``; register its symbol.

    ``void gemm(char* transa, char* transb, i32* m, i32* n, i32* k, T* alpha, T* a, i32* lda, T* b, i32* ldb,
    T* beta, T* c, i32* ldc)``
    """
    name = _GEMM_NAMES[float_suffix(ty)]
    register_symbols((name,))
    symbol = SYMBOL_PREFIX + name
    existing = module.globals.get(symbol)
    if existing is not None:
        return existing
    tp = ty.as_pointer()
    i8p, i32p = I8.as_pointer(), I32.as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i8p, i32p, i32p, i32p, tp, tp, i32p, tp, i32p, tp, tp, i32p])
    return ir.Function(module, fnty, symbol)


def _slot(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """Store ``value`` in a stack slot allocated once in the entry block (not per loop iteration)."""
    with builder.goto_entry_block():
        ptr = builder.alloca(value.type)
    builder.store(value, ptr)
    return ptr


def _i32(builder: ir.IRBuilder, value: ir.Value | int) -> ir.Value:
    if not isinstance(value, ir.Value):
        return ir.Constant(I32, value)
    if value.type == I32:
        return value
    return builder.trunc(value, I32)


def emit_matmul(
    builder: ir.IRBuilder,
    ty: ir.Type,
    a: ir.Value,
    b: ir.Value,
    c: ir.Value,
    m: ir.Value | int,
    n: ir.Value | int,
    k: ir.Value | int,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
    lda: ir.Value | int | None = None,
    ldb: ir.Value | int | None = None,
    ldc: ir.Value | int | None = None,
) -> None:
    """Emit ``C = alpha * op(A) @ op(B) + beta * C`` for row-major C-contiguous arrays.

    ``op(A)`` is m x k, ``op(B)`` is k x n, C is m x n. With ``trans_a`` the array A is stored k x m (so A.T
    is used), likewise ``trans_b``. ``lda``/``ldb``/``ldc`` are row strides in elements and default to the
    stored row length. Sizes are truncated to int32 (BLAS's LP64 interface): callers check they fit.
    """
    gemm = declare_gemm(builder.module, ty)
    # Row-major C is column-major C.T = op(B).T @ op(A).T: swap the operands and m/n, keep the flags,
    # because Fortran reads a row-major array as its transpose already.
    lda = lda if lda is not None else (m if trans_a else k)
    ldb = ldb if ldb is not None else (k if trans_b else n)
    ldc = ldc if ldc is not None else n
    flag_a = ir.Constant(I8, ord("T" if trans_a else "N"))
    flag_b = ir.Constant(I8, ord("T" if trans_b else "N"))
    args = [
        _slot(builder, flag_b),
        _slot(builder, flag_a),
        _slot(builder, _i32(builder, n)),
        _slot(builder, _i32(builder, m)),
        _slot(builder, _i32(builder, k)),
        _slot(builder, ir.Constant(ty, alpha)),
        b,
        _slot(builder, _i32(builder, ldb)),
        a,
        _slot(builder, _i32(builder, lda)),
        _slot(builder, ir.Constant(ty, beta)),
        c,
        _slot(builder, _i32(builder, ldc)),
    ]
    builder.call(gemm, args)
