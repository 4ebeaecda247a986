"""Small inputs and helpers the pass tests share (tests/test_canonicalize.py, test_stabilize.py,
test_passes.py)."""

from __future__ import annotations

from collections import Counter

import graphc as gc
from graphc.ops import Op


def fired_in(f) -> Counter:
    total: Counter = Counter()
    for r in f.reports:
        total.update(r.rewrites)
    return total


def ops_of(fgraph) -> list[Op]:
    return [n.op for n in fgraph.nodes]


X = gc.tensor("x", ("n", 3))
V = gc.tensor("v", (3,))
IX = gc.tensor("i", ("n", 3), dtype="int64")
F32 = gc.tensor("f", ("n", 3), dtype="float32")
W = gc.tensor("w", (3, 4))


def arrays_for(inputs, rng):
    out = []
    for v in inputs:
        shape = tuple(2 if not isinstance(d, int) else d for d in v.type.shape)
        if v.type.dtype.kind == "i":
            out.append(rng.integers(-5, 6, size=shape).astype(v.type.dtype))
        else:  # positive: every case stays inside the domain of log and sqrt
            out.append(rng.uniform(0.5, 2.0, size=shape).astype(v.type.dtype))
    return out
