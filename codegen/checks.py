"""Checks on the data, made during a call: the specs every backend raises the same error from. Owns
RUNTIME_CHECKS; knows the graph IR, no backend.
(Over 300 lines: every data check, what it reads, its verify and its error, in the one table backends use.)

A check names what it guards (the node, which of its arguments, the bound) and builds the error from what a
backend found (the bad value and where: the flat C-order position in that argument). The interp and numpy
backends run ``check.verify(*arrays)`` in Python before the node, on the arguments ``check.reads`` names (on
an instruction's arguments inside a fused kernel: ``kernel_checks``); the llvm backend's rule tests each value
where it reads it (``ctx.fail_if`` in the entry, ``s.fail_if`` in a loop kernel) and the native entry reports
the same numbers back. Adding a check to an op is a row here and, in its llvm rule, one ``fail_if``.
`NumericsCheck` (gc.function's check_numerics) is checked after a node, on its outputs: in Python by
``verify``, in native code by ``codegen.llvm.numerics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.errors import DomainError, IndexOutOfRange, NumericsError, ShapeError, where_built
from graphc.graph import Node
from graphc.ops import Op, describe
from graphc.types import concrete_dim


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
        shown = "?" if value is None else value
        return IndexOutOfRange(
            f"{self.node.op.value}: {self.what} {shown}{_at(position, var)} of {describe(var)} is out of "
            f"range for {self.measures} {bound}: {self.what}s must be in [0, {bound}); nothing was updated"
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


def _at(position, var) -> str:
    """' at index 3 (C order)': where in ``var`` the bad value is (nothing if native code could not say)."""
    if position is None or var.type.ndim == 0:
        return ""
    return f" at index {position}{' (C order)' if var.type.ndim > 1 else ''}"


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


@dataclass(frozen=True, eq=False)
class NegativePower:
    """x ** y on integers: every exponent must be >= 0 (NumPy refuses the call; wrapping to 0 would be a
    silent wrong answer). Checked where an element is computed: not when the result is empty."""

    node: Node
    arg: int = 1
    bound: int = 0
    reads: tuple[int, ...] = (0, 1)  # both: whether any element is computed depends on the base's shape too
    rule: str = ">= 0"

    def error(self, value, bound, position) -> DomainError:
        base, exponent = self.node.inputs
        shown = "a negative value" if value is None else value
        return DomainError(
            f"pow: {describe(base)} ** {describe(exponent)}: integers to negative integer powers are not "
            f"allowed, and the exponent is {shown}{_at(position, exponent)}; nothing was updated"
            f"{where_built(self.node.origin)}",
            value=value,
            bound=0,
            position=position,
            name=exponent.name,
        )

    def verify(self, base: np.ndarray, exponent: np.ndarray) -> None:
        if not _computes_any((base, exponent)):
            return
        exponent = np.asarray(exponent)
        if exponent.size and exponent.min() < 0:
            flat = exponent.ravel()
            position = int(np.flatnonzero(flat < 0)[0])
            raise self.error(int(flat[position]), 0, position)


def _computes_any(args) -> bool:
    """An elementwise op computes at least one element: its arguments broadcast to a non-empty shape."""
    return all(np.shape(a) == () for a in args) or bool(np.prod(np.broadcast_shapes(*map(np.shape, args))))


def integer_power(node: Node) -> tuple:
    """Integer powers check their exponent (the llvm rule skips the test for a constant it can see)."""
    return (NegativePower(node),) if node.outputs[0].type.dtype.kind in "iu" else ()


@dataclass(frozen=True, eq=False)
class ZeroDivisor:
    """x // y and x % y on integers: every divisor must be nonzero (NumPy gives 0 with a warning: a silent
    wrong answer). Checked where an element is computed: not when the result is empty."""

    node: Node
    arg: int = 1
    bound: int = 0
    reads: tuple[int, ...] = (0, 1)  # both: whether any element is computed depends on both shapes
    rule: str = "!= 0"

    def error(self, value, bound, position) -> DomainError:
        x, y = self.node.inputs
        return DomainError(
            f"{self.node.op.value}: {describe(x)} by {describe(y)}: integer division by zero (the divisor "
            f"is 0{_at(position, y)}); nothing was updated{where_built(self.node.origin)}",
            value=0,
            bound=0,
            position=position,
            name=y.name,
        )

    def verify(self, x: np.ndarray, y: np.ndarray) -> None:
        if not _computes_any((x, y)):
            return
        divisor = np.asarray(y)
        if divisor.size and not divisor.all():
            raise self.error(0, 0, int(np.flatnonzero(divisor.ravel() == 0)[0]))


def integer_division(node: Node) -> tuple:
    """Integer // and % check their divisor (a constant one too: LLVM folds a test of a nonzero constant)."""
    return (ZeroDivisor(node),) if node.outputs[0].type.dtype.kind in "iu" else ()


Check = RangeCheck | IndexCheck | NegativePower | ZeroDivisor

RUNTIME_CHECKS: dict[Op, Callable[[Node], tuple[Check, ...]]] = {
    Op.ONE_HOT: lambda node: (one_hot_labels(node),),
    Op.POW: integer_power,
    Op.FLOOR_DIV: integer_division,
    Op.MOD: integer_division,
    **{
        op: lambda node: (indices(node),)
        for op in (Op.GATHER, Op.SCATTER_ADD, Op.GATHER_ALONG, Op.SCATTER_ADD_ALONG)
    },  # fmt: skip
}
"""RUNTIME_CHECKS[op](node) -> the checks on node's arguments made at every call; ops without a row need none.
A check has ``arg`` (the argument whose values it checks), ``reads`` (the arguments ``verify`` takes),
``verify(*arrays)`` and ``error(value, bound, position)``."""


MAX_BYTES = 2**63 - 1
"""NumPy's limit on an array: its sizes other than 0, multiplied, times its item size (so its strides stay in
range even when it is empty). Beyond it every backend raises `too_big`, never a wrapped size."""


def too_big(var, shape=None) -> ShapeError:
    """NumPy's 'array is too big' as a ShapeError naming the value (``shape``: its sizes, when known)."""
    origin = var.owner.origin if var.owner is not None else None
    sizes = "" if shape is None else f" of shape {tuple(shape)}"
    return ShapeError(
        f"array is too big: {describe(var)}{sizes} would need more than 2**63 - 1 bytes (the product of its "
        f"sizes other than 0, times {var.type.dtype.itemsize} bytes per element); nothing was updated"
        f"{where_built(origin)}"
    )


def first_too_big(variables, sizes: dict) -> ShapeError | None:
    """The error for the first of ``variables`` too big for these sizes (after NumPy refused one), or None."""
    for var in variables:
        shape = [concrete_dim(d, sizes) for d in var.type.shape]
        nbytes = var.type.dtype.itemsize
        for d in shape:
            nbytes *= max(d, 1)
        if nbytes > MAX_BYTES:
            return too_big(var, shape)
    return None


def checks_of(node: Node) -> tuple[Check, ...]:
    """The checks of one node (a fused node's are inside its kernel: ``kernel_checks``)."""
    rows = RUNTIME_CHECKS.get(node.op)
    return rows(node) if rows is not None else ()


def kernel_checks(kernel) -> list[tuple]:
    """Per instruction of a fused kernel (graphc.kernel.Kernel), the checks of the node it was fused from."""
    return [checks_of(ins.node) if ins.node is not None else () for ins in kernel.instrs]


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
    "INF",
    "MAX_BYTES",
    "NAN",
    "RUNTIME_CHECKS",
    "IndexCheck",
    "NegativePower",
    "NumericsCheck",
    "RangeCheck",
    "ZeroDivisor",
    "checks_of",
    "first_too_big",
    "indices",
    "integer_division",
    "integer_power",
    "kernel_checks",
    "one_hot_labels",
    "too_big",
]
