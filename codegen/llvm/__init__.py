"""Low-level LLVM infrastructure (JIT, vector math, BLAS calls, object cache); knows nothing of the graph IR.

Modules (import them directly; this package imports nothing heavy):

- ``jit``      the one thin wrapper over ``llvmlite.binding``: target machine, O3 pipeline, ``JitEngine``
- ``vecmath``  vectorisable exp/log/log1p/expm1/tanh/sigmoid/softplus/sin/cos emitted as LLVM IR
- ``blas``     scipy's Fortran BLAS (``?gemm``/``?gemv``) callable from JIT code, row-major helpers
- ``cache``    on-disk cache of compiled object code, atomic and corruption-checked
- ``loops``    IR-builder helpers: ``for_range``, ``loop_nest``, strided GEPs
"""
