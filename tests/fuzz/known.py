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


def _llvm_huge_trig(program, finding: str) -> bool:
    """NaN from llvm's sin/cos where an input holds a huge finite value (the edge values' max / 2)."""
    trig = program is not None and any(step[0] in ("sin", "cos") for step in program.steps)
    return (
        trig
        and finding.startswith("llvm")
        and "got np.float64(nan)" in finding
        or "got np.float32(nan)" in finding
    )


def _slice_larger_than_the_size(program, finding: str) -> bool:
    """By design: x[:-1] of a named size n has n - 1 entries; a call with n = 0 is a ShapeError, not an
    empty result as in NumPy (README, Shapes)."""
    return "the graph was built for larger sizes" in finding


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
    Known(
        "llvm: sin and cos are NaN for |x| >= about 1e15 (float64 and float32; NumPy's are finite): the "
        "vectorised range reduction (issue 17, LLVM part)",
        _llvm_huge_trig,
    ),
    Known(
        "by design: a slice of a named size assumes the size large enough (x[:-1] has n - 1); a smaller "
        "one is a ShapeError at the call",
        _slice_larger_than_the_size,
    ),
]


def known_reason(program: Program | None, finding: str) -> str | None:
    return next((k.reason for k in KNOWN if k.matches(program, finding)), None)
