"""The pass manager: named passes run in order, each reporting what it changed. Knows nothing of codegen."""

from __future__ import annotations

import gc as python_gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graphc.errors import GraphcError
from graphc.fgraph import FunctionGraph

from .canonicalize import canonicalize
from .cse import cse
from .dce import dce
from .fold import constant_fold
from .fusion import fuse_elementwise
from .loops import into_bodies, optimize_loops
from .stabilize import stabilize


@dataclass
class PassReport:
    name: str
    nodes_before: int
    nodes_after: int
    rewrites: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    graph: FunctionGraph | None = field(default=None, repr=False, compare=False)  # the graph after this pass

    def __str__(self) -> str:
        fired = ", ".join(f"{k}×{v}" for k, v in sorted(self.rewrites.items())) or "nothing fired"
        ms = f"{1000 * self.seconds:7.1f} ms"
        return f"{self.name:<14} {self.nodes_before:>6} -> {self.nodes_after:<6} nodes {ms}  {fired}"


Pass = Callable[[FunctionGraph], tuple[FunctionGraph, dict[str, int]]]
"""A pass takes a graph and returns the rewritten graph and {rewrite name: times fired}."""


def fast_pipeline() -> list[tuple[str, Pass]]:
    """The default pipeline, in order. Each pass is one linear walk over the graph."""
    return [
        ("canonicalize", canonicalize),  # x+0, x*1, --x, transpose(transpose), x**2 -> x*x, (x*2)*3 -> x*6
        ("constant_fold", constant_fold),  # constant subexpressions -> constants (bounded size)
        ("stabilize", stabilize),  # log(softmax) -> log_softmax, log(1+x) -> log1p, exp(x)-1 -> expm1, ...
        ("cse", cse),  # merge structurally equal nodes (the backward graph reuses forward values)
        ("loops", optimize_loops),  # scans: prune unread outputs, hoist invariant work, lift x[t] @ W out
        ("fusion", fuse_elementwise),  # maximal elementwise regions (+ a trailing reduction) -> FUSED kernels
        ("dce", dce),  # no-op updates, unread kernel outputs
    ]


def run_pipeline(fgraph: FunctionGraph, optimize: str | Sequence) -> tuple[FunctionGraph, list[PassReport]]:
    if optimize == "none":
        return fgraph, []
    if optimize == "fast":
        passes = fast_pipeline()
    elif isinstance(optimize, str):
        raise GraphcError(f"unknown optimize level {optimize!r}; use 'fast', 'none' or a list of passes")
    else:
        known = dict(fast_pipeline())
        passes = []
        for p in optimize:  # a pass function, a (name, pass) pair, or the name of a pass of the fast pipeline
            if isinstance(p, str):
                if p not in known:
                    raise GraphcError(f"unknown pass {p!r}; the passes are {', '.join(known)}")
                p = (p, known[p])
            passes.append((getattr(p, "__name__", str(p)), p) if callable(p) else tuple(p))
    reports = []
    # Passes make many small objects and free few; Python's cyclic GC would rescan the whole (large, live)
    # graph again and again, which more than doubles the time on big graphs. Collect once, afterwards.
    collecting = python_gc.isenabled()
    python_gc.disable()
    try:
        for name, run in passes:
            before = len(fgraph.nodes)
            start = time.perf_counter()
            fgraph, fired = run(fgraph) if getattr(run, "own_bodies", False) else into_bodies(run, fgraph)
            after = len(fgraph.nodes)  # the toposort is part of the pass's cost
            seconds = time.perf_counter() - start
            reports.append(PassReport(name, before, after, dict(fired), seconds, fgraph))
    finally:
        if collecting:
            python_gc.enable()
    return fgraph, reports
