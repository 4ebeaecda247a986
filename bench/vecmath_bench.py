"""Microbenchmark: ns/element of graphc's JIT exp/tanh/erf/atan/... (vecmath) vs NumPy or SciPy, 10^7
elements, one thread.

Run: python bench/vecmath_bench.py [--n 10000000] [--repeat 7] [--functions exp,erf,atan,...]
"""

from __future__ import annotations

import argparse
import ctypes
import time

import numpy as np
from llvmlite import ir

from graphc.codegen.llvm import jit, loops, vecmath

SIG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
LLVM_TYPES = {np.float32: ir.FloatType(), np.float64: ir.DoubleType()}


def build(func: str, dtype: type) -> tuple[object, jit.JitLibrary]:
    ty = LLVM_TYPES[dtype]
    module = ir.Module(name=f"bench_{func}")
    fn = ir.Function(
        module, ir.FunctionType(ir.VoidType(), [ty.as_pointer(), ty.as_pointer(), loops.I64]), "k"
    )
    for arg in fn.args[:2]:
        arg.add_attribute("noalias")
    x, y, n = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    math_fn = vecmath.get_math_function(module, func, ty)
    with loops.for_range(builder, n) as i:
        builder.store(
            builder.call(math_fn, [builder.load(loops.gep(builder, x, i))]), loops.gep(builder, y, i)
        )
    builder.ret_void()
    lib = jit.default_engine().compile(str(module), ["k"], name=f"bench_{func}")
    return SIG(lib.address("k")), lib


def best_ns_per_element(calls: list, n: int, repeat: int) -> list[float]:
    """ns per element of each call, the best of `repeat` rounds; the calls take turns in every round, so load
    from other processes that comes and goes falls on all of them alike."""
    for call in calls:
        call()  # warm up (page faults on the output)
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return [b / n * 1e9 for b in best]


DOMAINS = {"log": (1e-3, 10), "asin": (-1, 1), "acos": (-1, 1), "atanh": (-1, 1), "acosh": (1, 10)}
SCIPY = {"sigmoid": "expit", "erf": "erf", "erfc": "erfc"}
NUMPY_NAMES = {"atan": "arctan", "asin": "arcsin", "acos": "arccos", "asinh": "arcsinh", "acosh": "arccosh",
               "atanh": "arctanh"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--functions", default="exp,tanh,log,sigmoid,erf,erfc,atan,asin,asinh,acosh,atanh")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"n = {args.n}, best of {args.repeat}, host CPU {jit.host_cpu_key().split('|')[2]}")
    print(f"{'function':10s} {'dtype':8s} {'numpy ns/el':>12s} {'graphc ns/el':>13s} {'speed-up':>9s}")
    for func in args.functions.split(","):
        for dtype in (np.float32, np.float64):
            low, high = DOMAINS.get(func, (-10, 10))
            x = rng.uniform(low, high, args.n).astype(dtype)
            y = np.empty_like(x)
            kernel, lib = build(func, dtype)
            if func in SCIPY:
                import scipy.special

                ufunc = getattr(scipy.special, SCIPY[func])
            else:
                ufunc = getattr(np, NUMPY_NAMES.get(func, func))

            def np_call(x=x, y=y, ufunc=ufunc):
                return ufunc(x, out=y)

            def jit_call(x=x, y=y, kernel=kernel):
                kernel(x.ctypes.data, y.ctypes.data, x.size)

            t_np, t_jit = best_ns_per_element([np_call, jit_call], args.n, args.repeat)
            name = func if func not in SCIPY else f"{func}*"
            print(f"{name:10s} {np.dtype(dtype).name:8s} {t_np:12.2f} {t_jit:13.2f} {t_np / t_jit:8.2f}x")
    print("* the NumPy column is scipy.special's (expit for sigmoid)")


if __name__ == "__main__":
    main()
