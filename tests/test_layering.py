"""The dependency rule of DESIGN.md, checked by parsing imports: the core imports neither passes nor codegen
(except the driver and the lazy facade), passes import only the core, codegen imports only the core."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"graphc": ROOT / "graphc", "graphc.passes": ROOT / "passes", "graphc.codegen": ROOT / "codegen"}
# Modules allowed to reach across: the driver ties the three together; the facade loads lazily.
DRIVERS = {"graphc/compile.py", "graphc/__init__.py"}
FORBIDDEN = {
    "graphc": ("graphc.passes", "graphc.codegen"),
    "graphc.passes": ("graphc.codegen",),
    "graphc.codegen": ("graphc.passes",),
}


def _imports(path: Path, package: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                names.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.append(node.module)
    return names


def _module_package(root_pkg: str, root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    else:
        parts = parts[:-1]
    return ".".join([root_pkg, *parts])


def test_no_forbidden_imports():
    problems = []
    for pkg, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in DRIVERS:
                continue
            for name in _imports(path, _module_package(pkg, root, path)):
                for bad in FORBIDDEN[pkg]:
                    if name == bad or name.startswith(bad + "."):
                        problems.append(f"{rel} imports {name}")
                top = name.split(".")[0]
                if pkg == "graphc" and top in ("passes", "codegen"):
                    problems.append(f"{rel} imports {name} (use graphc.passes / graphc.codegen)")
    assert not problems, "\n".join(problems)


def test_public_namespaces_hold_only_their_api():
    """dir() of the facade and of each public module is its __all__, which holds graphc's own names only: no
    `annotations`, `np`, `Callable` or submodules leak in (tab completion shows the API)."""
    from types import ModuleType

    import graphc as gc

    public = [gc, gc.nn, gc.nn.init, gc.optim, gc.training, gc.viz, gc.testing, gc.io, gc.onnx]
    subpackages = {"nn", "optim", "viz", "testing", "training", "init", "io", "onnx"}
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
