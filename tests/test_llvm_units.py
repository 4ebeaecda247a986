"""How the llvm backend splits a program into units: kernels shared through the cache, a foreign cache entry
refused, big fused bodies cut into bounded kernels, many transcendentals called out of line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as gc
from graphc import settings

pytest.importorskip("llvmlite")

from graphc.codegen.llvm import mathlib, segments  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_cache")


def _kernel_paths(f, cache_dir):
    return [cache_dir / f"{u.key}.o.cache" for u in f.program.units if u.name.startswith("graphc.k.")]


def test_a_valid_entry_of_another_program_under_this_key_is_not_run(private_cache, rng):
    """Issue 17: a checksummed entry copied under this program's kernel key used to be linked (and crash)."""
    x = gc.vector("x")
    f = gc.function([x], gc.exp(x) * 2.0, backend="llvm")
    g = gc.function([x], gc.tanh(x) - x, backend="llvm")
    (mine,), (theirs,) = _kernel_paths(f, private_cache), _kernel_paths(g, private_cache)
    mine.write_bytes(theirs.read_bytes())
    again = gc.function([x], gc.exp(x) * 2.0, backend="llvm")
    assert again.program.compiled_units == 1  # the kernel, rebuilt; the main module came from the cache
    a = rng.standard_normal(11)
    np.testing.assert_allclose(again(a), np.exp(a) * 2.0, rtol=1e-15)


def _chain(x, steps: int, varied: bool = True):
    """Issue 17's chain: tanh(y)*0.5 + x and y*c + 0.1, alternately (c differs per step when varied)."""
    y = x
    for k in range(steps):
        y = gc.tanh(y) * 0.5 + x if k % 2 == 0 else y * (1.0 + k * 1e-3 if varied else 1.0001) + 0.1
    return y


def _chain_numpy(a, steps: int, varied: bool = True):
    y = a
    for k in range(steps):
        y = np.tanh(y) * 0.5 + a if k % 2 == 0 else y * (1.0 + k * 1e-3 if varied else 1.0001) + 0.1
    return y


def test_a_long_fused_body_becomes_bounded_kernels(rng):
    steps = 2 * segments.MAX_INSTRS // 3  # one fused node of ~1.7 MAX_INSTRS instructions
    x = gc.vector("x")
    f = gc.function([x], _chain(x, steps), backend="llvm")
    assert [n.op.name for n in f.optimized.nodes] == ["FUSED"]
    kernels = [u for u in f.program.units if u.name.startswith("graphc.k.")]
    assert len(kernels) >= 2
    for unit in kernels:  # each kernel's loop body stays bounded: its IR is small
        assert unit.source().count("\n") < 60 * segments.MAX_INSTRS
    for n in (0, 1, 37):
        a = rng.standard_normal(n)
        np.testing.assert_allclose(f(a), _chain_numpy(a, steps), rtol=1e-13, atol=1e-13)


def test_many_inputs_become_kernels_of_few_operands(rng):
    n = 3 * segments.MAX_OPERANDS
    xs = [gc.tensor(f"x{k}", ("n", 3)) for k in range(n)]
    total = xs[0]
    for k, v in enumerate(xs[1:]):
        total = total + v * float(k) if k % 3 else total - gc.exp(v)
    f = gc.function(xs, [total, total.sum(axis=1)], backend="llvm")
    main = f.program.units[0].source().split('@"graphc.main"')[1].split("\n}\n")[0]
    assert len(re.findall(r'@"graphc\.k\.\w+"', main)) >= 3  # one fused node, three kernel calls or more
    arrays = [rng.standard_normal((4, 3)) for _ in range(n)]
    want = arrays[0]
    for k, a in enumerate(arrays[1:]):
        want = want + a * float(k) if k % 3 else want - np.exp(a)
    out, sums = f(*arrays)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    np.testing.assert_allclose(sums, want.sum(axis=1), rtol=1e-12)


def test_split_keeps_each_segment_within_the_bounds():
    x = gc.vector("x")
    f = gc.function([x], _chain(x, 400), optimize="fast", backend="numpy")
    kernel = f.optimized.nodes[0].params["kernel"]
    parts = segments.split(kernel.instrs, kernel.n_inputs, kernel.outputs)
    assert parts is not None and len(parts) > 1
    for part in parts:
        assert sum(ins.op is not None for ins in part.instrs) <= segments.MAX_INSTRS  # constants are repeated
        assert len(part.inputs) + len(part.stores) <= segments.MAX_OPERANDS
    assert segments.split(kernel.instrs[:10], kernel.n_inputs, [kernel.n_inputs + 9]) is None


def test_many_transcendentals_are_called_out_of_line_and_vectorised(rng):
    steps = 2 * (mathlib.MAX_INLINE + 2)
    x = gc.vector("x")
    f = gc.function([x], _chain(x, steps, varied=False), backend="llvm")
    assert "graphc.ext.tanh.f64" in [u.name for u in f.program.units]
    assert re.search(r"call .*graphc\.ext\.tanh\.f64\.v\d+", f.llvm_ir)  # the vector variant, in the loop
    a = rng.standard_normal(1003) * 3
    np.testing.assert_allclose(f(a), _chain_numpy(a, steps, varied=False), rtol=1e-14, atol=1e-15)


def test_dump_ir_writes_every_unit_of_a_program(tmp_path, monkeypatch, rng):
    """GRAPHC_DUMP_IR made the kernels' compile hand back (IR, object) where the cache wanted the object."""
    dump = tmp_path / "dump"
    dump.mkdir()
    monkeypatch.setenv("GRAPHC_DUMP_IR", str(dump))
    settings.reload()
    x = gc.vector("x")
    f = gc.function([x], gc.sin(x) * x, backend="llvm")
    a = rng.standard_normal(5)
    np.testing.assert_allclose(f(a), np.sin(a) * a, rtol=1e-14)
    stems = {p.name.split(".ll")[0].split(".s")[0] for p in dump.iterdir()}
    assert {u.name for u in f.program.units} <= {s.removesuffix(".opt") for s in stems}


def test_a_main_module_whose_helpers_loop_is_optimised(rng):
    """Gathers and scans are helper functions beside main: left at -O0 they ran 3-10x slower."""
    x = gc.vector("x")
    f = gc.function([x], gc.cumsum(x), backend="llvm")
    assert f.program.units[0].optimise
    a = rng.standard_normal(9)
    np.testing.assert_allclose(f(a), np.cumsum(a), rtol=1e-14)
