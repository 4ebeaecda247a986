"""Test helpers: build and JIT small elementwise kernels over float arrays; used by the llvm_infra tests."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
from llvmlite import ir

from graphc.codegen.llvm import jit, loops, vecmath

LLVM_TYPES = {np.dtype(np.float32): ir.FloatType(), np.dtype(np.float64): ir.DoubleType()}
UNARY_SIG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def unary_kernel_ir(func: str, dtype: np.dtype, name: str = "kernel") -> str:
    """IR of ``void kernel(T* noalias x, T* noalias y, i64 n) { for i < n: y[i] = func(x[i]) }``."""
    ty = LLVM_TYPES[np.dtype(dtype)]
    module = ir.Module(name=f"{func}_{np.dtype(dtype).name}")
    fn = ir.Function(
        module, ir.FunctionType(ir.VoidType(), [ty.as_pointer(), ty.as_pointer(), loops.I64]), name
    )
    for arg in fn.args[:2]:
        arg.add_attribute("noalias")
    x, y, n = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    math_fn = vecmath.get_math_function(module, func, ty)
    with loops.for_range(builder, n) as i:
        value = builder.call(math_fn, [builder.load(loops.gep(builder, x, i))])
        builder.store(value, loops.gep(builder, y, i))
    builder.ret_void()
    return str(module)


def compile_unary(func: str, dtype: np.dtype) -> tuple[Callable[[np.ndarray], np.ndarray], jit.JitLibrary]:
    """JIT ``y = func(x)`` for contiguous 1-D arrays of ``dtype``; returns (callable, library)."""
    lib = jit.default_engine().compile(unary_kernel_ir(func, dtype), ["kernel"], name=f"{func}_{dtype}")
    cfunc = UNARY_SIG(lib.address("kernel"))

    def call(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=dtype)
        y = np.empty_like(x)
        cfunc(x.ctypes.data, y.ctypes.data, x.size)
        return y

    call.lib = lib  # keep the code alive as long as the callable
    return call, lib


BINARY_SIG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def compile_binary(func: str, dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """JIT ``z = func(x, y)`` for contiguous 1-D arrays of ``dtype`` (same length)."""
    ty = LLVM_TYPES[np.dtype(dtype)]
    module = ir.Module(name=f"{func}_{np.dtype(dtype).name}")
    p = ty.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [p, p, p, loops.I64]), "kernel")
    for arg in fn.args[:3]:
        arg.add_attribute("noalias")
    x, y, z, n = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    math_fn = vecmath.get_math_function(module, func, ty)
    with loops.for_range(builder, n) as i:
        args = [builder.load(loops.gep(builder, a, i)) for a in (x, y)]
        builder.store(builder.call(math_fn, args), loops.gep(builder, z, i))
    builder.ret_void()
    lib = jit.default_engine().compile(str(module), ["kernel"], name=f"{func}_{dtype}")
    cfunc = BINARY_SIG(lib.address("kernel"))

    def call(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.ascontiguousarray(a, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)
        out = np.empty_like(a)
        cfunc(a.ctypes.data, b.ctypes.data, out.ctypes.data, a.size)
        return out

    call.lib = lib
    return call
