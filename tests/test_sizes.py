"""Sizes that do not fit (issue 17): every size the llvm backend computes for memory (arena slots,
temporaries, outputs, sizes derived from the named ones, BLAS's int32 arguments) is checked; a call whose
sizes would overflow is refused before any work with NumPy's "array is too big" as a ShapeError naming the
value, on every backend, never a wrapped size and a crash. And every op gives the interpreter's result (or
its error) when a size is 0."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from all_cases import CASES
from cases import ids

import graphc as gc
from graphc.graph import toposort

# Run in a child process: should a size wrap again, the crash fails this test instead of killing pytest.
_HUGE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import graphc as gc

    def attempt(build, inputs, backends=("interp", "numpy", "llvm")):
        found = {}
        for backend in backends:
            try:
                f = gc.function(*build(), backend=backend)
                out = f(*inputs)
                found[backend] = ["ok", str(getattr(out, "shape", ""))]
            except Exception as exc:
                found[backend] = [type(exc).__name__, str(exc).splitlines()[0]]
        return found

    results = {}
    x = gc.tensor("x", ("n", "m"))
    wide = np.empty((0, 2**32))
    results["gram_sum"] = attempt(lambda: ([x], (x.T @ x).sum()), [wide])
    results["gram_out"] = attempt(lambda: ([x], x.T @ x), [wide])
    a, b = gc.tensor("a", (0, "p"), "bool"), gc.tensor("b", (0, "q"), "bool")
    halves = [np.empty((0, 2**62), bool), np.empty((0, 2**62), bool)]
    both = lambda: ([a, b], gc.sum(gc.cast(gc.concatenate([a, b], axis=1), "int64")))
    results["derived_overflow"] = attempt(both, halves)
    # a product BLAS would have to take with a size of 2**31: refused (interp and numpy compute it)
    t = gc.tensor("t", (0, "k"), "float32")
    row, w = gc.tensor("row", (1, 4), "float32"), gc.tensor("w", (4, 1), "float32")
    tall = lambda: ([t, row, w], gc.sum(gc.broadcast_to(row, ("k", 4)) @ w))
    results["blas_int32"] = attempt(tall, [np.empty((0, 2**31), np.float32), np.ones((1, 4), np.float32),
                                           np.ones((4, 1), np.float32)], backends=("llvm",))
    # nothing to compute: BLAS is not called, whatever the other size
    e = gc.tensor("e", ("n", 0))
    results["blas_empty"] = attempt(lambda: ([x, e], x.T @ e), [wide, np.empty((0, 0))])
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def huge() -> dict:
    done = subprocess.run([sys.executable, "-c", _HUGE], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the child process died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.splitlines()[-1])


def test_the_issue_example_is_array_too_big_everywhere(huge):
    for backend, (kind, message) in huge["gram_sum"].items():
        assert kind == "ShapeError", (backend, kind, message)
        assert message.startswith("array is too big: an unnamed value (float64 (m, m))"), (backend, message)


def test_an_output_too_big_names_it(huge):
    for backend, (kind, message) in huge["gram_out"].items():
        assert (kind, message.split(" would")[0].split(" of shape")[0]) == (
            "ShapeError",
            "array is too big: an unnamed value (float64 (m, m))",
        ), backend


def test_a_derived_size_that_overflows_is_refused(huge):
    for backend, (kind, message) in huge["derived_overflow"].items():
        assert kind == "ShapeError", (backend, kind, message)


def test_blas_sizes_beyond_int32_are_refused_not_wrapped(huge):
    kind, message = huge["blas_int32"]["llvm"]
    assert kind == "ShapeError" and "BLAS takes sizes and row strides below 2**31" in message
    for backend, (kind, shape) in huge["blas_empty"].items():
        assert (kind, shape) == ("ok", "(4294967296, 0)"), backend


def _with_an_empty_axis(case):
    """The case with the leading size of its widest arguments named and given 0 at the call (None if no
    argument has one)."""
    rank = max(len(a.shape) for a in case.args)
    if rank == 0:
        return None
    lead = max(a.shape[0] for a in case.args if len(a.shape) == rank)
    args, arrays = [], []
    rng = np.random.default_rng(0)
    for a in case.args:
        decl = list(a.decl if a.decl is not None else a.shape)
        shape = list(a.shape)
        if len(shape) == rank and shape[0] == lead:
            decl[0], shape[0] = "z", 0
        args.append(gc.tensor(f"x{len(args)}", tuple(decl), a.dtype))
        arrays.append(a.sample(rng)[tuple(slice(0, s) for s in shape)])
    return args, arrays


def _one_per_kind(cases):
    """One row per set of (op, output dtype kind) its graph uses: the sweep stays short."""
    seen, kept = set(), []
    for case in cases:
        out = case.build(*case.variables())
        key = frozenset(
            (n.op, n.outputs[0].type.dtype.kind) for n in toposort(out if isinstance(out, tuple) else [out])
        )
        if key not in seen:
            seen.add(key)
            kept.append(case)
    return kept


EMPTY_CASES = _one_per_kind(CASES)


@pytest.mark.parametrize("case", EMPTY_CASES, ids=ids(EMPTY_CASES))
def test_every_op_with_an_empty_axis_on_llvm(case):
    made = _with_an_empty_axis(case)
    if made is None:
        pytest.skip("no axis to empty")
    xs, arrays = made
    try:
        out = case.build(*xs)
        expected = gc.function(xs, out, backend="interp")(*arrays)
    except Exception as exc:  # noqa: BLE001 - refused for this size (max of nothing): llvm must refuse it too
        with pytest.raises(type(exc)):
            gc.function(xs, case.build(*xs), backend="llvm")(*arrays)
        return
    got = gc.function(xs, out, backend="llvm")(*arrays)
    for g, e in zip(*((r,) if isinstance(r, np.ndarray) else r for r in (got, expected)), strict=True):
        assert (g.dtype, g.shape) == (e.dtype, e.shape)
        np.testing.assert_allclose(g, e, rtol=1e-6)
