"""Every public name has a docstring with an example, and every example in graphc's docstrings runs.

Examples assume `import numpy as np, graphc as gc` (as NumPy's assume `np`); the runner provides both.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import shutil
import sys

import numpy as np
import pytest

import graphc as gc
import graphc.codegen
import graphc.passes

PUBLIC = [
    "graphc", "graphc.nn", "graphc.nn.init", "graphc.optim", "graphc.viz", "graphc.testing",
    "graphc.training", "graphc.io", "graphc.onnx", "graphc.distributed",
]  # fmt: skip
MODULES = sorted(
    {
        m.name
        for pkg in (gc, graphc.passes, graphc.codegen)
        for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")
    }
    | {"graphc", "graphc.passes", "graphc.codegen"}
)
NEEDS_DOT = {"graphc.viz"}  # its examples draw SVG with graphviz's dot program


def public_names() -> list[tuple[str, object, object]]:
    """(qualified name, object, its module) for every name in a public namespace's __all__."""
    found = []
    for module_name in PUBLIC:
        importlib.import_module(module_name)
        module = sys.modules[module_name]  # graphc.tensor the module, not gc.tensor the function
        found += [(f"{module_name}.{name}", getattr(module, name), module) for name in module.__all__]
    return found


def documented(obj, module) -> bool:
    """A function, class or module documents itself with an example; a constant is named in its module's
    docstring (a tuple cannot carry a docstring of its own)."""
    if inspect.isroutine(obj) or inspect.isclass(obj) or inspect.ismodule(obj):
        doc = obj.__doc__ if not inspect.isclass(obj) else obj.__dict__.get("__doc__")
        return bool(doc) and ">>>" in doc
    return any(
        name in (module.__doc__ or "") for name in [n for n in module.__all__ if getattr(module, n) is obj]
    )


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    missing = [name for name, obj, module in public_names() if not documented(obj, module)]
    assert missing == [], f"public names without a docstring example: {missing}"


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_run(name: str) -> None:
    if name in NEEDS_DOT and shutil.which("dot") is None:
        pytest.skip("the examples draw SVG: needs graphviz's dot")
    if name.startswith("graphc.onnx"):
        pytest.importorskip("onnx")  # the optional extra [onnx]
    if name.startswith("graphc.distributed"):
        pytest.importorskip("distributed")  # the optional extra [distributed]
    importlib.import_module(name)
    module = sys.modules[name]
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, extraglobs={"gc": gc, "np": np}, optionflags=flags, report=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {name} failed (run doctest)"
    )
