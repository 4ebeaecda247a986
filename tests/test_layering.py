"""The layers of DESIGN.md, checked on every import a module makes, and no import cycle anywhere.

Layers: the *core* of graphc (types, IR, ops and their rules, builders) imports nothing above it; *passes*
(graphc.passes) and *codegen* (graphc.codegen) import the core only; the *user layer* (the driver, nn, optim,
training, testing, viz, and later io/onnx/distributed) may import passes and codegen, explicitly. Only the
facade (graphc/__init__.py) reaches everything, lazily, for users.

An import is any `import`/`from ... import` (relative ones, and those inside functions, included) and any
attribute reached through an imported module: `import graphc as gc; gc.grad(...)` imports
graphc.passes.autodiff, the module the facade loads `grad` from.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import graphc

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"graphc": ROOT / "graphc", "graphc.passes": ROOT / "passes", "graphc.codegen": ROOT / "codegen"}

CORE = {
    "graphc.errors", "graphc.settings", "graphc.types", "graphc.origin", "graphc.ops", "graphc.shape_rules",
    "graphc.operators", "graphc.graph", "graphc.tensor", "graphc.elementwise", "graphc.fgraph",
    "graphc.kernel", "graphc.printing", "graphc.sizes", "graphc.dims",
    "graphc.ops_math", "graphc.shape_rules_math", "graphc.mathfuncs", "graphc.arrays", "graphc.padding",
    "graphc.linalg",
    "graphc.ops_indexing", "graphc.shape_rules_indexing", "graphc.indexing", "graphc.advanced_index",
    "graphc.bodies", "graphc.control",
}  # fmt: skip
USER = ("graphc.compile", "graphc.call_checks", "graphc.nn", "graphc.optim", "graphc.training",
        "graphc.testing", "graphc.viz", "graphc.notebook", "graphc.analysis", "graphc.io", "graphc.onnx",
        "graphc.distributed", "graphc.__main__")  # fmt: skip
FACADE = "graphc"
MAY_IMPORT = {
    "core": {"core"},
    "passes": {"core", "passes"},
    "codegen": {"core", "codegen"},
    "user": {"core", "passes", "codegen", "user"},
    "facade": {"core", "passes", "codegen", "user", "facade"},
}


def project_modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


MODULES = project_modules()


def layer_of(module: str) -> str:
    if module == FACADE:
        return "facade"
    for layer, prefix in (("passes", "graphc.passes"), ("codegen", "graphc.codegen")):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    if module in CORE:
        return "core"
    if any(module == p or module.startswith(p + ".") for p in USER):
        return "user"
    raise AssertionError(f"{module} is in no layer: add it to CORE or USER in tests/test_layering.py")


def resolve(dotted: str, lazy: dict[str, tuple[str, str | None]]) -> str:
    """The project module that `dotted` (a module, or a name reached in one) comes from."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head == FACADE and n < len(parts) and parts[n] in lazy:
            return lazy[parts[n]][0]  # gc.grad: the module the facade loads it from
        if head in MODULES:
            return head
    return dotted


def imports(source: str, module: str, is_package: bool, lazy: dict) -> Iterator[tuple[int, str]]:
    """(line, project module) for each import in `source`, the text of `module`."""
    package = module if is_package else module.rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> the module it names
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name))
                local = alias.asname or alias.name.split(".")[0]
                bound[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: against the file's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                found.append((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base))
                if f"{base}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in ast.walk(tree):  # attributes reached through a bound module: gc.grad, graphc.passes.cse.cse
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in bound:
                found.append((node.lineno, ".".join([bound[inner.id], *reversed(chain)])))
    for line, name in found:
        if name.split(".")[0] in ("graphc", "passes", "codegen"):
            yield line, resolve(name, lazy)


def problems_of(source: str, module: str, is_package: bool = False) -> list[str]:
    """What is wrong with the imports of `module` (given as source text), one line each."""
    problems = []
    for line, target in imports(source, module, is_package, graphc._LAZY):
        where = f"{module} (line {line}) imports {target}"
        if target.split(".")[0] in ("passes", "codegen"):
            problems.append(f"{where}: spell it graphc.{target}")
        elif target == FACADE and module != FACADE:
            problems.append(f"{where}, the facade: import what it uses from its own module")
        elif target in MODULES and layer_of(target) not in MAY_IMPORT[layer_of(module)]:
            problems.append(
                f"{where}: the {layer_of(module)} layer may not import the {layer_of(target)} layer"
            )
    return problems


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        found = imports(path.read_text(), module, path.name == "__init__.py", graphc._LAZY)
        graph[module] = {t for _, t in found if t in MODULES and t != module and t != FACADE}
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The groups of modules that import each other, directly or not (each group: a strongly connected
    component of two or more modules). Iterative: one breadth-first search per module."""
    reach = {}
    for start in graph:
        seen, frontier = set(), [start]
        while frontier:
            frontier = [t for m in frontier for t in graph[m] if t not in seen]
            seen.update(frontier)
        reach[start] = seen
    return {frozenset({m} | {o for o in reach[m] if m in reach[o]}) for m in graph if m in reach[m]}


# --- the checks ---------------------------------------------------------------------------------------------
def test_every_module_imports_only_what_its_layer_may():
    problems = []
    for module, path in MODULES.items():
        problems += problems_of(path.read_text(), module, path.name == "__init__.py")
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_layer_and_imports():
    for module in MODULES:
        layer_of(module)
        importlib.import_module(module)  # fails, never skips: a module that cannot load is a broken layer


def test_no_import_cycle_anywhere():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in found)


def test_the_facade_loads_every_lazy_name_from_its_layer():
    for name, (module, attr) in graphc._LAZY.items():
        assert layer_of(module) in ("passes", "codegen", "user"), f"gc.{name} is core: import it eagerly"
        assert getattr(graphc, name) is (importlib.import_module(module) if attr is None else
                                         getattr(importlib.import_module(module), attr))  # fmt: skip


def test_variable_gets_its_operators_from_the_mixin():
    from graphc.graph import Variable
    from graphc.operators import Operators

    assert issubclass(Variable, Operators)
    attached = {"__add__", "__matmul__", "__getitem__", "T", "sum", "reshape"} & set(vars(Variable))
    assert not attached, f"defined on Variable itself, not on the mixin: {sorted(attached)}"


# --- the checker catches what it must (tests of the test) ---------------------------------------------------
PLANTED = [
    ("graphc.types", "import graphc.passes.cse\n", "the core layer may not import the passes layer"),
    ("graphc.graph", "def f():\n    from graphc.codegen import interp\n", "may not import the codegen layer"),
    ("graphc.tensor", "import graphc as gc\n\ndef f(x):\n    return gc.grad(x, x)\n",
     "imports graphc.passes.autodiff: the core layer may not import the passes"),
    ("graphc.printing", "import graphc\n\ndef f():\n    return graphc.function\n",
     "imports graphc.compile: the core layer may not import the user layer"),
    ("graphc.passes.cse", "from ..codegen import numpy_backend\n", "passes layer may not import the codegen"),
    ("graphc.passes.fold", "from graphc import compile\n", "the passes layer may not import the user layer"),
    ("graphc.codegen.interp", "def f():\n    from graphc.compile import function\n",
     "the codegen layer may not import the user layer"),
    ("graphc.codegen.llvm.views", "from ...passes import dce\n", "codegen layer may not import the passes"),
    ("graphc.ops", "import graphc\n", "the facade: import what it uses from its own module"),
    ("graphc.optim", "import graphc as gc\n\ndef f(c, w):\n    return gc.grad(c, w)\n", "graphc, the facade"),
    ("graphc.ops", "from passes import cse\n", "spell it graphc.passes"),
]  # fmt: skip


@pytest.mark.parametrize(
    "module, source, complaint", PLANTED, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(PLANTED)]
)
def test_a_planted_forbidden_import_is_caught(module, source, complaint):
    problems = problems_of(source, module)
    assert any(complaint in p for p in problems), problems


def test_allowed_imports_pass():
    assert not problems_of("from graphc.passes import autodiff\n\nautodiff.grad(1, 2)\n", "graphc.optim")
    assert not problems_of("from graphc.passes import run_pipeline\n", "graphc.compile")
    assert not problems_of("from . import jit\nfrom graphc import settings\n", "graphc.codegen.llvm.cache")
    assert not problems_of("from .graph import apply\n", "graphc.tensor")


def test_a_new_module_must_be_put_in_a_layer():
    with pytest.raises(AssertionError, match="graphc.newthing is in no layer"):
        layer_of("graphc.newthing")


def test_a_cycle_is_found_however_long():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": set()}
    assert cycles(graph) == {frozenset("abc"), frozenset("ef")}


def test_public_namespaces_hold_only_their_api():
    """dir() of the facade and of each public module is its __all__, which holds graphc's own names only: no
    `annotations`, `np`, `Callable` or submodules leak in (tab completion shows the API)."""
    from types import ModuleType

    import graphc as gc

    public = [gc, gc.nn, gc.nn.init, gc.optim, gc.training, gc.viz, gc.testing, gc.io, gc.onnx,
              gc.distributed]  # fmt: skip
    subpackages = {"nn", "optim", "viz", "testing", "training", "init", "settings", "io", "onnx",
                   "distributed"}  # fmt: skip
    for module in public:
        assert dir(module) == sorted(module.__all__), module.__name__
        for name in module.__all__:
            value = getattr(module, name)
            where = f"{module.__name__}.{name}"
            assert not name.startswith("_") and (name in subpackages) == isinstance(value, ModuleType), where
            assert getattr(value, "__module__", None) in (None, "graphc") or value.__module__.startswith(
                "graphc."
            ), f"{where} comes from {value.__module__}"
    assert not {"annotations", "importlib"} & set(vars(gc))
