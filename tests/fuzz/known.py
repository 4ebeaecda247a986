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


def _slice_larger_than_the_size(program, finding: str) -> bool:
    """By design: x[:-1] of a named size n has n - 1 entries; a call with n = 0 is a ShapeError, not an
    empty result as in NumPy (README, Shapes)."""
    return "the graph was built for larger sizes" in finding


KNOWN = [
    Known(
        "by design: a slice of a named size assumes the size large enough (x[:-1] has n - 1); a smaller "
        "one is a ShapeError at the call",
        _slice_larger_than_the_size,
    ),
]


def known_reason(program: Program | None, finding: str) -> str | None:
    return next((k.reason for k in KNOWN if k.matches(program, finding)), None)
