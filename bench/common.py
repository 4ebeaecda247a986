"""Shared helpers for the benchmarks: best-of timing, optional peers, a Markdown table (not graphc)."""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

# A fresh cache per run: compile times are cold and the numbers do not depend on earlier runs.
os.environ.setdefault("GRAPHC_CACHE_DIR", tempfile.mkdtemp(prefix="graphc-bench-cache-"))


def best_time(
    fn: Callable[[], object],
    repeat: int = 7,
    min_time: float = 0.05,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds per call: the best of `repeat` rounds, each long enough to time reliably.
    `clock=time.process_time` counts this process's CPU time (all its threads): on a busy machine it is what a
    quiet one's wall time comes close to, for single-threaded work."""
    fn()
    start = clock()
    fn()
    once = max(clock() - start, 1e-9)
    number = max(1, int(min_time / once))
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - start) / number)
    return best


def peer(name: str):
    """The module if the optional peer is installed, else None."""
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any import failure means: skip this peer
        return None


def copy_bandwidth(nbytes: int = 1 << 28) -> float:
    """Bytes per second of a large memory copy (read + write counted), the machine's practical bound."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    t = best_time(lambda: np.copyto(b, a), repeat=5)
    return 2 * a.nbytes / t


def table(title: str, header: list[str], rows: list[list]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


# PyTensor 3 defaults to its numba backend, which needs an older llvmlite than graphc's; its C backend (CVM)
# needs only a C compiler.
os.environ.setdefault("PYTENSOR_FLAGS", "linker=cvm")


def pytensor_mode():
    from pytensor.compile.mode import Mode

    return Mode(linker="cvm", optimizer="fast_run")
