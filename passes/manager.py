"""The pass manager: named passes run in order, each reporting what it changed. Knows nothing of codegen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph


@dataclass
class PassReport:
    name: str
    nodes_before: int
    nodes_after: int
    rewrites: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        fired = ", ".join(f"{k}×{v}" for k, v in sorted(self.rewrites.items())) or "nothing fired"
        return f"{self.name:<14} {self.nodes_before:>6} -> {self.nodes_after:<6} nodes  {fired}"


Pass = Callable[[FunctionGraph], tuple[FunctionGraph, dict[str, int]]]
"""A pass takes a graph and returns the rewritten graph and {rewrite name: times fired}."""


def fast_pipeline() -> list[tuple[str, Pass]]:
    """The default pipeline, in order (filled in as passes land)."""
    return []


def run_pipeline(fgraph: FunctionGraph, optimize: str | Sequence) -> tuple[FunctionGraph, list[PassReport]]:
    if optimize == "none":
        return fgraph, []
    if optimize == "fast":
        passes = fast_pipeline()
    elif isinstance(optimize, str):
        raise GraphcError(f"unknown optimize level {optimize!r}; use 'fast', 'none' or a list of passes")
    else:
        passes = [(getattr(p, "__name__", str(p)), p) if callable(p) else p for p in optimize]
    reports = []
    for name, run in passes:
        before = len(fgraph.nodes)
        fgraph, fired = run(fgraph)
        reports.append(PassReport(name, before, len(fgraph.nodes), dict(fired)))
    return fgraph, reports
