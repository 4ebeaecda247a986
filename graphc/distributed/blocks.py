"""Batched evaluation on Dask: a compiled function over the row blocks of Dask arrays (map_blocks). User
layer; the function travels to the workers as a graphc file and is compiled once per worker process.
"""

from __future__ import annotations

import numpy as np

from graphc.dims import Size
from graphc.errors import InputError
from graphc.origin import here
from graphc.types import shape_str

from .worker import Compiled, run_block


def map_blocks(f, *arrays):
    """A lazy Dask array: `f` (a compiled gc.function with one output) on each row block of `arrays`
    (Dask arrays, one per input of f, cut into the same row blocks). f's output must have the inputs' row
    count first (e.g. predictions of shape (n, 10)); the other axes of each input are kept in one block.
    Nothing runs until the result is computed (`.compute()`, `.to_zarr(...)`), a block at a time, so data
    larger than memory can be evaluated; on a distributed.Client's cluster each worker compiles f once.

        >>> import numpy as np, dask.array as da, graphc as gc
        >>> x = gc.matrix("x", ("n", 3))
        >>> double = gc.function([x], 2 * x)
        >>> gc.distributed.map_blocks(double, da.ones((10, 3), chunks=(4, 3))).sum().compute()
        np.float64(60.0)
    """
    import dask.array as da

    graph = getattr(f, "fgraph", None)
    if graph is None or len(graph.outputs) != 1 or graph.updates:
        raise InputError(
            f"map_blocks takes a compiled gc.function with one output and no updates, got {f!r:.80}{here()}"
        )
    if len(arrays) != len(graph.inputs) or not all(isinstance(a, da.Array) for a in arrays):
        names = ", ".join(v.name or "?" for v in graph.inputs)
        raise InputError(
            f"map_blocks: {f!r:.60} takes {len(graph.inputs)} Dask arrays ({names}), got "
            f"{', '.join(type(a).__name__ for a in arrays) or 'none'}{here()}"
        )
    out = graph.outputs[0].type
    rows = graph.inputs[0].type.shape[0] if graph.inputs[0].type.ndim else None
    if not out.ndim or out.shape[0] != rows or not isinstance(rows, Size):
        raise InputError(
            f"map_blocks: the output ({shape_str(out.shape)}) must have the rows of "
            f"{graph.inputs[0].name or 'the first input'} first (reduce the blocks' results after){here()}"
        )
    if any(not isinstance(d, int) for d in out.shape[1:]):
        raise InputError(
            f"map_blocks: the output's other axes must be fixed sizes, not {shape_str(out.shape)}{here()}"
        )
    # blockwise: each input's rows on the index "i" (chunks: the first input's), its other axes (one block
    # each) on letters of their own; last, each block's number and first row, for errors
    row_chunks = arrays[0].chunks[0]
    letters = iter("abcdefghjklmopqrstuvxyz")
    args: list = []
    for a in arrays:
        args += [a.rechunk((row_chunks, *a.shape[1:])), "i" + "".join(next(letters) for _ in a.shape[1:])]
    starts = np.cumsum((0, *row_chunks[:-1]))
    where = da.from_array(np.stack([np.arange(len(row_chunks)), starts], axis=1), chunks=(1, 2))
    new_axes = {next(letters): size for size in out.shape[1:]}
    meta = np.empty((0,) * out.ndim, out.dtype.name)
    return da.blockwise(
        _block, "i" + "".join(new_axes), Compiled(f), None, *args, where, "iw", new_axes=new_axes,
        align_arrays=False, concatenate=True, dtype=out.dtype.name, meta=meta,
    )  # fmt: skip


def _block(handle: Compiled, *blocks_where):
    """run_block on the blocks, with the block's number and rows (`where`, last: [[k, first row]]) as the
    error label."""
    *blocks, where = blocks_where
    k, start = (int(v) for v in where[0])
    return run_block(handle, f"block {k} (rows {start}:{start + len(blocks[0])})", *blocks)
