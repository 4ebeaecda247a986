"""llvm-backend specific behaviour: packed SIMD, shape polymorphism, threads, the on-disk cache across
processes,
bad input (errors, never a crash), transcendental accuracy through the backend, clear compile-time errors.

Op-by-op parity with the interpreter is in the shared suites (the `backend` fixture includes "llvm")."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc import settings
from graphc.errors import ShapeError

pytest.importorskip("llvmlite")

from graphc.codegen.llvm import cache, vecmath  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_cache")


def _fused_fn(dtype="float32"):
    x = gc.tensor("x", ("n",), dtype)
    y = gc.tensor("y", ("n",), dtype)
    return gc.function([x, y], gc.exp(x) * y + gc.tanh(x), backend="llvm")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly")
@pytest.mark.parametrize("dtype, suffix", [("float32", "ps"), ("float64", "pd")])
def test_fused_loop_uses_packed_simd(dtype, suffix):
    f = _fused_fn(dtype)
    asm = f.asm
    packed = [
        line for line in asm.splitlines() if f"mul{suffix}" in line and ("%ymm" in line or "%zmm" in line)
    ]
    assert packed, "no packed vector multiply in the fused loop"
    assert "graphc_entry" in f.source and f.llvm_ir.startswith("; ModuleID")


def test_new_batch_size_does_not_recompile(rng):
    f = _fused_fn("float64")
    library = f.program.library
    for n in (1, 7, 1000, 0):
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        np.testing.assert_allclose(f(x, y), np.exp(x) * y + np.tanh(x), rtol=1e-13, atol=1e-15)
    assert f.program.library is library


def test_two_threads_match_one(monkeypatch, rng):
    x = rng.standard_normal((700, 1000))
    results = []
    for threads in ("1", "2"):
        monkeypatch.setenv("GRAPHC_NUM_THREADS", threads)
        settings.reload()
        v = gc.tensor("v", ("n", 1000), "float64")
        f = gc.function([v], [gc.sigmoid(v) * 2.0, (v * v).sum(axis=1)], backend="llvm")
        results.append(f(x))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], (x * x).sum(axis=1), rtol=1e-12)


def test_cache_reload_and_corrupt_entry(private_cache, rng):
    f = _fused_fn()
    assert f.program.compiled_units == 2  # the main module and one kernel
    entries = sorted(private_cache.glob("*.o.cache"))
    assert len(entries) == 2
    g = _fused_fn()  # same graph, same signature: linked from the cache, not compiled
    assert g.program.compiled_units == 0
    x, y = rng.standard_normal(5).astype("float32"), rng.standard_normal(5).astype("float32")
    np.testing.assert_array_equal(f(x, y), g(x, y))
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:100])  # truncated: detected and rebuilt
    h = _fused_fn()
    assert h.program.compiled_units == 2
    np.testing.assert_array_equal(h(x, y), f(x, y))
    assert all(cache.ObjectCache(private_cache).load(e.name.split(".")[0]) is not None for e in entries)
    assert "graphc_entry" in g.llvm_ir  # IR is still available for code loaded from the cache


def test_programs_share_kernels(private_cache, rng):
    """A kernel is keyed by what it computes, not by the program around it: a second, different program
    compiles only its own main module and its new kernels."""
    f = _fused_fn("float64")
    x = gc.tensor("x", ("n",), "float64")
    y = gc.tensor("y", ("n",), "float64")
    g = gc.function([x, y], [gc.exp(x) * y + gc.tanh(x), (x * y).sum()], backend="llvm")
    kernels_f = {u.key for u in f.program.units[1:]}
    assert kernels_f <= {u.key for u in g.program.units}  # the fused kernel is shared
    assert g.program.compiled_units == len(g.program.units) - len(kernels_f)
    a, b = rng.standard_normal(9), rng.standard_normal(9)
    out, total = g(a, b)
    np.testing.assert_array_equal(out, f(a, b))
    assert total == pytest.approx(a @ b)


def _long_unfused_chain(steps: int):
    x = gc.tensor("x", ("n",))
    y = x
    for k in range(steps):
        y = gc.tanh(y) * (1.0 + k / steps)
    return gc.function([x], y, backend="llvm", optimize="none")


def test_main_is_optimised_only_for_its_own_small_loops(private_cache, monkeypatch, rng):
    """The main module (a line of calls) is compiled without optimisation, unless it has loops of its own
    (one_hot here) and fewer than OPTIMISE_MAIN_BELOW instructions; kernels are optimised; all of it reloads
    from the cache."""
    from graphc.codegen.llvm import lower

    labels = gc.tensor("labels", ("n",), "int64")
    onehot = gc.function([labels], gc.one_hot(labels, 3) * 2.0, backend="llvm")
    assert onehot.program.units[0].optimise
    monkeypatch.setattr(lower, "OPTIMISE_MAIN_BELOW", 20)
    assert not gc.function([labels], gc.one_hot(labels, 3) * 2.0, backend="llvm").program.units[0].optimise
    steps = 20
    f = _long_unfused_chain(steps)
    assert len(f.optimized.nodes) == 2 * steps
    assert [u.optimise for u in f.program.units] == [False] + [True] * (len(f.program.units) - 1)
    assert "graphc_entry" in f.llvm_ir and "graphc.k." in f.asm
    g = _long_unfused_chain(steps)
    assert g.program.compiled_units == 0
    assert g.llvm_ir == f.llvm_ir
    x = rng.standard_normal(7)
    want = x
    for k in range(steps):
        want = np.tanh(want) * (1.0 + k / steps)
    np.testing.assert_allclose(f(x), want, rtol=1e-12)
    np.testing.assert_array_equal(g(x), f(x))


def test_two_processes_share_the_cache(private_cache):
    script = textwrap.dedent(
        """
        import numpy as np, graphc as gc
        x = gc.tensor("x", ("n", 3), "float64")
        f = gc.function([x], (gc.softplus(x) @ gc.transpose(x)).sum(), backend="llvm")
        a = np.arange(12.0).reshape(4, 3) / 7
        print(repr(float(f(a))))
        """
    )
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(private_cache))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode() for _, err in outputs]
    a = np.arange(12.0).reshape(4, 3) / 7
    sp = np.logaddexp(a, 0)
    expected = float((sp @ a.T).sum())
    for out, _ in outputs:
        assert float(out) == pytest.approx(expected, rel=1e-12)
    store = cache.ObjectCache(private_cache)
    entries = list(private_cache.glob("*.o.cache"))
    assert entries and all(store.load(e.name.split(".")[0]) is not None for e in entries)
    assert not list(private_cache.glob("*.tmp"))


def test_bad_input_raises_instead_of_crashing(rng):
    x = gc.tensor("x", ("n", 3), "float64")
    f = gc.function([x], [x[4] * 2.0, x[1:], gc.max(x, axis=0)], backend="llvm")
    good = rng.standard_normal((6, 3))
    np.testing.assert_allclose(f(good)[0], good[4] * 2.0)
    with pytest.raises(IndexError, match="out of bounds"):
        f(good[:3])  # x[4] with n = 3
    with pytest.raises(ShapeError, match="the axis has n = 0 elements"):
        gc.function([x], gc.max(x, axis=0), backend="llvm")(np.zeros((0, 3)))
    with pytest.raises(gc.errors.GraphcError):
        f(rng.standard_normal((6, 4)))
    with pytest.raises(gc.errors.GraphcError):
        f(rng.standard_normal(6).astype(np.complex128))
    fortran = np.asfortranarray(good)  # not C-contiguous: converted before native code sees it
    np.testing.assert_allclose(f(fortran)[1], good[1:])
    np.testing.assert_allclose(f(good[:, ::-1].copy()[:, ::-1])[2], good.max(axis=0))


def test_slice_shorter_than_its_type_is_an_error():
    x = gc.tensor("x", ("n",), "float64")
    f = gc.function([x], x[:4] + 1.0, backend="llvm")
    assert f(np.zeros(5)).shape == (4,)
    with pytest.raises(ShapeError, match="slice"):
        f(np.zeros(2))


def test_negative_derived_size_is_an_error():
    x = gc.tensor("x", ("n", 2), "float64")
    inner = x[2:] @ gc.transpose(x[2:])  # (n - 2, n - 2): no BLAS call with a negative size
    f = gc.function([x], (inner * 2.0).sum(), backend="llvm")
    a = np.arange(8.0).reshape(4, 2)
    assert float(f(a)) == pytest.approx(2 * (a[2:] @ a[2:].T).sum())
    with pytest.raises(ShapeError):
        f(np.ones((1, 2)))


def _ulps(got, want64):
    """Max error of ``got`` in units of the last place of its dtype, against a float64 reference."""
    with np.errstate(over="ignore"):
        rounded = want64.astype(got.dtype)
    # normal results only: subnormals carry fewer significant bits (checked with an absolute bound below)
    finite = np.isfinite(rounded) & np.isfinite(got) & (np.abs(rounded) >= np.finfo(got.dtype).tiny)
    spacing = np.spacing(np.abs(rounded[finite])).astype(np.float64)
    return np.max(np.abs(got[finite].astype(np.float64) - want64[finite]) / spacing, initial=0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "name", ["exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sin", "cos"]
)
def test_transcendental_accuracy_through_the_backend(name, dtype):
    from graphc.ops import IMPL, Op

    op = Op[name.upper()]
    rng = np.random.default_rng(1)
    big = 80.0 if dtype == "float32" else 700.0
    xs = np.concatenate(
        [
            rng.uniform(-big, big, 20000),
            rng.standard_normal(20000) * 3,
            np.geomspace(1e-30, 1e3, 2000),
            -np.geomspace(1e-30, 1e3, 2000),
            [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 1e30, -1e30],
        ]
    ).astype(dtype)
    if name in ("log", "log1p"):
        xs = np.abs(xs)
    v = gc.tensor("v", ("n",), dtype)
    f = gc.function([v], getattr(gc, name)(v), backend="llvm", optimize="none")
    got = f(xs)
    with np.errstate(all="ignore"):
        want64 = IMPL[op](xs.astype(np.float64))
    bound = vecmath.MAX_ULP[name][0 if dtype == "float64" else 1]
    assert _ulps(got, want64) <= bound + 1  # the references (NumPy, scipy) are themselves off by ~1 ulp
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want64))
    with np.errstate(over="ignore"):
        rounded = want64.astype(dtype)
    inf = np.isinf(rounded)
    np.testing.assert_array_equal(got[inf], rounded[inf])
    tiny = np.abs(rounded) < np.finfo(dtype).tiny
    assert np.all(np.abs(got[tiny] - want64[tiny]) <= np.finfo(dtype).tiny)


def test_user_function_lowered_from_sympy(rng):
    swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)) + sympy.Max(x, 0) ** 2)
    v = gc.tensor("v", ("n",), "float64")
    f = gc.function([v], swish(v), backend="llvm")
    x = rng.standard_normal(50)
    np.testing.assert_allclose(f(x), x / (1 + np.exp(-x)) + np.maximum(x, 0) ** 2, rtol=1e-14)


def test_unsupported_sympy_function_is_a_clear_compile_time_error():
    gammaish = gc.elementwise("gammaish", lambda x: sympy.gamma(x) + x)
    v = gc.tensor("v", ("n",), "float64")
    with pytest.raises(NotImplementedError, match="gamma"):
        gc.function([v], gammaish(v), backend="llvm")


def test_outputs_are_fresh_and_not_aliased(rng):
    x = gc.tensor("x", (3, 4), "float64")
    f = gc.function([x], [x, gc.transpose(x), x * 1.0], backend="llvm", optimize="none")
    a = rng.standard_normal((3, 4))
    out = f(a)
    np.testing.assert_array_equal(out[1], a.T)
    out[0][...] = 0
    assert np.all(out[2] == a * 1.0) and not np.shares_memory(out[0], a)


def test_function_exposes_ir_only_for_llvm():
    x = gc.vector("x")
    assert gc.function([x], x + 1, backend="numpy").llvm_ir is None
    f = gc.function([x], x + 1, backend="llvm")
    assert "define" in f.llvm_ir and f.asm


def test_concurrent_calls_from_python_threads():
    import threading

    x = gc.tensor("x", ("n",), "float64")
    f = gc.function([x], [gc.exp(x) * 2.0, (x * x).sum()], backend="llvm")
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        for _ in range(40):
            a = rng.standard_normal(int(rng.integers(1, 20000)))
            e, s = f(a)
            if not (np.allclose(e, np.exp(a) * 2) and np.isclose(s, (a * a).sum())):
                errors.append(a.size)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_reused_output_buffers_never_overwrite_what_a_caller_holds():
    """Outputs and updates recycle the arrays of the last two calls only when nobody holds them."""
    x = gc.tensor("x", (3,))
    w = gc.shared(np.zeros(3), name="w")
    f = gc.function([x], x * 2.0, updates={w: w + x}, backend="llvm")
    kept, values = [], []
    for k in range(6):
        out = f(np.full(3, float(k)))
        if k % 2 == 0:  # hold every other output and every other value of w; drop the rest
            kept.append(out)
            values.append(w.get_value(copy=False))  # the very array graphc holds
    for k, out in zip(range(0, 6, 2), kept, strict=True):
        np.testing.assert_array_equal(out, np.full(3, 2.0 * k))
    np.testing.assert_array_equal(values, [np.full(3, s) for s in (0.0, 0.0 + 1 + 2, 0.0 + 1 + 2 + 3 + 4)])
    np.testing.assert_array_equal(w.get_value(), np.full(3, 15.0))
    a = f(np.ones(3))
    b = f(np.ones(3))  # `a` still held: `b` must be another array
    assert a is not b and not np.shares_memory(a, b)
