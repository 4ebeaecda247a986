"""Benchmark 5: how long `import graphc` takes, and the quickstart's first step (import, build, grad,
compile, one call), each in a fresh interpreter, s. graphc's own share is the difference with `import numpy`.

Run: python bench/bench_import.py
"""

from __future__ import annotations

import subprocess
import sys
import time

from common import table

QUICKSTART = """
import numpy as np, graphc as gc
x = gc.tensor("x", ("n", 784), "float32"); t = gc.tensor("t", ("n",), "int64")
W = gc.shared(np.zeros((784, 10), np.float32)); b = gc.shared(np.zeros(10, np.float32))
J = gc.nn.softmax_cross_entropy(x @ W + b, t)
gW, gb = gc.grad(J, [W, b])
step = gc.function([x, t], J, updates={W: W - 0.1 * gW, b: b - 0.1 * gb})
step(np.ones((32, 784), np.float32), np.zeros(32, np.int64))
"""

PROGRAMS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import graphc": "import graphc",
    "quickstart (numpy backend)": QUICKSTART,
    "import sympy (not needed by the above)": "import sympy",
}


def best_run(code: str, repeat: int = 7) -> float:
    """Seconds of the fastest of `repeat` fresh interpreters running `code`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    times = {name: best_run(code) for name, code in PROGRAMS.items()}
    rows = [[name, f"{t:.3f}"] for name, t in times.items()]
    rows.append(
        [
            "graphc's own share (import graphc − import numpy)",
            f"{times['import graphc'] - times['import numpy']:.3f}",
        ]
    )
    table("Import time, s (best of 7 fresh interpreters)", ["program", "s"], rows)


if __name__ == "__main__":
    main()
