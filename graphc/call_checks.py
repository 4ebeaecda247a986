"""What a compiled function checks at each call, before any work (user layer; graphc.compile uses it): each
argument against its input's type (converting what converts safely), the sizes the inputs bind (what the
graph assumed about them: graphc.sizes); and the ownership of the results it hands out.
"""

from __future__ import annotations

import numpy as np

from .dims import Size, substitute
from .errors import DTypeError, InputError, ShapeError
from .graph import Variable
from .sizes import SizeCheck
from .types import shape_str


def fast_checker(checks: list[InputCheck], equal: list[SizeCheck]):
    """One generated function that accepts the common case in a single expression (~0.1 µs per input):
    C-contiguous ndarrays of the exact dtype, rank and sizes, with the sizes in `equal` equal. It returns the
    bound sizes, or None to send the call through the detailed checks, which convert what they safely can and
    explain the rest."""
    env: dict = {"ndarray": np.ndarray}
    conds, first_seen, binds = [], {}, []
    params = [f"a{i}" for i in range(len(checks))]
    for i, check in enumerate(checks):
        env[f"DT{i}"] = check.dtype
        conds.append(f"type(a{i}) is ndarray and a{i}.dtype is DT{i} and a{i}.ndim == {check.ndim}")
        conds.append(f"a{i}.flags.c_contiguous")
        if check.derived:
            return lambda *args: None
        for axis, want in check.fixed:
            conds.append(f"a{i}.shape[{axis}] == {want}")
        for axis, sym in check.named:
            here = f"a{i}.shape[{axis}]"
            if sym in first_seen:
                conds.append(f"{here} == {first_seen[sym]}")
            else:
                first_seen[sym] = here
                env[f"S{len(binds)}"] = sym
                binds.append(f"S{len(binds)}: {here}")
    for check in equal:  # a size no input gives makes the call take the detailed checks (which explain it)
        sides = [str(d) if isinstance(d, int) else first_seen.get(d, "None") for d in (check.a, check.b)]
        conds.append(" == ".join(sides))
    body = " and ".join(conds) or "True"
    src = f"def fast_check({', '.join(params)}):\n    if {body}:\n        return {{{', '.join(binds)}}}\n"
    exec(compile(src, "<graphc input check>", "exec"), env)  # noqa: S102 - generated from our own types
    return env["fast_check"]


def owned(value, arrays, shared_values, taken: list) -> np.ndarray:
    """A result the caller may keep and mutate: never a view of an input, a shared value, a constant or
    another result (the same variable as two outputs, or as an output and an update, gives two arrays)."""
    value = np.asarray(value)
    if not value.flags.owndata or not value.flags.writeable or any(value is a for a in arrays):
        value = value.copy()
    elif any(value is s for s in shared_values) or any(value is t for t in taken):
        value = value.copy()
    taken.append(value)
    return value


class InputCheck:
    """Converts one argument and checks it against its input's type, binding symbolic sizes."""

    def __init__(self, var: Variable, position: int):
        self.var = var
        self.name = var.name or f"input {position}"
        self.dtype = var.type.dtype
        self.shape = var.type.shape
        self.ndim = var.type.ndim
        self.fixed = [(axis, d) for axis, d in enumerate(self.shape) if isinstance(d, int)]
        self.named = [(axis, d) for axis, d in enumerate(self.shape) if isinstance(d, Size)]
        self.derived = [(axis, d) for axis, d in enumerate(self.shape) if not isinstance(d, int | Size)]

    def __call__(self, arg, sizes: dict) -> np.ndarray:
        """Converts what can be converted safely and says exactly what is wrong otherwise."""
        if isinstance(arg, np.ndarray):
            if arg.dtype != self.dtype:
                if not np.can_cast(arg.dtype, self.dtype, casting="safe"):
                    raise DTypeError(
                        f"{self.name}: expected {self.dtype.name}, got {arg.dtype.name}; converting would "
                        f"lose precision (use arr.astype({self.dtype.name!r}))"
                    )
                arg = arg.astype(self.dtype)
        else:
            try:
                raw = np.asarray(arg)
            except Exception as exc:
                raise InputError(f"{self.name}: cannot convert {type(arg).__name__} to an array") from exc
            if raw.dtype.kind not in "biuf" or not np.can_cast(raw.dtype, self.dtype, casting="same_kind"):
                raise DTypeError(f"{self.name}: expected {self.dtype.name}, got {raw.dtype.name} values")
            if raw.dtype.kind in "iu" and self.dtype.kind in "iu" and raw.size:  # Python ints: no silent wrap
                info = np.iinfo(self.dtype)
                low, high = raw.min(), raw.max()
                if low < info.min or high > info.max:
                    bad = low if low < info.min else high
                    raise DTypeError(f"{self.name}: the value {bad} does not fit in {self.dtype.name}")
            arg = raw.astype(self.dtype)
        # Backends may assume C-contiguous, aligned, native-endian data (native code indexes it directly).
        arg = np.require(arg, requirements=("C", "A"))
        if arg.ndim != self.ndim:
            raise ShapeError(
                f"{self.name}: expected {self.ndim} dimensions with shape {shape_str(self.shape)}, got shape "
                f"{arg.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.shape, arg.shape, strict=True)):
            if isinstance(want, int):
                if want != got:
                    raise ShapeError(
                        f"{self.name}: expected shape {shape_str(self.shape)}, got {arg.shape} "
                        f"(dimension {axis} is {got}, not {want})"
                    )
            elif isinstance(want, Size):
                bound = sizes.setdefault(want, got)
                if bound != got:
                    raise ShapeError(
                        f"{self.name}: dimension {axis} is '{want}' = {got}, but '{want}' = {bound} from an "
                        "earlier input"
                    )
            else:
                value = substitute(want, sizes)
                if isinstance(value, int) and value != got:
                    raise ShapeError(f"{self.name}: dimension {axis} must be {want} = {value}, got {got}")
        return arg


__all__ = ["InputCheck", "fast_checker", "owned"]
