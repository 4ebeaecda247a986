"""gc.save / gc.load round trips: every op of the CASES table on every backend (bit for bit), user sympy
functions, named sizes, differentiation after loading, collections, pickling, parameters alone."""

from __future__ import annotations

import pathlib
import pickle
import pickletools
import re

import numpy as np
import pytest
import sympy
from all_cases import CASES

import graphc as gc
from graphc.io import document
from graphc.ops import Op


def round_trip(obj, tmp_path, **load_options):
    path = gc.save(tmp_path / "saved.gcz", obj)
    return gc.load(path, **load_options)


def same_results(got, want) -> None:
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)  # bit for bit (nan where nan)


def structure(graph: gc.fgraph.FunctionGraph) -> list:
    """What must survive a round trip: ops, params, types, wiring, names and user lines (bodies too)."""
    number = {id(v): k for k, v in enumerate(graph.inputs)}
    rows = []
    for node in graph.nodes:
        ins = [number.get(id(v), (type(v).__name__, v.name, str(v.type))) for v in node.inputs]
        outs = [(str(v.type), v.name) for v in node.outputs]
        graph = gc.fgraph.FunctionGraph
        params = [(k, structure(v) if isinstance(v, graph) else v) for k, v in node.param_key]
        rows.append((node.op, params, ins, outs, node.origin))
        for v in node.outputs:
            number[id(v)] = len(number)
    return rows


def test_every_case_keeps_its_structure() -> None:
    """Each CASES graph, written and read back: the same nodes, params (sizes, indices, dtypes), types and
    origins, checked by each op's own shape rule on the way in."""
    seen = set()
    for case in CASES:
        xs = case.variables()
        graph = gc.fgraph.FunctionGraph(xs, [case.build(*xs)])
        loaded = document.read_bytes(document.to_bytes(graph))
        assert structure(loaded) == structure(graph), case.name
        assert [v.name for v in loaded.inputs] == [v.name for v in xs]
        seen |= {node.op for node in graph.nodes}
    assert seen >= set(Op) - {Op.FUSED, Op.SCALAR_FN}


def _groups_binding_sizes_alike() -> list[list]:
    """CASES in groups whose named sizes agree (one function per group takes all their inputs)."""
    groups: list[tuple[dict, list]] = []
    for case in CASES:
        sizes = {
            d: n
            for a in case.args
            for d, n in zip(a.decl or a.shape, a.shape, strict=True)
            if isinstance(d, str)
        }
        for bound, members in groups:
            if all(bound.get(d, n) == n for d, n in sizes.items()):
                bound.update(sizes)
                members.append(case)
                break
        else:
            groups.append((sizes, [case]))
    return [members for _, members in groups]


def _object_cache() -> list[str]:
    from graphc.codegen.llvm.cache import cache_dir

    return sorted(str(p) for p in cache_dir().rglob("*"))


def test_every_case_is_bit_identical_after_loading(backend: str, tmp_path, rng) -> None:
    """All CASES, a few compiled functions per backend (with the passes): each loaded function gives exactly
    the original's results, and on llvm compiles from the object cache (no new entry)."""
    for k, cases in enumerate(_groups_binding_sizes_alike()):
        inputs, outputs, arrays = [], [], []
        for case in cases:
            xs = case.variables()
            inputs += xs
            outputs.append(case.build(*xs))
            arrays += [a.sample(rng) for a in case.args]
        f = gc.function(inputs, outputs, backend=backend)
        cached = _object_cache() if backend == "llvm" else None
        g = gc.load(gc.save(tmp_path / f"{k}.gcz", f))
        assert cached is None or _object_cache() == cached  # the same code: compiled from the object cache
        assert g.backend == backend and len(g.fgraph.nodes) == len(f.fgraph.nodes)
        with np.errstate(all="ignore"):
            got, want = g(*arrays), f(*arrays)
        for case, a, b in zip(cases, got, want, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, case.name
            np.testing.assert_array_equal(a, b, err_msg=case.name)


SOFTCLIP = gc.elementwise(
    "softclip",
    lambda x, c: (
        sympy.Piecewise((c * sympy.tanh(x / c), x > 0), (sympy.log(1 + sympy.exp(x)) - sympy.log(2), True))
        + sympy.Abs(x) * sympy.Rational(1, 3)
        + sympy.Min(x, c) * sympy.pi
    ),
)
STEP = gc.elementwise(
    "step", lambda x: sympy.Heaviside(x) + sympy.Max(x, 0) ** 2
)  # DiracDelta in sympy's derivative


def test_a_user_sympy_function_round_trips(backend: str, tmp_path, rng) -> None:
    x, c = gc.vector("x"), gc.scalar("c")
    y = SOFTCLIP(x, c) * 2.0
    f = gc.function([x, c], [y, gc.grad(y.sum(), [x])[0], STEP(x)], backend=backend)
    g = round_trip(f, tmp_path)
    fns = {n.params["fn"] for n in g.fgraph.nodes if n.op is Op.SCALAR_FN}
    assert SOFTCLIP in fns and SOFTCLIP not in {id(fn) for fn in fns}  # rebuilt from its tree, equal
    X = rng.uniform(-3, 3, 7)
    same_results(g(X, 1.5), f(X, 1.5))
    graph = round_trip(gc.grad(STEP(x).sum(), [x]), tmp_path)  # Heaviside' = DiracDelta, taken as 0
    fns = [str(n.params["fn"].expr) for n in graph.nodes if n.op is Op.SCALAR_FN]
    assert fns and not any("DiracDelta" in fn for fn in fns)


def test_named_sizes_survive(tmp_path, rng) -> None:
    x = gc.tensor("x", ("n", "m"), "float32")
    f = gc.function([x], [gc.softmax(x[1:, ::2]), gc.size(x, 0)])
    g = round_trip(f, tmp_path)
    assert str(g.fgraph.outputs[0].type) == "float32(n - 1, ceiling(m/2))"
    for shape in [(2, 3), (9, 8)]:  # any batch size, no recompiling
        X = rng.standard_normal(shape).astype(np.float32)
        same_results(g(X), f(X))


def test_a_graph_saved_before_differentiation_loads_and_differentiates(backend: str, tmp_path, rng) -> None:
    x, t = gc.matrix("x", ("n", 3)), gc.vector("t", dtype="int64")
    W = gc.shared(rng.standard_normal((3, 4)), name="W")
    J = gc.nn.softmax_cross_entropy(gc.tanh(x @ W), t)
    graph = round_trip(J, tmp_path)  # a FunctionGraph: inputs, outputs and the shared variables
    inputs = {v.name: v for v in graph.inputs}  # in first-use order
    assert sorted(inputs) == ["t", "x"] and [v.name for v in graph.shared] == ["W"]
    (W2,) = graph.shared
    assert W2 is not W and np.array_equal(W2.get_value(), W.get_value())
    X, T = rng.standard_normal((5, 3)), rng.integers(0, 4, 5)
    f = gc.function([x, t], gc.grad(J, [W])[0], backend=backend)
    g = gc.function([inputs["x"], inputs["t"]], gc.grad(graph.outputs[0], [W2])[0], backend=backend)
    same_results(g(X, T), f(X, T))


def test_a_collection_shares_its_parameters(tmp_path, rng) -> None:
    x, y = gc.matrix("x", ("n", 2)), gc.vector("y")
    w = gc.shared(np.zeros(2), name="w")
    J = gc.nn.mse(x @ w, y)
    step = gc.function([x, y], J, updates=gc.optim.momentum(J, [w], lr=0.1), backend="interp")
    predict = gc.function([x], x @ w)
    loaded = round_trip({"step": step, "predict": predict}, tmp_path)
    assert loaded["step"].backend == "interp" and loaded["predict"].backend == "numpy"
    X, Y = rng.standard_normal((4, 2)), rng.standard_normal(4)
    for _ in range(3):
        same_results(loaded["step"](X, Y), step(X, Y))
    same_results(loaded["predict"](X), predict(X))  # the loaded step moved the loaded predict's w


def test_load_on_another_backend(tmp_path, rng) -> None:
    x = gc.vector("x")
    f = gc.function([x], gc.exp(x).sum(), backend="interp", optimize="none")
    g = round_trip(f, tmp_path, backend="numpy")
    assert g.backend == "numpy" and g.optimize == "none" and not g.reports
    np.testing.assert_allclose(g([1.0, 2.0]), f([1.0, 2.0]))


def test_pickles_hold_a_graphc_file_and_call_only_its_reader(rng) -> None:
    x = gc.tensor("x", ("n", 2), "float32")
    W = gc.shared(rng.standard_normal((2, 2)).astype(np.float32), name="W")
    f = gc.function([x], gc.relu(x @ W), updates={W: W * 2.0}, optimize=["canonicalize", "cse"])
    for obj in (f, x @ W, W, gc.fgraph.FunctionGraph([x], [x @ W])):
        blob = pickle.dumps(obj)
        globals_used = {
            arg for op, arg, _ in pickletools.genops(blob) if op.name in ("GLOBAL", "STACK_GLOBAL")
        }
        strings = [arg for op, arg, _ in pickletools.genops(blob) if op.name.endswith("UNICODE")]
        assert globals_used <= {None} and set(strings) <= {
            "graphc.compile", "_function_from_bytes", "graphc.io.document", "read_bytes"
        }  # fmt: skip
        clone = pickle.loads(blob)
        assert type(clone).__name__ == type(obj).__name__
    g = pickle.loads(pickle.dumps(f))
    X = rng.standard_normal((3, 2)).astype(np.float32)
    same_results(g(X), f(X))
    assert g.optimize == ["canonicalize", "cse"]
    assert np.array_equal(g.fgraph.shared[0].get_value(), W.get_value())


def test_saving_refuses_what_a_file_cannot_hold(tmp_path) -> None:
    x = gc.vector("x")
    f = gc.function([x], gc.exp(x) * 2.0 + 1.0)
    with pytest.raises(gc.GraphcError, match="fused"):  # the optimised graph: save the function instead
        gc.save(tmp_path / "f.gcz", f.optimized)
    custom = gc.function([x], x + 0.0, optimize=[("mine", lambda g: (g, {}))])
    with pytest.raises(gc.GraphcError, match="does not know by name"):
        gc.save(tmp_path / "f.gcz", custom)
    node = gc.Node(Op.EXP, [x], {"base": object()}, [x.type], None)
    with pytest.raises(gc.GraphcError, match=r"exp takes the params \(none\), not \(base\)"):
        gc.save(tmp_path / "f.gcz", node.outputs[0])
    with pytest.raises(gc.GraphcError, match="cannot save the sympy"):
        gc.save(tmp_path / "f.gcz", gc.elementwise("g", lambda x: sympy.Function("u")(x))(x))
    assert not list(tmp_path.iterdir())  # no half-written file left behind


def test_params_by_name(tmp_path, rng) -> None:
    W = gc.shared(rng.standard_normal((3, 2)).astype(np.float32), name="W")
    b = gc.shared(np.zeros(2, np.float32), name="b")
    x = gc.matrix("x", ("n", 3), "float32")
    J = gc.sum(gc.tanh(x @ W + b) ** 2)
    updates = gc.optim.adam(J, [W, b], lr=0.01)
    step = gc.function([x], J, updates=updates)
    step(rng.standard_normal((4, 3)).astype(np.float32))
    saved = {v.name: v.get_value() for v in step.fgraph.shared}
    path = gc.save_params(tmp_path / "p.gcz", [W, b], optimizer=updates)
    for v in step.fgraph.shared:
        v.set_value(np.zeros_like(v.get_value()))
    gc.load_params(path, {"b": b, "W": W}, optimizer=step)  # a dict, and the step's state, work too
    assert all(np.array_equal(v.get_value(), saved[v.name]) for v in step.fgraph.shared)


def test_params_are_checked_before_anything_changes(tmp_path) -> None:
    W = gc.shared(np.ones((3, 2)), name="W")
    b = gc.shared(np.ones(2), name="b")
    path = gc.save_params(tmp_path / "p.gcz", [W, b])
    wrong_shape = gc.shared(np.zeros((2, 3)), name="W")
    wrong_dtype = gc.shared(np.zeros((3, 2), np.float32), name="W")
    for params, error, message in [
        ([b, wrong_shape], gc.ShapeError, r"W has shape \(3, 2\) in the file, the variable \(2, 3\)"),
        ([b, wrong_dtype], gc.DTypeError, "W is float64 in the file, the variable float32"),
        ([b, gc.shared(np.zeros(2), name="c")], gc.InputError, "the file has no c"),
        ([b], gc.InputError, "the file also holds W"),
    ]:
        b.set_value(np.zeros(2))
        with pytest.raises(error, match=message):
            gc.load_params(path, params)
        assert not b.get_value().any()  # b was fine, and still was not set
    gc.load_params(path, [b], strict=False)
    assert b.get_value().all()
    with pytest.raises(gc.InputError, match="two shared variables are named 'W'"):
        gc.save_params(tmp_path / "q.gcz", [W, wrong_shape])


def test_the_readme_section_runs_as_written(tmp_path, monkeypatch) -> None:
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Saving, loading, checkpoints, ONNX")
    (code,) = re.findall(r"```python\n(.*?)```", readme[start : readme.index("\n## ", start + 1)], re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["predict"](np.ones((2, 4), np.float32)).shape == (2, 3)
    assert namespace["gW"].type.shape == (4, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gcz", "net.gcz", "weights.gcz"]


def test_every_kind_of_param_value_round_trips() -> None:
    """The codec table, value by value, sub-graphs included (what ops with a body will hold)."""
    import json
    import math

    from graphc.dims import divide
    from graphc.io import archive, codecs
    from graphc.io.graphs import Writer
    from graphc.io.reading import Reader

    n = gc.types.symbol("n")
    x = gc.vector("x", n)
    body = gc.fgraph.FunctionGraph([x], [gc.exp(x[1:]) * 2.0 + gc.shared(np.ones(1), name="c")])
    values = [
        7, -(2**63), 1.5, -0.0, math.inf, -math.inf, True, None, "axis", (1, (2, None), ()),
        np.dtype("float32"), n - 2, divide(n, 3, ceil=True), divide(n * n - 1, 2) * n, slice(1, None, -1),
        np.int64(4), SOFTCLIP, body,
    ]  # fmt: skip
    writer = Writer()
    encoded = json.loads(json.dumps([codecs.encode(writer, v) for v in values], allow_nan=False))
    with archive.Archive(archive.to_bytes(writer.document({"kind": "none"}), writer.arrays)) as box:
        reader = Reader(box)
        decoded = [codecs.decode(reader, v) for v in encoded]
    for want, got in zip(values, decoded, strict=True):
        if isinstance(want, gc.fgraph.FunctionGraph):
            assert structure(got) == structure(want) and got.shared[0].get_value() == 1.0
        else:
            assert got == want and type(got) is type(want) or isinstance(want, np.integer), (want, got)
    assert math.copysign(1, decoded[3]) == -1  # -0.0 stays negative
    # a size is written as the tree sympy writes (files from before graphc.dims read the same)
    assert encoded[12] == {"dim": ["ceiling", ["Mul", ["Rational", 1, 3], ["Symbol", "n"]]]}
    with pytest.raises(gc.GraphcError, match="cannot hold a object .*a new kind of param needs a row"):
        codecs.encode(writer, object())
    with pytest.raises(gc.FormatError, match="is not a number"):
        codecs.decode(None, {"float": "NaN!"})


def test_gradients_that_slice_by_named_sizes_round_trip(tmp_path) -> None:
    """gc.grad of a concatenation of named sizes slices by size expressions: saved as trees, loaded back."""
    x, y = gc.vector("x", "n"), gc.vector("y", "m")
    f = gc.function([x, y], gc.grad(gc.sum(gc.concatenate([x, y]) ** 3.0), [x, y]))
    g = round_trip(f, tmp_path)
    for n, m in ((3, 2), (4, 5)):
        same_results(g(np.arange(n) + 0.5, np.arange(m) - 1.0), f(np.arange(n) + 0.5, np.arange(m) - 1.0))
