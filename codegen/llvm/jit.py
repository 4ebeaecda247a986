"""The one module that touches ``llvmlite.binding``: target machine, O3 pipeline, JIT linking, IR dumps.
(Over 300 lines: every llvmlite.binding call, and the lock and background thread they need, stay here.)

Nothing here knows about graphs. Everything else in graphc that needs LLVM's C++ side goes through this
module, so a new llvmlite release is handled in one place (see /work/shared/FACTS.md for the quirks).

Example::

    engine = JitEngine()
    lib = engine.compile(ir_text, exports=["kernel"])
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)(lib.address("kernel"))

Compilation always goes IR -> optimised IR -> object code -> ORC (LLJIT) link, so a freshly compiled module
and one reloaded from the on-disk cache take exactly the same path into memory.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
from llvmlite.binding import ffi

from graphc import settings

__all__ = [
    "JitEngine",
    "JitLibrary",
    "assembly",
    "host_cpu_key",
    "host_target_machine",
    "optimize_module",
    "parse_ir",
    "register_symbol",
    "default_engine",
]

_init_lock = threading.RLock()
_initialized = False

# Symbols (name -> address) that every JIT library may import: BLAS entry points and the like (``blas``
# registers its own when it emits a call, so code loaded from the cache finds them as long as the program's
# IR was built in this process). ORC's LLJIT does not see llvm.add_symbol: we import these into each library.
_SYMBOLS: dict[str, int] = {}


def _ensure_initialized() -> None:
    """Initialise the native target once (``llvm.initialize()`` raises in llvmlite >= 0.45)."""
    global _initialized
    if _initialized:
        return
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


def register_symbol(name: str, address: int) -> None:
    """Make external symbol ``name`` resolve to ``address`` in every library linked afterwards."""
    if not address:
        raise ValueError(f"refusing to register a null address for symbol {name!r}")
    _SYMBOLS[name] = int(address)


# LLVM tunes many AVX-512 CPUs (Skylake-X to Rocket Lake) to prefer 256-bit vectors; our loops are
# compute-bound transcendentals, and 512-bit vectors made exp/log/sigmoid 1.3-1.5x faster on this machine.
_TUNING = "-prefer-256-bit"
FAST_SWITCH = 0.0005  # s: the interpreter's switch interval while background compiles are pending


def _host_features() -> str:
    return f"{llvm.get_host_cpu_features().flatten()},{_TUNING}"


@functools.cache
def host_cpu_key() -> str:
    """A string naming everything the generated code depends on: llvmlite version, triple, CPU, features."""
    _ensure_initialized()
    return "|".join(
        [
            llvmlite.__version__,
            llvm.get_process_triple(),
            llvm.get_host_cpu_name(),
            _host_features(),
            CODE_MODEL,
        ]
    )


def host_target_machine(opt: int = 3) -> llvm.TargetMachine:
    """A fresh TargetMachine for the host CPU (-O3 by default). Never share one between engines (it
    segfaults)."""
    _ensure_initialized()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    # The large code model: every address is a full 64 bits. RuntimeDyld places an object's code and its
    # read-only data (constant pools) wherever the memory manager finds room; in a long-lived process whose
    # address space is fragmented they end up more than 2 GiB apart, and the small model's 32-bit
    # PC-relative references from one to the other abort in resolveX86_64Relocation (the fuzzer met it
    # after ~150 programs). Calls to process symbols (BLAS, memset) are full 64-bit addresses too.
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=_host_features(),
        opt=opt,
        reloc="static",
        codemodel=CODE_MODEL,
    )


CODE_MODEL = "large"  # part of host_cpu_key: objects of another model are never reused from the cache


def parse_ir(ir_text: str) -> llvm.ModuleRef:
    """Parse and verify textual LLVM IR; a malformed module raises ``RuntimeError`` with LLVM's message."""
    _ensure_initialized()
    # A context of its own, freed with the module: what optimisation adds to a context (distinct metadata,
    # constants) would otherwise stay in the global one for the life of the process.
    mod = llvm.parse_assembly(str(ir_text), context=llvm.create_context())
    mod.verify()
    return mod


def optimize_module(llvm_module: llvm.ModuleRef, tm: llvm.TargetMachine | None = None, interleave=True):
    """Run the new pass manager's O3 pipeline with loop and SLP vectorisation, in place.

    ``interleave=False`` keeps one copy of a vectorised loop body: interleaving gives a reduction several
    accumulators, but an elementwise loop runs as fast without it, and it took a third of a kernel's compile
    time (a rank-2 kernel: 95 ms against 40 ms).
    """
    tm = tm or host_target_machine()
    llvm_module.triple = tm.triple
    llvm_module.data_layout = str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_interleaving = interleave
    pass_builder = llvm.create_pass_builder(tm, pto)
    manager = pass_builder.getModulePassManager()
    try:
        manager.run(llvm_module, pass_builder)
    finally:
        # llvmlite's ModulePassManager frees nothing (no _dispose): its passes' tables (~95 KiB a module)
        # would stay allocated for the life of the process.
        ffi.lib.LLVMPY_DisposeNewModulePassManger(manager)
        manager.detach()


def _dump_dir() -> Path | None:
    """The GRAPHC_DUMP_IR directory, if the debug switch is on."""
    value = settings.current().dump_ir
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80] or "module"


DYLIBS_PER_JIT = 32
"""Libraries linked into one LLJIT before the engine starts a new one (~4 ms). An LLJIT never forgets a
library (its JITDylib's tables stay when the code is unloaded): a process that compiles and drops functions
forever would grow ~10 KiB each. An LLJIT is freed once every library linked into it is (see `_Loaded`), so a
function kept alive keeps at most 32 such tables."""


class _Loaded:
    """Linked code: unloads it (its resource tracker) before letting go of the LLJIT that holds it."""

    __slots__ = ("tracker", "lljit")

    def __init__(self, tracker, lljit) -> None:
        self.tracker, self.lljit = tracker, lljit

    def __del__(self) -> None:
        self.tracker.close()


class JitLibrary:
    """One linked piece of native code: function addresses by name, kept alive while this object lives.

    ``llvm_ir`` (optimised IR) and ``asm`` are available when the library was compiled from IR in this
    process, not when it was loaded from a cached object file (then ``optimised_ir`` is None).
    """

    def __init__(self, name: str, tracker: object, addresses: Mapping[str, int], llvm_ir: str | None) -> None:
        self.name = name
        self._tracker = tracker  # unloads the code when collected: keep it while addresses are used
        self._addresses = dict(addresses)
        self.optimised_ir = llvm_ir
        self._asm: str | None = None

    def address(self, name: str) -> int:
        """The address of exported function ``name`` (a ``KeyError`` names the known exports)."""
        try:
            return self._addresses[name]
        except KeyError:
            raise KeyError(
                f"{name!r} is not exported by JIT library {self.name!r}; exports: {sorted(self._addresses)}"
            ) from None

    @property
    def llvm_ir(self) -> str:
        """The optimised LLVM IR of this library."""
        if self.optimised_ir is None:
            raise ValueError(f"JIT library {self.name!r} was loaded from object code; it has no IR")
        return self.optimised_ir

    @property
    def asm(self) -> str:
        """Host assembly for this library, generated lazily from the optimised IR."""
        if self._asm is None:
            self._asm = assembly(self.llvm_ir)
        return self._asm


def assembly(llvm_ir: str, opt: int = 3) -> str:
    """Host assembly of IR: optimised IR selected at -O3, or a module compiled without optimisation (-O0)."""
    return host_target_machine(opt=opt).emit_assembly(parse_ir(llvm_ir))


class JitEngine:
    """A process-wide ORC LLJIT instance into which we link object code produced by our own O3 pipeline.

    Thread-safe: compilation and linking take a lock; calling the resulting functions does not. ``submit``
    compiles on a background thread: llvmlite runs one LLVM call at a time in a process (a global lock in
    ``llvmlite.binding.ffi``) but releases the GIL, so one LLVM compile overlaps the caller's Python work and
    more compile threads would only queue.
    """

    _counter = itertools.count()

    def __init__(self) -> None:
        _ensure_initialized()
        self._lock = threading.Lock()
        # The TM used to emit objects is ours alone; LLJIT builds its own (it only links objects here).
        self._tm = host_target_machine()
        self._plain_tm = host_target_machine(opt=0)  # for code with nothing to optimise
        self._lljit = llvm.create_lljit_compiler()
        self._dylibs = 0  # libraries linked into it (each keeps ~10 KiB in it even once unloaded)
        self._worker: ThreadPoolExecutor | None = None
        self._pending_lock = threading.Lock()
        self._pending = 0  # compiles submitted and not finished
        self._saved_switch = sys.getswitchinterval()

    def emit(self, ir_text: str, name="module", optimise=True, keep_ir=False, interleave=True):
        """Parse, verify, optimise and compile IR into object code (bytes); with ``keep_ir``, return
        (optimised IR text, object code) instead.

        ``optimise=False`` skips the IR pipeline and selects instructions at -O0: for a big graph's entry, a
        long straight line of calls with nothing to optimise, on which LLVM's -O3 register coalescer is
        quadratic (8,000 calls: 4.5 s against 0.4 s). Each module gets an LLVM context of its own, freed with
        it, so a long-running process does not grow LLVM's global context. ``interleave``: see
        ``optimize_module``.
        """
        dump = _dump_dir()
        stem = _safe_name(name)
        if dump is not None:
            (dump / f"{stem}.ll").write_text(str(ir_text))
        want_ir = keep_ir or dump is not None  # the dump needs the IR; the caller gets what it asked for
        with self._lock:
            context, mod = llvm.create_context(), None
            try:
                mod = llvm.parse_assembly(str(ir_text), context=context)
                mod.verify()
                if optimise:
                    optimize_module(mod, self._tm, interleave)
                opt_ir = (str(mod) if optimise else str(ir_text)) if want_ir else None
                tm = self._tm if optimise else self._plain_tm
                obj = tm.emit_object(mod)
                asm = tm.emit_assembly(mod) if dump is not None else None
            finally:
                if mod is not None:
                    mod.close()  # before its context
                context.close()
        if dump is not None:
            (dump / f"{stem}.opt.ll").write_text(opt_ir)
            (dump / f"{stem}.s").write_text(asm or "")
        return (opt_ir, obj) if keep_ir else obj

    def optimize(self, ir_text: str, name="module", optimise=True, interleave=True) -> tuple[str, bytes]:
        """(optimised IR text, object code) of ``ir_text`` (see ``emit``)."""
        return self.emit(ir_text, name, optimise, keep_ir=True, interleave=interleave)

    def submit(self, work: Callable, *args) -> Future:
        """Run ``work(*args)`` (a compile: ``emit`` and what goes with it) on the background thread.

        While compiles are pending the interpreter's switch interval drops to ``FAST_SWITCH``: each of the
        ~20 llvmlite calls of a compile gives the GIL back and must take it again from a caller busy in
        Python, which by default takes up to 5 ms each (measured: a compile beside a busy caller took 1.8x
        as long at 5 ms, 1.4x at 0.5 ms).
        """
        with self._pending_lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphc-llvm")
            if self._pending == 0:
                self._saved_switch = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved_switch, FAST_SWITCH))
            self._pending += 1
        future = self._worker.submit(work, *args)
        future.add_done_callback(self._compiled)
        return future

    def _compiled(self, _future: Future) -> None:
        with self._pending_lock:
            self._pending -= 1
            if self._pending == 0:
                sys.setswitchinterval(self._saved_switch)
                # The thread ends when idle: a process that forks later has no thread of ours to copy.
                self._worker.shutdown(wait=False)
                self._worker = None

    def _forget_worker(self) -> None:
        """In a forked child the worker thread does not exist: start another on the next submit."""
        self._worker, self._pending_lock = None, threading.Lock()
        if self._pending:
            self._pending = 0
            sys.setswitchinterval(self._saved_switch)

    def compile(self, ir_text: str, exports: Iterable[str], name: str = "module") -> JitLibrary:
        """Compile textual IR at O3 and link it; return a library exposing ``exports``."""
        opt_ir, obj = self.emit(ir_text, name, keep_ir=True)
        return self.add_object(obj, exports, name=name, llvm_ir=opt_ir)

    def add_object(
        self,
        objects: bytes | Iterable[bytes],
        exports: Iterable[str],
        name: str = "module",
        llvm_ir: str | None = None,
    ) -> JitLibrary:
        """Link precompiled object code (one object file or several, e.g. from the cache) and return a
        library exposing ``exports``."""
        exports = list(exports)
        objects = [objects] if isinstance(objects, bytes | bytearray) else list(objects)
        builder = llvm.JITLibraryBuilder()
        for obj in objects:
            builder.add_object_img(bytes(obj))
        builder.add_current_process()
        for sym, addr in _SYMBOLS.items():
            builder.import_symbol(sym, addr)
        for sym in exports:
            builder.export_symbol(sym)
        # A library name can never be reused in one LLJIT, even after unloading: make it unique.
        lib_name = f"{_safe_name(name)}#{next(self._counter)}"
        with self._lock:
            if self._dylibs >= DYLIBS_PER_JIT:  # the last one is freed once the libraries it holds are
                self._lljit, self._dylibs = llvm.create_lljit_compiler(), 0
            lljit = self._lljit
            tracker = builder.link(lljit, lib_name)
            self._dylibs += 1
        code = _Loaded(tracker, lljit)
        addresses = {sym: tracker[sym] for sym in exports}
        missing = [sym for sym, addr in addresses.items() if not addr]
        if missing:
            raise RuntimeError(f"JIT library {lib_name!r} does not define {missing}")
        return JitLibrary(lib_name, code, addresses, llvm_ir)


_default_engine: JitEngine | None = None


def default_engine() -> JitEngine:
    """The process-wide engine (created on first use)."""
    global _default_engine
    if _default_engine is None:
        with _init_lock:
            if _default_engine is None:
                _default_engine = JitEngine()
    return _default_engine


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _default_engine and _default_engine._forget_worker())
