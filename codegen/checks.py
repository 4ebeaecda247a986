"""Checks on the data, made during a call: the specs every backend raises the same error from. Owns
RUNTIME_CHECKS; knows the graph IR, no backend.

A check names what it guards (the node, which input, the bound) and builds the error from what a backend
found (the bad value and where). The interp and numpy backends run ``check.verify(*arrays)`` in Python
before the node, on the inputs ``check.reads`` names; the llvm backend's rule tests each value where it reads
it, with ``ctx.fail_if(bad, check, value, position)``, and the native entry reports the same numbers back.
Adding a check to an op is a row here and, in its llvm rule, one ``fail_if``. `NumericsCheck` (gc.function's
check_numerics) is checked after a node, on its outputs: in Python by ``verify``, in native code by
``codegen.llvm.numerics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.errors import IndexOutOfRange, NumericsError, where_built
from graphc.graph import Node
from graphc.ops import Op, describe


@dataclass(frozen=True, eq=False)
class RangeCheck:
    """Every value of input ``arg`` of ``node`` must lie in [0, bound): a one_hot label."""

    node: Node
    arg: int
    bound: int
    what: str = "index"  # how the message names one value
    measures: str = "axis 0"  # what the bound is the size of

    @property
    def reads(self) -> tuple[int, ...]:
        """The inputs ``verify`` takes, by position."""
        return (self.arg,)

    @property
    def rule(self) -> str:
        return f"in [0, {self.bound})"

    def error(self, value, bound, position) -> IndexOutOfRange:
        """The error for the first bad value found: ``value`` at flat (C-order) ``position``."""
        var = self.node.inputs[self.arg]
        bound = self.bound if bound is None else bound
        order = " (C order)" if var.type.ndim > 1 else ""
        where = "" if position is None else f" at index {position}{order}"
        shown = "?" if value is None else value
        return IndexOutOfRange(
            f"{self.node.op.value}: {self.what} {shown}{where} of {describe(var)} is out of range for "
            f"{self.measures} {bound}: {self.what}s must be in [0, {bound}); nothing was updated"
            f"{where_built(self.node.origin)}",
            value=value,
            bound=bound,
            position=position,
            name=var.name,
        )

    def verify(self, values: np.ndarray) -> None:
        """Raise the error for the first value outside [0, bound), in C order (what native code finds)."""
        values = np.asarray(values)
        # viewed as unsigned, a negative value is huge: one reduction finds both kinds of bad value
        if values.size and values.view(_UNSIGNED[values.dtype.itemsize]).max() >= self.bound:
            flat = values.ravel()
            position = int(np.flatnonzero((flat < 0) | (flat >= self.bound))[0])
            raise self.error(int(flat[position]), self.bound, position)


_UNSIGNED = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


@dataclass(frozen=True, eq=False)
class IndexCheck:
    """Every value of input ``arg`` of ``node`` indexes axis ``axis`` of input ``source``: it must lie in
    [-size, size), the size read at call time (negative indices wrap, as in NumPy)."""

    node: Node
    arg: int
    source: int
    axis: int

    @property
    def reads(self) -> tuple[int, ...]:
        return (self.arg, self.source)

    @property
    def bound(self):
        """The axis's size where it is static (the llvm rule gives the run-time size otherwise)."""
        return self.node.inputs[self.source].type.shape[self.axis]

    @property
    def rule(self) -> str:
        return f"in [-size, size) for axis {self.axis} of input {self.source}"

    def error(self, value, bound, position) -> IndexOutOfRange:
        var, source = self.node.inputs[self.arg], self.node.inputs[self.source]
        order = " (C order)" if var.type.ndim > 1 else ""
        where = "" if position is None or var.type.ndim == 0 else f" at position {position}{order}"
        return IndexOutOfRange(
            f"{self.node.op.value}: index {value}{where} of {describe(var)} is out of range for axis "
            f"{self.axis} of {describe(source)}, of size {bound}: indices must be in [{-bound}, {bound}); "
            f"nothing was updated{where_built(self.node.origin)}",
            value=value,
            bound=bound,
            position=position,
            name=var.name,
        )

    def verify(self, values: np.ndarray, source: np.ndarray) -> None:
        """Raise the error for the first index outside [-size, size), in C order."""
        values, size = np.asarray(values), np.shape(source)[self.axis]
        if values.size and (values.min() < -size or values.max() >= size):
            flat = values.ravel()
            position = int(np.flatnonzero((flat < -size) | (flat >= size))[0])
            raise self.error(int(flat[position]), size, position)


def one_hot_labels(node: Node) -> RangeCheck:
    """one_hot(labels, depth): a label outside [0, depth) would silently give a zero row (and zero loss)."""
    return RangeCheck(node, 0, node.params["depth"], what="label", measures="depth")


def indices(node: Node) -> IndexCheck:
    """A gather's or scatter-add's indices (input 1) index its first input along the node's axis."""
    return IndexCheck(node, 1, 0, node.params["axis"])


RUNTIME_CHECKS: dict[Op, Callable[[Node], tuple[RangeCheck | IndexCheck, ...]]] = {
    Op.ONE_HOT: lambda node: (one_hot_labels(node),),
    **{
        op: lambda node: (indices(node),)
        for op in (Op.GATHER, Op.SCATTER_ADD, Op.GATHER_ALONG, Op.SCATTER_ADD_ALONG)
    },  # fmt: skip
}
"""RUNTIME_CHECKS[op](node) -> the checks on node's inputs made at every call; ops without a row need none."""


def checks_of(node: Node) -> tuple[RangeCheck | IndexCheck, ...]:
    rows = RUNTIME_CHECKS.get(node.op)
    return rows(node) if rows is not None else ()


# --- check_numerics: the first node that makes a NaN or an infinity -----------------------------------------
NAN, INF = 1, 2  # the kinds of non-finite value, as bits (native code reports them so)


@dataclass(frozen=True, eq=False)
class NumericsCheck:
    """`node`'s float outputs may hold a NaN or an infinity only where one of its inputs does too
    (gc.function's check_numerics). Python backends call ``verify(output, inputs)`` after the node; the llvm
    backend scans each output and reports the new kinds (bits NAN, INF) and the first position."""

    node: Node
    bound: int = 0  # (the failure record's field; unused here)

    def error(self, kinds: int, bound=None, position=None, inputs=None) -> NumericsError:
        """The error for `kinds` new at flat `position`; `inputs` (their arrays), when known, give ranges."""
        kind = " and ".join(name for bit, name in ((NAN, "NaN"), (INF, "inf")) if kinds & bit)
        made = {NAN: "a NaN", INF: "an infinity"}.get(kinds, "NaNs and infinities")
        where = "" if position is None else f" (first at index {position} of its output)"
        if inputs is None:
            given = ", ".join(describe(v) for v in self.node.inputs)
        else:
            given = ", ".join(_with_range(v, a) for v, a in zip(self.node.inputs, inputs, strict=True))
        return NumericsError(
            f"{self.node.op.value} made {made}{where} from inputs without: {given}; nothing was updated"
            f"{where_built(self.node.origin)}",
            op=self.node.op.value,
            kinds=kind,
        )

    def verify(self, output, inputs) -> None:
        """Raise the error if `output` has a kind of non-finite value none of `inputs` has."""
        output = np.asarray(output)
        if output.dtype.kind != "f" or np.isfinite(output).all():  # the common case: one pass
            return
        had = 0
        for a in inputs:
            had |= _kinds(np.asarray(a))
        new = _kinds(output) & ~had
        if new:
            bad = (np.isnan(output) if new & NAN else False) | (np.isinf(output) if new & INF else False)
            raise self.error(new, position=int(np.flatnonzero(bad.ravel())[0]), inputs=inputs)


def _kinds(a: np.ndarray) -> int:
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return 0
    return (NAN if np.isnan(a).any() else 0) | (INF if np.isinf(a).any() else 0)


def _with_range(var, value) -> str:
    a = np.asarray(value)
    if a.size == 0:
        return f"{describe(var)} (empty)"
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    span = f"[{finite.min():.6g}, {finite.max():.6g}]" if finite.size else "no finite value"
    extra = [name for bit, name in ((NAN, "NaN"), (INF, "inf")) if _kinds(a) & bit]
    return f"{describe(var)} in {span}" + (f" and {' and '.join(extra)}" if extra else "")


__all__ = [
    "RUNTIME_CHECKS", "IndexCheck", "RangeCheck", "NumericsCheck", "checks_of", "indices", "one_hot_labels",
    "NAN", "INF",
]  # fmt: skip
