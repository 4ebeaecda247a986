"""`import graphc` stays light: the heavy dependencies are imported only by the paths that need them. (The
time itself is measured by bench/bench_import.py, never asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sympy", "scipy", "graphviz", "networkx", "tqdm", "llvmlite", "matplotlib", "onnx")


def modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in HEAVY if name in modules)


def test_import_graphc_loads_none_of_the_heavy_dependencies() -> None:
    modules = modules_after("import graphc")
    assert heavy_in(modules) == []
    assert not {"graphc.passes", "graphc.codegen", "graphc.compile", "graphc.viz"} & modules  # lazy


def test_the_quickstart_path_needs_none_of_them() -> None:
    """Named and anonymous sizes, gradients and the numpy backend need neither sympy nor scipy."""
    modules = modules_after(
        "import numpy as np, graphc as gc\n"
        "x, t = gc.matrix('x'), gc.vector('t', dtype='int64')\n"
        "W, b = gc.shared(np.zeros((4, 3)), name='W'), gc.shared(np.zeros(3), name='b')\n"
        "J = gc.nn.softmax_cross_entropy(gc.tanh(x @ W + b), t) + 1e-4 * (W ** 2).sum()\n"
        "gW, gb = gc.grad(J, [W, b])\n"
        "step = gc.function([x, t], J, updates={W: W - 0.1 * gW, b: b - 0.1 * gb})\n"
        "step(np.ones((2, 4)), np.array([0, 2]))\n"
        "print(gc.function([x], x[1:] + 1)(np.ones((3, 4))).shape)"
    )
    assert heavy_in(modules) == []


def test_each_comes_with_the_path_that_needs_it() -> None:
    assert "sympy" in modules_after("import graphc as gc\ngc.elementwise('cube', lambda x: x**3)")
    assert "scipy" in modules_after("import graphc as gc\ngc.sigmoid(gc.vector('x'))")
    assert "graphviz" in modules_after("import graphc as gc\ngc.viz.to_dot(gc.vector('x') + 1)")
