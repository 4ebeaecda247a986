"""How a program's native code is split into units, compiled, cached and linked. Knows kernels (by their
`LoopSpec`), math units and the program's main module, not graphs.

- A **kernel unit** per `LoopSpec`, keyed by the spec's canonical text, a digest of graphc's code and the host
  CPU: every program with that kernel shares one cache entry, so a changed model recompiles only its new
  kernels, and a hit does not even build the kernel's IR.
- A **math unit** per out-of-line transcendental (``mathlib``), which big kernels need.
- The program's **main unit** (entry, main function, BLAS and thread helpers), keyed by its IR text and
  optimised only for small graphs (a big graph's main is a long straight line of calls with nothing to gain).

Units compile on jit's background thread as soon as they are emitted, so LLVM works on kernels while Python
lowers the rest of the graph; ``ProgramBuild.link`` waits for them and links one library per program.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import numpy as np
from llvmlite import ir

from graphc import errors
from graphc.ops import TRANSCENDENTAL

from . import cache, jit, kernels, mathlib
from .threads import KERNEL_TYPE

__all__ = ["ProgramBuild", "Unit", "code_digest", "spec_text"]


@functools.cache
def code_digest() -> str:
    """sha256 of graphc's core and codegen sources: a kernel's key changes when the code emitting it does."""
    codegen = Path(__file__).resolve().parents[1]
    core = Path(errors.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*codegen.rglob("*.py"), *core.glob("*.py")]):
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()


class _Unkeyable(Exception):
    pass


def spec_text(spec) -> str | None:
    """A canonical text of everything a kernel is specialised on, or None when the spec holds a value with
    no canonical text (a user's function): such a kernel is keyed by its IR instead."""
    parts: list[str] = []
    try:
        _canonical(spec, parts)
    except _Unkeyable:
        return None
    return "".join(parts)


def _canonical(value, out: list[str]) -> None:
    """Append a text that only equal values share (floats exactly, bools apart from ints, types named)."""
    if value is None or isinstance(value, bool | int | str | float | np.generic):
        out.append(repr(value))
    elif isinstance(value, enum.Enum):
        out.append(f"{type(value).__name__}.{value.name}")
    elif isinstance(value, tuple | list):
        out.append("(")
        for item in value:
            _canonical(item, out)
            out.append(",")
        out.append(")")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.append(type(value).__name__ + "(")
        for field in dataclasses.fields(value):
            if field.compare:  # what equality ignores (a source node, say) cannot change the code
                out.append(field.name + "=")
                _canonical(getattr(value, field.name), out)
                out.append(",")
        out.append(")")
    else:
        raise _Unkeyable(type(value).__name__)


@dataclasses.dataclass
class Unit:
    """One module on its way to the link: object code from the cache, or a compile in flight."""

    key: str
    name: str
    source: Callable[[], str]  # its IR text (rebuilt on demand when the object came from the cache)
    needs: tuple[str, ...] = ()  # math units, as "name:suffix"
    optimise: bool = True  # False: -O0 (see ``JitEngine.emit``)
    interleave: bool = True  # see ``jit.optimize_module``
    obj: bytes | None = None
    future: Future | None = None

    def compile(self, engine: jit.JitEngine, keep_ir: bool = False):
        return engine.emit(self.source(), self.name, self.optimise, keep_ir, self.interleave)

    @property
    def from_cache(self) -> bool:
        return self.future is None

    def object(self) -> bytes:
        if self.obj is None:
            self.obj = self.future.result()
        return self.obj


def _memo(build: Callable[[], str]) -> Callable[[], str]:
    return functools.cache(build)


class ProgramBuild:
    """The units of one program: ``kernel(spec, module)`` while lowering, ``link(main_module)`` at the end.

    ``keyed``: kernels may be keyed by their spec (the rules are graphc's own table, not a test's copy).
    """

    def __init__(self, rules, keyed: bool = True) -> None:
        self.rules, self.keyed = rules, keyed
        self.engine = jit.default_engine()
        self.store = cache.default_store()
        self.units: dict[str, Unit] = {}
        self._kernel_names: dict = {}  # LoopSpec -> symbol

    def kernel(self, spec, module: ir.Module) -> ir.Function:
        """The kernel for ``spec``, declared in ``module``; its unit is loaded or compiling."""
        name = self._kernel_names.get(spec)
        if name is None:
            name = self._kernel_names[spec] = self._kernel_unit(spec)
        existing = module.globals.get(name)
        return existing if existing is not None else ir.Function(module, KERNEL_TYPE, name)

    def _kernel_unit(self, spec) -> str:
        # Interleaving gives a reduction several accumulators, which pays only when the body is cheap (a
        # transcendental is ~20 cycles, the accumulator's latency 4) and costs compile time: see
        # ``jit.optimize_module``.
        interleave = any(op is not None for op in spec.reduce_ops) and not any(
            ins.op in TRANSCENDENTAL for ins in spec.instrs
        )
        text = spec_text(spec) if self.keyed else None
        if text is None:  # keyed by its IR: build it now
            name = f"graphc.kernel.{len(self._kernel_names)}"
            ir_text, needs = self._kernel_ir(spec, name)
            key = cache.cache_key("kernel-ir", jit.host_cpu_key(), str(interleave), ir_text)
            self._add(Unit(key, name, lambda: ir_text, needs, interleave=interleave))
            return name
        key = cache.cache_key("kernel", jit.host_cpu_key(), code_digest(), text)
        name = f"graphc.k.{key[:24]}"
        source = _memo(lambda: self._kernel_ir(spec, name)[0])
        self._add(Unit(key, name, source, interleave=interleave), lambda: self._kernel_ir(spec, name))
        return name

    def _kernel_ir(self, spec, name: str) -> tuple[str, tuple[str, ...]]:
        module = ir.Module(name=name)
        kernels.emit_kernel(module, spec, name, self.rules)
        needs = tuple(f"{fn}:{suffix}" for fn, suffix in sorted(getattr(module, "out_of_line_math", ())))
        return str(module), needs

    def _math(self, need: str) -> None:
        fn, suffix = need.split(":")
        key = cache.cache_key("math", jit.host_cpu_key(), code_digest(), need)
        self._add(Unit(key, mathlib.symbol(fn, suffix), _memo(lambda: str(mathlib.math_module(fn, suffix)))))

    def _add(self, unit: Unit, build: Callable | None = None) -> None:
        """Take ``unit`` from the cache when it is there, else start compiling it in the background.
        ``build`` gives (IR, needs) of a unit whose needs are only known once its IR is built."""
        if unit.key in self.units:
            return
        entry = self.store.load(unit.key)
        if entry is not None:
            unit.obj, unit.needs = entry.obj, entry.needs
        else:
            if build is not None:
                text, unit.needs = build()
                unit.source = _memo(lambda: text)
            unit.future = self.engine.submit(_compile, self.engine, self.store, unit)
        self.units[unit.key] = unit
        for need in unit.needs:
            self._math(need)

    def link(self, main: ir.Module, exports, optimise: bool) -> jit.JitLibrary:
        """Compile (or load) the main module, wait for every unit, link them into one library."""
        text = str(main)
        key = cache.cache_key("main" if optimise else "main-plain", jit.host_cpu_key(), text)
        self._add(Unit(key, "graphc", lambda: text, optimise=optimise))
        self.main_key = key
        objects = [unit.object() for unit in self.units.values()]
        try:
            return self.engine.add_object(objects, exports, name="graphc")
        except RuntimeError:
            stale = [unit for unit in self.units.values() if unit.from_cache]
            if not stale:
                raise
            for unit in stale:  # checksummed and under its own key, yet unlinkable: rebuild them
                self.store.discard(unit.key)
                unit.obj = unit.compile(self.engine)
            return self.engine.add_object([u.object() for u in self.units.values()], exports, name="graphc")

    @property
    def compiled(self) -> int:
        """How many units this program compiled (the rest came from the cache)."""
        return sum(not unit.from_cache for unit in self.units.values())


def _compile(engine: jit.JitEngine, store: cache.ObjectCache, unit: Unit) -> bytes:
    """A unit's object code, stored in the cache before anyone can link it (on the compile thread)."""
    obj = unit.compile(engine)
    store.store(unit.key, cache.CacheEntry(obj, (), unit.needs))
    return obj
