"""loops: for_range/loop_nest/strided_gep build a correct 2-D strided copy (a transpose)."""

import ctypes

import numpy as np
import pytest
from llvmlite import ir

from graphc.codegen.llvm import jit, loops


def test_loop_nest_transpose():
    f64 = ir.DoubleType()
    module = ir.Module(name="transpose")
    fnty = ir.FunctionType(ir.VoidType(), [f64.as_pointer(), f64.as_pointer(), loops.I64, loops.I64])
    fn = ir.Function(module, fnty, "transpose")
    src, dst, rows, cols = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    with loops.loop_nest(builder, [rows, cols]) as (i, j):
        value = builder.load(loops.strided_gep(builder, src, [i, j], [cols, 1]))
        builder.store(value, loops.strided_gep(builder, dst, [j, i], [rows, 1]))
    builder.ret_void()
    lib = jit.default_engine().compile(str(module), ["transpose"], name="transpose")
    call = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)(
        lib.address("transpose")
    )
    a = np.arange(12.0).reshape(3, 4)
    out = np.zeros((4, 3))
    call(a.ctypes.data, out.ctypes.data, 3, 4)
    np.testing.assert_array_equal(out, a.T)
    call(a.ctypes.data, out.ctypes.data, 0, 4)  # empty loop: guarded, no iteration


def test_missing_export_is_a_clear_error():
    lib = jit.default_engine().compile("define void @f() {\n  ret void\n}\n", ["f"], name="tiny")
    with pytest.raises(KeyError, match="exports: \\['f'\\]"):
        lib.address("g")
