"""One element in LLVM IR: dtypes as IR types, loads and stores, NumPy's conversions, the `Scalar` a scalar
rule receives, and NumPy's maximum/minimum/sign. Knows dtypes, not ops or graphs. No fast-math flags: NaN/Inf
behave as in NumPy.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir

from . import mathlib, vecmath

F32, F64, I1, I8, I32, I64 = (
    ir.FloatType(),
    ir.DoubleType(),
    ir.IntType(1),
    ir.IntType(8),
    ir.IntType(32),
    ir.IntType(64),
)
_MEMORY_TYPES = {"float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": I8}
_VALUE_TYPES = {**_MEMORY_TYPES, "bool": I1}


@functools.lru_cache(maxsize=64)  # NumPy builds a dtype's name anew each time, slowly
def memory_type(dtype) -> ir.Type:
    """How a dtype is stored in memory (bool is one byte)."""
    return _MEMORY_TYPES[np.dtype(dtype).name]


@functools.lru_cache(maxsize=64)
def value_type(dtype) -> ir.Type:
    """How a dtype is held in registers (bool is i1)."""
    return _VALUE_TYPES[np.dtype(dtype).name]


def load_value(b: ir.IRBuilder, ptr: ir.Value, dtype) -> ir.Value:
    v = b.load(ptr)
    return b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if np.dtype(dtype).kind == "b" else v


def store_value(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, dtype) -> None:
    b.store(b.zext(value, I8) if np.dtype(dtype).kind == "b" else value, ptr)


def constant(dtype, value) -> ir.Constant:
    kind = np.dtype(dtype).kind
    if kind == "f":
        return ir.Constant(value_type(dtype), float(value))
    return ir.Constant(value_type(dtype), int(bool(value)) if kind == "b" else int(value))


def convert(b: ir.IRBuilder, v: ir.Value, src, dst) -> ir.Value:
    """NumPy's astype for one scalar (float->int as on x86: out of range and NaN give the minimum int)."""
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return v
    ty = value_type(dst)
    if dst.kind == "b":
        if src.kind == "f":
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
    if src.kind == "b":
        return b.uitofp(v, ty) if dst.kind == "f" else b.zext(v, ty)
    if src.kind == "f" and dst.kind == "f":
        return b.fpext(v, ty) if dst.itemsize > src.itemsize else b.fptrunc(v, ty)
    if dst.kind == "f":
        return b.sitofp(v, ty)
    if src.kind == "f":
        bits = dst.itemsize * 8
        lo, hi = ir.Constant(v.type, -(2.0 ** (bits - 1))), ir.Constant(v.type, 2.0 ** (bits - 1))
        ok = b.and_(b.fcmp_ordered(">=", v, lo), b.fcmp_ordered("<", v, hi))
        return b.select(ok, b.fptosi(v, ty), ir.Constant(ty, -(2 ** (bits - 1))))
    return b.sext(v, ty) if dst.itemsize > src.itemsize else b.trunc(v, ty)


class Scalar:
    """What a scalar rule sees: the builder and the dtype its op computes in."""

    def __init__(self, b: ir.IRBuilder, dtype, fail_if=None):
        self.b = b
        self.dtype = np.dtype(dtype)
        self.ty = value_type(self.dtype)
        self.float = self.dtype.kind == "f"
        self.bool = self.dtype.kind == "b"
        self._fail_if = fail_if

    def fail_if(self, bad: ir.Value, value: ir.Value, arg: int, bound: ir.Value | None = None) -> None:
        """Where the i1 ``bad`` holds, stop the call with the node's check (``graphc.codegen.checks``),
        reporting ``value`` and the element's position in the rule's argument ``arg`` (``kernels``)."""
        if self._fail_if is None:
            raise NotImplementedError(
                "an llvm scalar rule checks the data, but its node has no row in "
                "graphc.codegen.checks.RUNTIME_CHECKS"
            )
        self._fail_if(bad, value, arg, bound)

    def c(self, value) -> ir.Constant:
        return constant(self.dtype, value)

    def math(self, name: str, *args: ir.Value) -> ir.Value:
        if len(args) == 1:
            return mathlib.call(self.b, name, self.ty, *args)
        # atan2 is always inlined: the out-of-line units (mathlib) take one argument
        return self.b.call(vecmath.get_math_function(self.b.module, name, self.ty), list(args))

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        fn = self.b.module.declare_intrinsic(name, [self.ty], ir.FunctionType(self.ty, [self.ty] * len(args)))
        return self.b.call(fn, list(args))

    def isnan(self, x: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", x, x)


def maximum(s: Scalar, x, y):
    """np.maximum: NaN wins; on ties the second argument (so maximum(-0.0, 0.0) is 0.0)."""
    if s.float:
        return s.b.select(s.b.or_(s.b.fcmp_ordered(">", x, y), s.isnan(x)), x, y)
    if s.bool:
        return s.b.or_(x, y)
    return s.b.select(s.b.icmp_signed(">", x, y), x, y)


def minimum(s: Scalar, x, y):
    if s.float:
        return s.b.select(s.b.or_(s.b.fcmp_ordered("<", x, y), s.isnan(x)), x, y)
    if s.bool:
        return s.b.and_(x, y)
    return s.b.select(s.b.icmp_signed("<", x, y), x, y)


def sign(s, x):
    b = s.b
    if s.bool:
        return x
    if not s.float:
        gt, lt = b.icmp_signed(">", x, s.c(0)), b.icmp_signed("<", x, s.c(0))
        return b.sub(b.zext(gt, s.ty), b.zext(lt, s.ty))
    zero_or_nan = b.select(b.fcmp_ordered("==", x, s.c(0)), s.c(0), x)  # sign(-0.0) is +0.0 in NumPy
    return b.select(
        b.fcmp_ordered(">", x, s.c(0)), s.c(1), b.select(b.fcmp_ordered("<", x, s.c(0)), s.c(-1), zero_or_nan)
    )
