"""Make ``graphc.codegen.llvm`` and this folder's helper modules importable for the llvm_infra tests."""

import importlib.util
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # kernels.py, accuracy.py


def _alias_llvm_package() -> None:
    """Until graphc is pip-installed, expose codegen/llvm as graphc.codegen.llvm (that subpackage only)."""
    try:
        import graphc.codegen.llvm  # noqa: F401

        return
    except ImportError:
        pass
    root = HERE.parents[1]
    for name in ("graphc", "graphc.codegen"):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = []
            sys.modules[name] = module
    spec = importlib.util.spec_from_file_location(
        "graphc.codegen.llvm",
        root / "codegen" / "llvm" / "__init__.py",
        submodule_search_locations=[str(root / "codegen" / "llvm")],
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules["graphc.codegen.llvm"] = package
    spec.loader.exec_module(package)


_alias_llvm_package()
