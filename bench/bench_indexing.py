"""Benchmark 7: indexing by data. An embedding lookup (a gather), its gradient (a scatter-add) and a cumsum,
against NumPy and the peers.

- lookup: table 50,000 × 256 float32, 4,096 int64 ids: E[ids] vs np.take(E, ids, axis=0)
- gradient: the (50,000, 256) gradient of sum(E[ids] * G): scatter-add of G at ids into zeros vs np.add.at
- cumsum over 10^7 float32 vs np.cumsum
Run: python bench/bench_indexing.py
"""

from __future__ import annotations

import numpy as np
from common import best_time, peer, table

import graphc as gc

VOCAB, DIM, N_IDS, N_SCAN = 50_000, 256, 4_096, 10**7


def graphc_functions(backend: str, E: np.ndarray) -> dict:
    table_ = gc.shared(E, name="E")
    ids, g = gc.vector("ids", dtype="int64"), gc.matrix("g", ("n", DIM), dtype="float32")
    (grad,) = gc.grad(gc.sum(table_[ids] * g), [table_])
    x = gc.vector("x", dtype="float32")
    return {
        "lookup": gc.function([ids], table_[ids], backend=backend),
        "gradient": gc.function([ids, g], grad, backend=backend),
        "cumsum": gc.function([x], gc.cumsum(x), backend=backend),
    }


def numpy_functions(E: np.ndarray) -> dict:
    def add_at(ids, g):
        out = np.zeros_like(E)
        np.add.at(out, ids, g)
        return out

    return {"lookup": lambda ids: np.take(E, ids, axis=0), "gradient": add_at, "cumsum": np.cumsum}


def peers(E: np.ndarray) -> dict:
    found = {}
    torch = peer("torch")
    if torch is not None:
        tE = torch.from_numpy(E)

        def t_grad(ids, g):
            return torch.zeros_like(tE).index_add_(0, ids, g)

        found["PyTorch eager"] = (
            {
                "lookup": lambda ids: tE.index_select(0, ids),
                "gradient": t_grad,
                "cumsum": lambda x: torch.cumsum(x, 0),
            },
            torch.from_numpy,
        )
    jax = peer("jax")
    if jax is not None:
        jnp = jax.numpy
        jE = jnp.asarray(E)
        lookup = jax.jit(lambda ids: jnp.take(jE, ids, axis=0))
        grad = jax.jit(lambda ids, g: jnp.zeros_like(jE).at[ids].add(g))
        cumsum = jax.jit(jnp.cumsum)
        found["JAX jit"] = (
            {
                "lookup": lambda ids: lookup(ids).block_until_ready(),
                "gradient": lambda ids, g: grad(ids, g).block_until_ready(),
                "cumsum": lambda x: cumsum(x).block_until_ready(),
            },
            jnp.asarray,
        )
    return found


def main() -> None:
    rng = np.random.default_rng(0)
    E = rng.standard_normal((VOCAB, DIM)).astype(np.float32)
    ids = rng.integers(0, VOCAB, N_IDS)
    g = rng.standard_normal((N_IDS, DIM)).astype(np.float32)
    x = rng.standard_normal(N_SCAN).astype(np.float32)
    args = {"lookup": (ids,), "gradient": (ids, g), "cumsum": (x,)}
    reference = numpy_functions(E)
    impls = {"graphc llvm": (graphc_functions("llvm", E), None), "NumPy": (reference, None),
             "graphc numpy": (graphc_functions("numpy", E), None), **peers(E)}  # fmt: skip
    rows = []
    for task, task_args in args.items():
        expected = reference[task](*task_args)
        times = {}
        for name, (fns, convert) in impls.items():
            call_args = task_args if convert is None else tuple(convert(a) for a in task_args)
            got = np.asarray(fns[task](*call_args))
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
            times[name] = best_time(lambda f=fns[task], a=call_args: f(*a))  # noqa: B023
        ratio = times["graphc llvm"] / times["NumPy"]
        rows.append([task] + [f"{1e3 * t:.2f}" for t in times.values()] + [f"{ratio:.2f}×"])
    table("indexing by data, ms (best of 7)", ["task", *impls, "llvm / NumPy"], rows)


if __name__ == "__main__":
    main()
