"""Findings the fuzzer knows about, each with the issue that owns it: a run reports them apart, and the CI run
fails only on the others. Each entry matches a finding's text (and may look at the program)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .programs import Program


@dataclass(frozen=True)
class Known:
    reason: str
    matches: Callable[[Program | None, str], bool]


def _negative_integer_power(program, finding: str) -> bool:
    return "negative integer powers" in finding


def _llvm_relocation(program, finding: str) -> bool:
    return "RuntimeDyld" in finding


KNOWN = [
    Known(
        "an integer to a negative integer power: NumPy's ValueError on interp/numpy, 0 on llvm "
        "(one GraphcError everywhere: issue 17, LLVM part)",
        _negative_integer_power,
    ),
    Known(
        "llvm JIT: RuntimeDyld's x86-64 relocation assertion after many compiles in one process "
        "(issue 17, LLVM part)",
        _llvm_relocation,
    ),
]


def known_reason(program: Program | None, finding: str) -> str | None:
    return next((k.reason for k in KNOWN if k.matches(program, finding)), None)
