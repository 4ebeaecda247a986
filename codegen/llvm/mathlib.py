"""Transcendental functions called out of line, for kernels with too many of them to inline; knows vecmath's
functions and LLVM's vector-function ABI, not graphs.

A kernel normally inlines each exp/tanh/... (``vecmath``), which vectorises with its loop. But a fused kernel
with hundreds of them hands LLVM one enormous loop body, and O3 plus instruction selection grew faster than
linearly: 500 inlined tanh took 15 s to compile. A kernel with more than ``MAX_INLINE`` calls therefore only
declares ``graphc.ext.<name>.<f32|f64>``, with the ``vector-function-abi-variant`` attribute naming its
vector versions, so the loop vectoriser calls ``graphc.ext.tanh.f64.v8`` on eight lanes at once. The
functions themselves live in a math unit per (function, float type), compiled (and cached) once: the
scalar function, and one vector variant per width, made from a loop over the lanes that the vectoriser turns
into straight-line vector code.

Example::

    module.out_of_line_math = set()            # before emitting the kernel
    y = call(builder, "tanh", ir.DoubleType(), x)  # a call to graphc.ext.tanh.f64
    module.out_of_line_math                    # {("tanh", "f64")}: link the unit math_module("tanh", "f64")
"""

from __future__ import annotations

from llvmlite import ir
from llvmlite.ir.values import FunctionAttributes

from . import loops, vecmath

__all__ = ["MAX_INLINE", "call", "keep_variants", "math_module", "symbol"]

MAX_INLINE = 8  # transcendental calls a kernel inlines; above this, all of them are out of line
PREFIX = "graphc.ext."
WIDTHS = {"f64": (2, 4, 8), "f32": (4, 8, 16)}  # vector widths with a variant: SSE, AVX2 and AVX-512
_TYPES = {"f64": ir.DoubleType(), "f32": ir.FloatType()}
I64 = ir.IntType(64)


class _Attributes(FunctionAttributes):
    """Function attributes that also take LLVM string attributes (``'"name"="value"'``), which llvmlite's
    own set refuses."""

    def add(self, name):
        if name.startswith('"'):
            return set.add(self, name)
        return super().add(name)


def symbol(name: str, suffix: str, width: int | None = None) -> str:
    return f"{PREFIX}{name}.{suffix}" + (f".v{width}" if width else "")


def call(b: ir.IRBuilder, name: str, ty: ir.Type, x: ir.Value) -> ir.Value:
    """``name(x)``: inlined, unless ``b``'s module collects out-of-line math (``out_of_line_math``)."""
    module = b.module
    needed = getattr(module, "out_of_line_math", None)
    if needed is None:
        return b.call(vecmath.get_math_function(module, name, ty), [x])
    suffix = vecmath.float_suffix(ty)
    needed.add((name, suffix))
    return b.call(_declare(module, name, suffix), [x])


def _declare(module: ir.Module, name: str, suffix: str) -> ir.Function:
    scalar_name = symbol(name, suffix)
    if scalar_name in module.globals:
        return module.globals[scalar_name]
    ty = _TYPES[suffix]
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), scalar_name)
    fn.attributes = _Attributes(("nounwind", "readnone"))
    variants = []
    for width in WIDTHS[suffix]:
        vty = ir.VectorType(ty, width)
        vector = ir.Function(module, ir.FunctionType(vty, [vty]), symbol(name, suffix, width))
        vector.attributes.add("nounwind")
        vector.attributes.add("readnone")
        variants.append(f"_ZGV_LLVM_N{width}v_{scalar_name}({vector.name})")
    fn.attributes.add(f'"vector-function-abi-variant"="{",".join(variants)}"')
    return fn


def keep_variants(module: ir.Module) -> None:
    """List every vector variant ``module`` declares in ``llvm.compiler.used``: unused declarations are
    deleted before the loop vectoriser looks for them."""
    variants = [
        fn
        for fn in module.functions
        if fn.name.startswith(PREFIX) and isinstance(fn.ftype.return_type, ir.VectorType)
    ]
    if not variants:
        return
    i8p = ir.IntType(8).as_pointer()
    array = ir.ArrayType(i8p, len(variants))
    used = ir.GlobalVariable(module, array, "llvm.compiler.used")
    used.linkage, used.section = "appending", "llvm.metadata"
    used.initializer = ir.Constant(array, [fn.bitcast(i8p) for fn in variants])


def math_module(name: str, suffix: str) -> ir.Module:
    """The unit that defines ``graphc.ext.<name>.<suffix>`` and its vector variants."""
    ty = _TYPES[suffix]
    module = ir.Module(name=symbol(name, suffix))
    inline = vecmath.get_math_function(module, name, ty)
    scalar = ir.Function(module, ir.FunctionType(ty, [ty]), symbol(name, suffix))
    scalar.attributes.add("nounwind")
    b = ir.IRBuilder(scalar.append_basic_block("entry"))
    b.ret(b.call(inline, [scalar.args[0]]))
    for width in WIDTHS[suffix]:
        vty = ir.VectorType(ty, width)
        fn = ir.Function(module, ir.FunctionType(vty, [vty]), symbol(name, suffix, width))
        fn.attributes.add("nounwind")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        lanes_in = b.alloca(ty, size=ir.Constant(I64, width))
        lanes_out = b.alloca(ty, size=ir.Constant(I64, width))
        b.store(fn.args[0], b.bitcast(lanes_in, vty.as_pointer()))
        # A loop over the lanes: the vectoriser makes it one pass of straight vector code (checked in tests).
        with loops.for_range(b, width) as i:
            b.store(b.call(inline, [b.load(b.gep(lanes_in, [i]))]), b.gep(lanes_out, [i]))
        b.ret(b.load(b.bitcast(lanes_out, vty.as_pointer())))
    return module
