"""Benchmark 1: a fused elementwise expression vs NumPy and the peers, with the memory-bandwidth bound.

f = sigmoid(x*y + z) * tanh(y) + log1p(exp(-|z|)) on 10^6 and 10^7 float32/float64 elements.
Run: python bench/bench_elementwise.py [--sizes 1000000 10000000]
"""

# ruff: noqa: B023 - timing lambdas are called inside the loop iteration that defines them

from __future__ import annotations

import argparse

import numpy as np
import scipy.special
from common import best_time, copy_bandwidth, peer, pytensor_mode, table

import graphc as gc


def numpy_f(x, y, z):
    return scipy.special.expit(x * y + z) * np.tanh(y) + np.log1p(np.exp(-np.abs(z)))


def graphc_f(dtype, backend):
    x, y, z = (gc.tensor(name, ("n",), dtype) for name in "xyz")
    expr = gc.sigmoid(x * y + z) * gc.tanh(y) + gc.log1p(gc.exp(-abs(z)))
    return gc.function([x, y, z], expr, backend=backend)


def peers(dtype):
    found = {}
    jax = peer("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        jf = jax.jit(
            lambda x, y, z: jax.nn.sigmoid(x * y + z) * jnp.tanh(y) + jnp.log1p(jnp.exp(-jnp.abs(z)))
        )
        found["JAX jit"] = lambda x, y, z: jf(x, y, z).block_until_ready()
    torch = peer("torch")
    if torch is not None:

        def tf(x, y, z):
            return torch.sigmoid(x * y + z) * torch.tanh(y) + torch.log1p(torch.exp(-torch.abs(z)))

        found["PyTorch eager"] = (tf, torch.from_numpy)
    pt = peer("pytensor")
    if pt is not None:
        import pytensor.tensor as ptt

        x, y, z = (ptt.vector(n, dtype=dtype) for n in "xyz")
        expr = ptt.sigmoid(x * y + z) * ptt.tanh(y) + ptt.log1p(ptt.exp(-abs(z)))
        found["PyTensor"] = pt.function([x, y, z], expr, mode=pytensor_mode())
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**6, 10**7])
    args = parser.parse_args()
    bandwidth = copy_bandwidth()
    rows = []
    for dtype in ("float32", "float64"):
        f_llvm, f_np_backend = graphc_f(dtype, "llvm"), graphc_f(dtype, "numpy")
        others = peers(dtype)
        for n in args.sizes:
            rng = np.random.default_rng(0)
            x, y, z = (rng.standard_normal(n).astype(dtype) for _ in range(3))
            bound = 4 * n * np.dtype(dtype).itemsize / bandwidth  # 3 reads + 1 write
            t_llvm = best_time(lambda: f_llvm(x, y, z))
            t_np = best_time(lambda: numpy_f(x, y, z))
            row = {
                "graphc llvm": t_llvm,
                "NumPy": t_np,
                "graphc numpy": best_time(lambda: f_np_backend(x, y, z)),
            }
            for name, fn in others.items():
                if isinstance(fn, tuple):
                    fn, conv = fn
                    a, b, c = conv(x), conv(y), conv(z)
                    row[name] = best_time(lambda fn=fn, a=a, b=b, c=c: fn(a, b, c))
                else:
                    row[name] = best_time(lambda fn=fn: fn(x, y, z))
            np.testing.assert_allclose(
                f_llvm(x, y, z), numpy_f(x, y, z), rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6
            )
            cells = [f"{k} {v * 1e3:.2f}" for k, v in row.items()]
            rows.append(
                [
                    dtype,
                    f"{n:.0e}",
                    f"{bound * 1e3:.2f}",
                    f"{t_llvm / bound:.2f}x",
                    f"{t_np / t_llvm:.1f}x",
                    "; ".join(cells),
                ]
            )
    table(
        f"Fused elementwise (ms; copy bandwidth {bandwidth / 1e9:.1f} GB/s)",
        ["dtype", "n", "bandwidth bound", "llvm / bound", "NumPy / llvm", "times (ms)"],
        rows,
    )


if __name__ == "__main__":
    main()
