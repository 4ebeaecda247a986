"""Run one program on every backend, optimised and not, and compare with the references: NumPy for values
(and its refusals), the interpreter and JAX (where installed) for gradients.

Tolerances follow the program's own conditioning: each reference is evaluated again at inputs moved by a
few ulps, and an entry may differ by what that moves it (times a margin) plus the dtype's rounding. A
value the reference makes NaN or infinite must be the same non-finite value without optimisation; with it,
anything goes there (stabilising rewrites turn overflows into the right finite values), but a finite
reference value must stay finite and close.
"""

from __future__ import annotations

import importlib.util

import numpy as np

import graphc as gc

from .ops import JaxAPI, NumpyAPI
from .programs import Program, cost_of, evaluate, graphc_graph, input_arrays, quiet

BACKENDS = ["interp", "numpy"] + (["llvm"] if importlib.util.find_spec("llvmlite") else [])
HAS_JAX = importlib.util.find_spec("jax") is not None
MARGIN = 64.0  # how much more than a few-ulp move of the inputs a backend may differ by


def check(program: Program, backends=None, use_jax: bool = HAS_JAX) -> list[str]:
    """The disagreements found (empty when every backend agrees with the references)."""
    arrays = input_arrays(program)
    low = any(p.dtype == "float32" for p in program.inputs) or any(s[0] == "cast" for s in program.steps)
    findings: list[str] = []
    try:
        reference = _numpy_reference(program, arrays)
        refused = None
    except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
        reference, refused = None, exc
    try:
        inputs, outputs = graphc_graph(program)
    except gc.GraphcError as exc:
        return [] if refused is not None else [f"build: graphc refused a graph NumPy runs: {_short(exc)}"]
    except Exception as exc:  # noqa: BLE001 - a foreign exception is itself a finding
        return [f"build: {type(exc).__name__}: {_short(exc)}"]
    runs = {}
    for backend in backends or BACKENDS:
        for optimize in ("none", "fast"):
            where = f"{backend}/{optimize}"
            try:
                f = gc.function(inputs, outputs, backend=backend, optimize=optimize)
                got = f(*arrays)
            except gc.GraphcError as exc:
                if refused is None:
                    findings.append(f"{where}: raised {type(exc).__name__}: {_short(exc)}")
                continue
            except Exception as exc:  # noqa: BLE001
                findings.append(f"{where}: foreign {type(exc).__name__}: {_short(exc)}")
                continue
            if refused is not None:
                findings.append(f"{where}: returned where NumPy raised {type(refused).__name__}: {refused}")
                continue
            runs[where] = [np.asarray(g) for g in (got if isinstance(got, tuple) else (got,))]
    if refused is not None or not runs:
        return findings
    expected, noise = reference
    for where, got in runs.items():  # a gradient program's first output is its cost
        findings += _compare(where, got[: len(expected)], expected, noise, low, where.endswith("fast"))
    if program.grad and "interp/none" in runs:
        base = runs["interp/none"][1:]
        grad_noise = _noise(lambda xs: _graphc_grads(inputs, outputs, xs), arrays, base)
        for where, got in runs.items():
            if where != "interp/none":
                findings += _compare(
                    f"{where} gradient", got[1:], base, grad_noise, low, where.endswith("fast")
                )
        if use_jax:
            jax_grads = _jax_grads(program, arrays)
            findings += _compare("jax gradient vs interp", jax_grads, base, grad_noise, low, optimized=True)
    return findings


def _numpy_reference(program: Program, arrays: list) -> tuple[list, list]:
    """The outputs as NumPy computes them (a cost alone for a gradient program), and how much they move when
    the inputs move by a few ulps."""

    def run(xs):
        with np.errstate(all="ignore"), quiet():  # the mean of nothing
            values = evaluate(program, NumpyAPI(), xs)
            outs = [np.asarray(values[o]) for o in program.outputs]
            return [np.asarray(cost_of(program, NumpyAPI(), outs))] if program.grad else outs

    expected = run(arrays)
    return expected, _noise(run, arrays, expected)


def _noise(run, arrays: list, expected: list) -> list:
    """|run(moved inputs) - expected| over two moves of ±4 ulps of each float input."""
    rng = np.random.default_rng(0)
    total = [np.zeros(np.shape(e)) for e in expected]
    for sign in (1.0, -1.0):
        moved = []
        for a in arrays:
            if a.dtype.kind == "f":
                eps = np.finfo(a.dtype).eps
                a = (a * (1 + sign * 4 * eps * rng.uniform(0.5, 1.0, a.shape))).astype(a.dtype)
            moved.append(a)
        try:
            again = run(moved)
        except Exception:  # noqa: BLE001 - no estimate: no allowance
            continue
        with np.errstate(all="ignore"):
            for t, g, e in zip(total, again, expected, strict=True):
                if np.shape(g) == np.shape(e) and np.asarray(e).dtype.kind == "f":
                    d = np.abs(np.asarray(g, np.float64) - np.asarray(e, np.float64))
                    t += np.where(np.isfinite(d), d, 0.0)
    return total


def _compare(where: str, got: list, expected: list, noise: list, low: bool, optimized: bool) -> list[str]:
    found = []
    if len(got) != len(expected):
        return [f"{where}: {len(got)} outputs, expected {len(expected)}"]
    for k, (g, e, n) in enumerate(zip(got, expected, noise, strict=True)):
        g, e = np.asarray(g), np.asarray(e)
        if g.shape != e.shape or g.dtype != e.dtype:
            found.append(f"{where} output {k}: {g.dtype}{g.shape}, expected {e.dtype}{e.shape}")
            continue
        if e.dtype.kind != "f":
            if not np.array_equal(g, e):
                found.append(f"{where} output {k}: {g.ravel()[:6]} != {e.ravel()[:6]}")
            continue
        bad = _mismatches(g, e, n, low, optimized)
        if bad.any():
            i = tuple(np.argwhere(bad)[0])
            found.append(
                f"{where} output {k}{list(i) if i else ''}: got {g[i]!r}, expected {e[i]!r} "
                f"({int(bad.sum())} of {bad.size} entries differ)"
            )
    return found


def _mismatches(g: np.ndarray, e: np.ndarray, noise, low: bool, optimized: bool) -> np.ndarray:
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    finite = np.isfinite(e64)
    scale = max(1.0, float(np.max(np.abs(e64[finite]), initial=0.0)))
    rtol, atol = (2e-3, 1e-4 * scale) if low else (1e-7, 1e-10 * scale)
    with np.errstate(all="ignore"):
        close = np.abs(g64 - e64) <= atol + rtol * np.abs(e64) + MARGIN * np.asarray(noise)
    same_special = (np.isnan(g64) & np.isnan(e64)) | (g64 == e64)
    bad = finite & ~close
    if not optimized:
        bad |= ~finite & ~same_special
    return bad


def _graphc_grads(inputs, outputs, arrays):
    f = gc.function(inputs, outputs, backend="interp", optimize="none")
    return [np.asarray(v) for v in f(*arrays)[1:]]


def _jax_grads(program: Program, arrays: list) -> list:
    import jax

    jax.config.update("jax_enable_x64", True)
    api = JaxAPI()
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def cost(*xs):
        values = list(arrays)
        for i, x in zip(floats, xs, strict=True):
            values[i] = x
        outs = evaluate(program, api, values)
        return cost_of(program, api, [outs[o] for o in program.outputs])

    gradient = jax.jit(jax.grad(cost, argnums=tuple(range(len(floats)))))  # one compile: faster than eager
    grads = gradient(*(api.xp.asarray(arrays[i]) for i in floats))
    return [np.asarray(g) for g in grads]


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
