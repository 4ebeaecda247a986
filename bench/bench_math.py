"""Benchmark: einsum against the same product written with @, and exact GELU (erf) against NumPy/SciPy and
PyTorch. Times per call, best of 7.

Run: python bench/bench_math.py
"""

from __future__ import annotations

from functools import partial

import numpy as np
from common import best_time, peer, table

import graphc as gc


def interleaved(*fns, rounds: int = 7) -> list[float]:
    """Seconds per call of each function, the best of `rounds` rounds taken in turn: on a shared machine,
    load that comes and goes then falls on all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        best = [min(b, best_time(fn, repeat=1)) for b, fn in zip(best, fns, strict=True)]
    return best


def einsum_vs_matmul() -> None:
    """A batched matmul einsum lowers to the graph `a @ b` makes (asserted): its time is `@`'s up to noise."""
    rng = np.random.default_rng(0)
    shapes = {
        "bij,bjk->bik": ((64, 128, 96), (64, 96, 128)),
        "bhqd,bhkd->bhqk": ((8, 8, 128, 64), (8, 8, 128, 64)),
    }
    rows = []
    for spec, (sa, sb) in shapes.items():
        a, b = rng.standard_normal(sa).astype(np.float32), rng.standard_normal(sb).astype(np.float32)
        x, y = gc.tensor("a", sa, "float32"), gc.tensor("b", sb, "float32")
        by_hand = x @ (y if spec.startswith("bij") else gc.transpose(y, (0, 1, 3, 2)))
        for backend in ("llvm", "numpy"):
            f_einsum = gc.function([x, y], gc.einsum(spec, x, y), backend=backend)
            f_matmul = gc.function([x, y], by_hand, backend=backend)
            np.testing.assert_allclose(f_einsum(a, b), np.einsum(spec, a, b), rtol=1e-4, atol=1e-3)
            ops = [[(n.op, n.params) for n in f.optimized.nodes] for f in (f_einsum, f_matmul)]
            assert ops[0] == ops[1], f"einsum {spec} did not lower to the graph @ makes: {ops}"
            t_einsum, t_matmul = interleaved(partial(f_einsum, a, b), partial(f_matmul, a, b))
            rows.append(
                [
                    spec,
                    backend,
                    f"{t_einsum * 1e3:.2f}",
                    f"{t_matmul * 1e3:.2f}",
                    f"{t_einsum / t_matmul:.2f}",
                ]
            )
        t_np = best_time(lambda a=a, b=b, spec=spec: np.einsum(spec, a, b, optimize=True))
        rows.append([spec, "np.einsum(optimize=True)", f"{t_np * 1e3:.2f}", "", ""])
    table("einsum vs @ (float32, ms per call)", ["spec", "backend", "einsum", "@", "ratio"], rows)


def gelu() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((4096, 1024)).astype(np.float32)
    x = gc.tensor("x", ("n", 1024), "float32")
    rows = []
    for backend in ("llvm", "numpy"):
        f = gc.function([x], gc.nn.gelu(x), backend=backend)
        rows.append([f"graphc {backend}", f"{best_time(lambda f=f: f(v)) * 1e3:.2f}"])
    import scipy.special

    by_hand = lambda: 0.5 * v * (1 + scipy.special.erf(v * np.float32(1 / np.sqrt(2))))  # noqa: E731
    rows.append(["NumPy + scipy.special.erf", f"{best_time(by_hand) * 1e3:.2f}"])
    torch = peer("torch")
    if torch is not None:
        t = torch.from_numpy(v)
        rows.append(["PyTorch eager", f"{best_time(lambda: torch.nn.functional.gelu(t)) * 1e3:.2f}"])
    table("Exact GELU, 4096×1024 float32 (ms per call)", ["implementation", "ms"], rows)


if __name__ == "__main__":
    einsum_vs_matmul()
    gelu()
