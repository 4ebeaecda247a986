"""How native code refuses to start or stops: checks before any work, checks during it (``fail_if``), and
the status the entry returns. Knows IR blocks and error specs, not ops or graphs.

The entry returns an i64 status:

- 0: done;  1: the arena could not be allocated;
- -(1 + k): check k failed before any work (nothing was allocated or written);
- any other value is the address of a malloc'd record ``{i64 check, value, bound, position}`` (check k
  failed during the work, on that value). The arena is freed first; Python reads the record, frees it and
  raises ``specs[check].error(value, bound, position)``. Should malloc fail here too, the status is -(1 + k).

Each check is a spec with ``error(value, bound, position) -> Exception``: a `Refusal` (a fixed message) or a
`graphc.codegen.checks.RangeCheck`.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .scalar import F64, I8, I64
from .views import const

I8P = I8.as_pointer()
RECORD = ir.ArrayType(I64, 4)  # check, value, bound, position


@dataclass(frozen=True)
class Refusal:
    """A check made before any work: ``exc(message)``."""

    exc: type
    message: str

    def error(self, value=None, bound=None, position=None) -> Exception:
        return self.exc(self.message)


class Failures:
    """The check blocks of one entry function, and its one exit for failures during the work."""

    def __init__(self, fn: ir.Function, entry: ir.IRBuilder, first_check: ir.Block, arena_slot: ir.Value):
        self.fn = fn
        self.specs: list = []
        self.check_builder = ir.IRBuilder(first_check)
        self._arena_slot = arena_slot
        self._record = entry.alloca(RECORD, name="failure")
        self._failed: ir.Block | None = None

    def refuse_unless(self, condition, spec) -> None:
        """Before any work: ``condition(builder)`` (an i1, true = fine), else status -(1 + k)."""
        code = self._register(spec)
        cb = self.check_builder
        ok = condition(cb)
        nxt, stop = self.fn.append_basic_block("check"), self.fn.append_basic_block("refuse")
        cb.cbranch(ok, nxt, stop)
        ir.IRBuilder(stop).ret(ir.Constant(I64, -(1 + code)))
        cb.position_at_end(nxt)

    def fail_if(self, b: ir.IRBuilder, bad: ir.Value, spec, value, bound, position) -> None:
        """During the work: where ``bad`` (an i1) holds, record (value, bound, position) and leave."""
        code = self._register(spec)
        stop, cont = self.fn.append_basic_block("fail"), self.fn.append_basic_block("ok")
        b.cbranch(bad, stop, cont)
        fb = ir.IRBuilder(stop)
        for k, field in enumerate((const(code), value, bound, position)):
            fb.store(as_i64(fb, field), fb.gep(self._record, [ir.Constant(ir.IntType(32), 0), const(k)]))
        fb.branch(self._exit())
        b.position_at_end(cont)

    def _register(self, spec) -> int:
        self.specs.append(spec)
        return len(self.specs) - 1

    def _exit(self) -> ir.Block:
        """The shared exit: free the arena, copy the record to the heap, return its address."""
        if self._failed is None:
            self._failed = self.fn.append_basic_block("failed")
            module = self.fn.module
            b = ir.IRBuilder(self._failed)
            b.call(libc(module, "free"), [b.load(self._arena_slot)])
            heap = b.call(libc(module, "malloc"), [const(RECORD.count * 8)])
            fields = b.load(self._record)
            # (no branch weights: their metadata would not move with a split-off entry)
            with b.if_then(b.icmp_unsigned("==", heap, ir.Constant(I8P, None))):
                b.ret(b.sub(const(-1), b.extract_value(fields, 0)))
            b.store(fields, b.bitcast(heap, RECORD.as_pointer()))
            b.ret(b.ptrtoint(heap, I64))  # an address handed to Python, not arithmetic on one
        return self._failed


def as_i64(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """A value for a failure record: ints widened (i1 as 0/1), floats as their float64 bits."""
    if isinstance(value.type, ir.FloatType):
        value = b.fpext(value, F64)
    if isinstance(value.type, ir.DoubleType):
        return b.bitcast(value, I64)
    if value.type == I64:
        return value
    return b.zext(value, I64) if value.type.width == 1 else b.sext(value, I64)


def libc(module: ir.Module, name: str) -> ir.Function:
    if name in module.globals:
        return module.globals[name]
    if name == "malloc":
        return ir.Function(module, ir.FunctionType(I8P, [I64]), "malloc")
    return ir.Function(module, ir.FunctionType(ir.VoidType(), [I8P]), "free")


__all__ = ["Failures", "Refusal", "as_i64", "libc"]
