"""Hostile and broken files: each is refused with a FormatError that says what is wrong, before anything is
compiled or changed, and no code from the file runs (every payload would create a sentinel file)."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import graphc as gc

SENTINEL = "graphc-hostile-sentinel"
RUN = f"__import__('os').system('touch {SENTINEL}')"


class Payload:
    """What a malicious pickle looks like: unpickling it runs a shell command."""

    def __reduce__(self):
        return os.system, (f"touch {SENTINEL}",)


@pytest.fixture(scope="module")
def valid() -> tuple[dict, list[bytes]]:
    """A small saved function (a user function, a slice of a named size, an update): its JSON and arrays."""
    import sympy

    x = gc.tensor("x", ("n", 2))
    W = gc.shared(np.ones((2, 3)), name="W")
    f = gc.elementwise("f", lambda v: v * sympy.tanh(v))
    out = f(x @ W)[1:].sum(axis=0, keepdims=True)
    blob = gc.io.document.to_bytes(gc.function([x], out, updates={W: W * 0.5}))
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        arrays = [zf.read(n) for n in sorted(zf.namelist()) if n.startswith("arrays/")]
        return json.loads(zf.read("graphc.json")), arrays


def pack(document, arrays, extra=(), compress=False) -> bytes:
    buffer = io.BytesIO()
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", mode) as zf:
        text = document if isinstance(document, (str, bytes)) else json.dumps(document)
        zf.writestr("graphc.json", text)
        for k, a in enumerate(arrays):
            zf.writestr(f"arrays/{k}.npy", a)
        for name, data in extra:
            zf.writestr(name, data)
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def nodes(doc) -> list[dict]:
    return doc["contents"]["function"]["graph"]["nodes"]


def edited(change):
    """A case: the valid file's JSON, changed in place by `change(doc, arrays)`."""

    def make(doc, arrays):
        change(doc, arrays)
        return pack(doc, arrays)

    return make


def bomb(doc, arrays) -> bytes:
    """A member whose directory entry claims 10 GB (the data is 16 bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("graphc.json", json.dumps(doc))
        zf.writestr("arrays/0.npy", b"\x93NUMPY" + b"\0" * 10)
        zf.filelist[-1].file_size = 10 << 30
    return buffer.getvalue()


def cycle(doc, arrays):
    first, second = nodes(doc)[0], nodes(doc)[1]
    first["inputs"][0] = second["inputs"][0] + 1  # the first node reads the second's output


def array_used_twice(doc, arrays):
    (leaf,) = [leaf for leaf in doc["contents"]["function"]["graph"]["leaves"] if "constant" in leaf]
    leaf["constant"].update(array=0, type=doc["shared"][0]["type"])


def tampered_type(doc, arrays):
    nodes(doc)[0]["types"][0]["dtype"] = "float32"


def header_dtype(doc, arrays):
    arrays[0] = npy(np.ones((2, 3), np.float32))


def header_shape(doc, arrays):
    arrays[0] = npy(np.ones((3, 2)))


CASES = [
    ("a renamed pickle", lambda d, a: pickle.dumps(Payload()), "a Python pickle"),
    ("a bare npy", lambda d, a: npy(np.zeros(3)), "a bare .npy array"),
    ("empty", lambda d, a: b"", "this file is empty"),
    ("truncated", lambda d, a: pack(d, a)[:-40], "damaged or truncated"),
    ("cut in half", lambda d, a: pack(d, a)[: len(pack(d, a)) // 2], "damaged or truncated"),
    ("unknown op", edited(lambda d, a: nodes(d)[0].update(op="exec")), "unknown op 'exec'"),
    (
        "__reduce__ tag",
        edited(lambda d, a: nodes(d)[-2]["params"].update(keepdims={"__reduce__": RUN})),
        "unknown value tag '__reduce__'",
    ),
    (
        "__class__ key",
        edited(lambda d, a: nodes(d)[0].update(__class__="os.system")),
        "unexpected keys '__class__'",
    ),
    (
        "code as a sympy expression",
        edited(lambda d, a: d["functions"][0].update(expr=RUN)),
        "is not an expression tree",
    ),
    (
        "code as a symbol",
        edited(lambda d, a: d["functions"][0].update(expr=["Symbol", RUN])),
        "not one of its arguments",
    ),
    (
        "code as a size name",
        edited(lambda d, a: d["shared"][0]["type"].update(shape=[{"dim": ["Symbol", RUN]}, 3])),
        "not an identifier",
    ),
    (
        "a sympy class off the list",
        edited(lambda d, a: d["functions"][0].update(expr=["Function", "x"])),
        "'Function' is not one graphc reads",
    ),
    ("code in a param", edited(lambda d, a: nodes(d)[-2]["params"].update(keepdims=RUN)), "must be a bool"),
    (
        "code in an origin",
        edited(lambda d, a: nodes(d)[0].update(origin=[f"x\n{RUN}\n#", 1])),
        "printable text",
    ),
    (
        "a header with another dtype",
        edited(header_dtype),
        r"holds <f4\(2, 3\) but the graph declares float64",
    ),
    (
        "a header with another shape",
        edited(header_shape),
        r"holds <f8\(3, 2\) but the graph declares float64",
    ),
    ("a member ../", lambda d, a: pack(d, a, extra=[("../evil.py", RUN)]), "unexpected member '../evil.py'"),
    ("an absolute member", lambda d, a: pack(d, a, extra=[("/tmp/evil", RUN)]), "unexpected member"),
    ("a compressed file", lambda d, a: pack(d, a, compress=True), "compressed"),
    ("a zip bomb", bomb, "declares 10737418240 bytes"),
    ("a cycle", edited(cycle), "not made before it"),
    ("a tampered type", edited(tampered_type), "declares float32.*makes float64"),
    ("too many inputs", edited(lambda d, a: nodes(d)[0]["inputs"].append(0)), "has 3 inputs; matmul takes 2"),
    ("an array nothing uses", lambda d, a: pack(d, a + [npy(np.zeros(2))]), "arrays nothing refers to"),
    ("an array used twice", edited(array_used_twice), "used twice"),
    (
        "duplicate keys",
        lambda d, a: pack(json.dumps(d)[:-1] + ',"kind":"graph"}', a),
        "repeats the key 'kind'",
    ),
    (
        "NaN in JSON",
        lambda d, a: pack(json.dumps(d).replace('"version": 1', '"version": NaN'), a),
        "NaN is not JSON",
    ),
    ("deep nesting", lambda d, a: pack("[" * 100_000 + "]" * 100_000, a), "not valid JSON"),
    (
        "a newer version",
        edited(lambda d, a: d.update(version=7, written_by="graphc 9.1")),
        "written by graphc 9.1 in format version 7; graphc 0.1.0 reads format version 1",
    ),
    ("another format", edited(lambda d, a: d.update(format="pytorch")), "its format is 'pytorch'"),
    (
        "a huge unsaved shared variable",
        edited(
            lambda d, a: d["shared"][0].update(
                array=None, type={"dtype": "float64", "shape": [1 << 40, 1 << 20]}
            )
        ),
        "without values would need",
    ),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_file_is_refused_and_runs_nothing(make, message, valid, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc, arrays = copy.deepcopy(valid[0]), list(valid[1])
    path = tmp_path / "model.gcz"
    path.write_bytes(make(doc, arrays))
    with pytest.raises(gc.FormatError, match=message):
        gc.load(path)
    W = gc.shared(np.ones((2, 3)), name="W")
    with pytest.raises(gc.GraphcError):
        gc.load_params(path, [W])
    assert np.array_equal(W.get_value(), np.ones((2, 3)))  # nothing was set
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gcz"]  # no sentinel, nothing extracted


def test_the_valid_file_loads(valid) -> None:
    """The hostile cases above are edits of a file that loads."""
    g = gc.load(pack(*valid))
    assert g(np.ones((3, 2))).shape == (1, 3)


def test_a_pickle_of_graphc_objects_calls_only_graphc_readers() -> None:
    """Unpickling a Function goes through graphc.compile._function_from_bytes, which reads the safe format
    only: a hostile payload given to it is refused like a file."""
    from graphc.compile import _function_from_bytes
    from graphc.io.document import read_bytes

    for reader in (_function_from_bytes, read_bytes):
        with pytest.raises(gc.FormatError, match="a Python pickle"):
            reader(pickle.dumps(Payload()))
        with pytest.raises(gc.FormatError, match="holds bytes, not str"):
            reader("/etc/passwd")
