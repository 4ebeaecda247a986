"""How a batch, or a whole data set already on the cluster, is cut into shards. Knows NumPy, graphc.errors and
(for data on the cluster) Dask arrays; nothing of graphs.

- `trainer.step(X, T)`: the batch's rows in `n_shards` contiguous pieces (np.array_split's sizes).
- `trainer.fit(X, T)` with Dask arrays: the rows in `n_shards` contiguous shards (the arrays' own row chunks
  when they already have that many), each persisted once, shard s preferring worker s mod W. An epoch has
  ⌈n / batch_size⌉ steps; step k takes piece k of every shard (each shard's rows, shuffled by `rng` if given,
  in as many near-equal consecutive pieces), so every worker works on every step and each row is used once
  per epoch. The global batch of step k is the concatenation of those pieces, in shard order.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from graphc.errors import InputError
from graphc.origin import here


class Shard(NamedTuple):
    """One gradient task's data: `sources` (arrays here, or futures of arrays on the workers) of which `rows`
    are taken (None: all of them), `count` rows in all, and `label`, which names it in errors."""

    sources: list
    rows: slice | np.ndarray | None
    count: int
    label: str


def batch_shards(arrays: list[np.ndarray], n_shards: int) -> list[Shard]:
    """A batch held here, in n_shards contiguous pieces (empty ones left out)."""
    return [
        Shard(
            [a[lo:hi] for a in arrays],
            None,
            hi - lo,
            f"shard {i} of {n_shards} (rows {lo}:{hi} of the batch)",
        )
        for i, (lo, hi) in enumerate(row_ranges(len(arrays[0]), n_shards))
    ]


def row_ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """np.array_split's pieces of range(n) as (start, stop), empty ones left out."""
    return [(a, b) for a, b in (_piece(n, parts, k) for k in range(parts)) if b > a]


def _piece(n: int, parts: int, k: int) -> tuple[int, int]:
    """Piece k of np.array_split(range(n), parts) as (start, stop), possibly empty."""
    size, extra = divmod(n, parts)
    start = k * size + min(k, extra)
    return start, start + size + (1 if k < extra else 0)


def check_rows(arrays, names: list[str], what: str) -> int:
    """The common number of rows of the arrays (one per input), or an InputError naming the mismatch."""
    if len(arrays) != len(names):
        raise InputError(
            f"{what}: expected {len(names)} arrays ({', '.join(names)}), got {len(arrays)}{here()}"
        )
    rows = [a.shape[0] if a.ndim else None for a in arrays]
    if None in rows or len(set(rows)) != 1 or rows[0] == 0:
        shapes = ", ".join(f"{name} {tuple(a.shape)}" for name, a in zip(names, arrays, strict=True))
        raise InputError(
            f"{what}: the inputs must have the same, non-zero number of rows; got {shapes}{here()}"
        )
    return int(rows[0])


class ShardedData:
    """Dask arrays (one per input) held on the workers as `n_shards` row shards (see the module docstring)."""

    def __init__(self, client, arrays, n_shards: int, names: list[str]):
        import dask.array as da

        if not all(isinstance(a, da.Array) for a in arrays):
            kinds = ", ".join(type(a).__name__ for a in arrays)
            raise InputError(f"DataParallel.fit takes Dask arrays (dask.array), got {kinds}{here()}")
        if any(math.isnan(c) for a in arrays for c in a.chunks[0]):
            raise InputError(
                f"DataParallel.fit: unknown chunk sizes: call .compute_chunk_sizes() first{here()}"
            )
        self.n = check_rows(arrays, names, "DataParallel.fit")
        own = [int(c) for c in arrays[0].chunks[0]]
        ends = np.cumsum(own).tolist()
        self.bounds = (
            list(zip([0, *ends[:-1]], ends, strict=True))
            if len(own) == n_shards
            else row_ranges(self.n, n_shards)
        )
        sizes = tuple(b - a for a, b in self.bounds)
        blocks = [a.rechunk((sizes, *a.shape[1:])).to_delayed().reshape(len(sizes)) for a in arrays]
        workers = sorted(client.scheduler_info()["workers"])
        self.sources = [  # shard s on worker s mod W, or on another once that one is gone
            client.compute(
                [b[s] for b in blocks], workers=workers[s % len(workers)], allow_other_workers=True
            )
            for s in range(len(sizes))
        ]

    def batches(self, batch_size: int, rng: np.random.Generator | None):
        """gc.train's `batches`: per epoch, per step, each shard's (rows, count): a slice, or indices when
        shuffled, and how many (0: the shard sits this step out)."""
        if type(batch_size) is not int or batch_size < 1:
            raise InputError(
                f"DataParallel.fit: batch_size must be a positive int, not {batch_size!r}{here()}"
            )
        steps = math.ceil(self.n / batch_size)

        def batches(epoch: int):
            shuffled = [None if rng is None else rng.permutation(b - a) for a, b in self.bounds]
            for k in range(steps):
                pieces = []
                for (a, b), order in zip(self.bounds, shuffled, strict=True):
                    lo, hi = _piece(b - a, steps, k)
                    pieces.append((slice(lo, hi) if order is None else order[lo:hi], hi - lo))
                yield (pieces,)

        batches.rng = rng  # saved by gc.train's checkpoints
        return batches

    def shards(self, pieces: list[tuple]) -> list[Shard]:
        """One step's shards: the step's piece of each shard of the data (those that have rows)."""
        return [
            Shard(sources, rows, count, f"shard {s} of {len(pieces)} (rows {a}:{b} of the data)")
            for s, ((rows, count), (a, b), sources) in enumerate(
                zip(pieces, self.bounds, self.sources, strict=True)
            )
            if count
        ]

    def release(self) -> None:
        """Let Dask drop the shards."""
        self.sources = []
