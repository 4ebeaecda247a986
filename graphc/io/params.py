"""Parameters alone: gc.save_params / gc.load_params, by name, checking shape and dtype; the groups of named
arrays that checkpoints build on. Knows the core only.

    >>> import numpy as np, graphc as gc, tempfile, os
    >>> W = gc.shared(np.ones((2, 3), np.float32), name="W")
    >>> path = os.path.join(tempfile.mkdtemp(), "w.gcz")
    >>> _ = gc.save_params(path, [W]); W.set_value(np.zeros((2, 3), np.float32))
    >>> gc.load_params(path, [W]); float(W.get_value().sum())
    6.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from graphc.errors import DTypeError, GraphcError, InputError, ShapeError
from graphc.graph import SharedVariable

from . import archive
from .archive import Archive, fail
from .graphs import Writer
from .reading import Reader, fields

Params = Sequence[SharedVariable] | Mapping[str, SharedVariable]


def named(params, what: str = "params") -> dict[str, SharedVariable]:
    """{name: shared variable}; a list must have distinct names (else pass a dict), a compiled function gives
    every shared variable it reads or updates."""
    if isinstance(params, Mapping):
        out = dict(params)
    else:
        shared = getattr(getattr(params, "fgraph", None), "shared", None)
        variables = list(shared if shared is not None else params)
        nameless = [v for v in variables if isinstance(v, SharedVariable) and not v.name]
        if nameless:
            raise InputError(
                f"{what}: {nameless[0]!r} has no name; name it (gc.shared(..., name=)) or pass a dict"
            )
        out = {}
        for v in variables:
            if getattr(v, "name", None) in out and out[v.name] is not v:
                raise InputError(
                    f"{what}: two shared variables are named {v.name!r}; pass a dict {{name: variable}}"
                )
            out[getattr(v, "name", None)] = v
    for key, v in out.items():
        if type(key) is not str or not isinstance(v, SharedVariable):
            raise InputError(f"{what}: {key!r} -> {v!r} is not a name and a shared variable (gc.shared)")
    return out


def optimizer_state(optimizer, params: dict[str, SharedVariable]) -> dict[str, SharedVariable]:
    """The shared variables an optimiser's updates write besides the parameters (velocities, Adam's moments
    and step count): `optimizer` is the dict gc.optim returns or a compiled step function."""
    updates = getattr(getattr(optimizer, "fgraph", None), "updates", None)
    written = [var for var, _ in updates] if updates is not None else list(dict(optimizer))
    given = {id(v) for v in params.values()}
    return named([v for v in written if id(v) not in given], "optimizer state")


def write_groups(path, kind: str, groups: dict[str, dict[str, SharedVariable]], extra: dict | None = None):
    """A file of named arrays in groups ({"params": {...}, "optimizer": {...}}) and JSON `extra`, written
    atomically."""
    writer = Writer()
    contents = {"kind": kind, "groups": {}, "extra": extra or {}}
    for group, variables in groups.items():
        contents["groups"][group] = [
            {"key": key, "type": writer.type(v.type), "array": writer.array(v.get_value(copy=False), v.type)}
            for key, v in variables.items()
        ]
    document = writer.document(contents)
    return archive.atomic_write(path, lambda f: archive.write_to(f, document, writer.arrays))


def read_groups(path, kinds: Sequence[str]) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """{group: {key: array}} and the extra JSON of a file written by write_groups, all validated."""
    with Archive(path) as box:
        reader = Reader(box)
        contents = reader.contents
        if contents["kind"] not in kinds:
            raise GraphcError(f"{path} holds a {contents['kind']!r:.40}, not {' or '.join(kinds)}")
        contents = fields(contents, "contents", ("kind", "groups", "extra"))
        if type(contents["groups"]) is not dict or type(contents["extra"]) is not dict:
            raise fail("groups and extra must be objects")
        groups = {}
        for group, entries in contents["groups"].items():
            if type(entries) is not list:
                raise fail(f"the group {group!r:.40} must be a list")
            arrays = {}
            for entry in entries:
                entry = fields(entry, f"an entry of {group}", ("key", "type", "array"))
                if type(entry["key"]) is not str or entry["key"] in arrays:
                    raise fail(f"{group} has a missing or repeated key {entry['key']!r:.40}")
                type_ = reader.type(entry["type"], concrete=True)
                arrays[entry["key"]] = box.array(entry["array"], type_.dtype, type_.shape)
            groups[group] = arrays
        box.check_all_read()
    return groups, contents["extra"]


def assign(
    targets: dict[str, SharedVariable], arrays: dict[str, np.ndarray], what: str, strict: bool
) -> list:
    """The (variable, value) pairs to set, once every name, shape and dtype is checked (nothing set here)."""
    missing = sorted(set(targets) - set(arrays))
    if missing:
        raise InputError(
            f"{what}: the file has no {', '.join(missing)} (it holds {', '.join(sorted(arrays))})"
        )
    extra = sorted(set(arrays) - set(targets))
    if extra and strict:
        raise InputError(f"{what}: the file also holds {', '.join(extra)}; pass them too, or strict=False")
    pairs = []
    for key, var in targets.items():
        value, want = arrays[key], var.get_value(copy=False)
        if value.shape != want.shape:
            raise ShapeError(f"{what}: {key} has shape {value.shape} in the file, the variable {want.shape}")
        if value.dtype != want.dtype:
            raise DTypeError(f"{what}: {key} is {value.dtype} in the file, the variable {want.dtype}")
        pairs.append((var, value))
    return pairs


def save_params(path: str | os.PathLike, params: Params, optimizer=None) -> Path:
    """Write the values of `params` (shared variables by name: a list, a dict, or a compiled function's) and,
    given `optimizer` (gc.optim's updates or the compiled step), its state, to a graphc file.

    >>> import os, tempfile
    >>> W = gc.shared(np.arange(3.0), name="W")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = gc.save_params(os.path.join(folder, "w.gcz"), [W])
    ...     W.set_value(np.zeros(3))
    ...     gc.load_params(path, [W])
    >>> W.get_value()
    array([0., 1., 2.])
    """
    variables = named(params)
    groups = {"params": variables}
    if optimizer is not None:
        groups["optimizer"] = optimizer_state(optimizer, variables)
    return write_groups(path, "params", groups)


def load_params(path: str | os.PathLike, params: Params, optimizer=None, strict: bool = True) -> None:
    """Set `params` (and, given `optimizer`, its state) from a file of gc.save_params, by name. Every name,
    shape and dtype is checked before any value changes; with strict, the file may hold nothing else.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = gc.save_params(os.path.join(folder, "w.gcz"), {"W": gc.shared(np.ones(2))})
    ...     W = gc.shared(np.zeros(2), name="W")
    ...     gc.load_params(path, [W])
    >>> W.get_value()
    array([1., 1.])
    """
    variables = named(params)
    groups, _ = read_groups(path, ("params", "checkpoint"))
    saved = groups["params"] if "params" in groups else groups.get("state", {})  # a checkpoint: its state
    pairs = assign(variables, saved, "load_params", strict)
    if optimizer is not None:
        if "optimizer" not in groups:
            raise InputError(f"load_params: {path} holds no optimizer state (save it with optimizer=)")
        pairs += assign(optimizer_state(optimizer, variables), groups["optimizer"], "optimizer state", strict)
    for var, value in pairs:
        var.set_value(value, copy=False)
