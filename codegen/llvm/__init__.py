"""The llvm backend (``backend.compile_graph``) and the LLVM infrastructure under it. This package imports
nothing heavy: import its modules directly. The modules, by job (``backend``'s docstring says how they meet):

- the table and the walk: ``lower`` (LLVM_RULES, ``lower``), ``context`` (LowerCtx: what a rule may touch)
- the rules: ``elementwise`` (generated rows, FUSED), ``reduce``, ``softmax``, ``matmul``, ``shapes``
  (views, slicing, concatenate, size), ``index`` (one_hot), ``rng``, ``creation`` (arange)
- one element: ``scalar`` (dtypes, conversions), ``scalar_rules`` (SCALAR_RULES; ``scalar_math``: rounding,
  integer, bitwise, special functions), ``sympy_ir``, ``vecmath`` (``vecmath_special``: erf, asin, ...;
  ``vecmath_emit``: the emitter they are written in)
- loops: ``loopcall`` (kernel calls), ``kernels`` (kernel functions), ``kernel_failure`` (bad data found in a
  kernel: ``s.fail_if``), ``threads`` (pthread dispatch), ``loops`` (IR loop helpers), ``views`` (strided
  views)
- the entry function: ``sizes`` (symbolic sizes), ``arena`` (memory, from ``codegen.memory``'s plan),
  ``failure`` (checks, status), ``entry`` (CPython boundary, module split), ``numerics`` (check_numerics)
- linking and calling: ``runtime`` (LlvmProgram), ``jit`` (the one wrapper of ``llvmlite.binding``),
  ``cache`` (on-disk object cache), ``blas`` (scipy's BLAS from JIT code)
"""
