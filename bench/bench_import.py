"""Benchmark 5: how long `import graphc` takes, and the quickstart's first step (import, build, grad,
compile, one call), each in a fresh interpreter, s: the wall-clock time and the CPU time (user + system) of
the child, which a busy machine disturbs less. graphc's own share is the difference with `import numpy`.

Run: python bench/bench_import.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
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


def best_run(code: str, repeat: int = 7) -> tuple[float, float]:
    """(wall, CPU) seconds: the best of `repeat` fresh interpreters running `code`."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())  # not ./graphc
        wall = min(wall, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    times = {name: best_run(code) for name, code in PROGRAMS.items()}
    rows = [[name, f"{wall:.3f}", f"{cpu:.3f}"] for name, (wall, cpu) in times.items()]
    own = [g - n for g, n in zip(times["import graphc"], times["import numpy"], strict=True)]
    rows.append(["graphc's own share (import graphc − import numpy)", f"{own[0]:.3f}", f"{own[1]:.3f}"])
    table("Import time, s (best of 7 fresh interpreters)", ["program", "wall", "CPU"], rows)


if __name__ == "__main__":
    main()
