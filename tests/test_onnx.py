"""ONNX: every op of the CASES table (as built, and fused) exported, run by onnxruntime and imported back;
the examples' trained models against onnxruntime; PyTorch-exported MLP and CNN loaded, run, differentiated
and drawn; unsupported operators listed by name. Skips cleanly without onnx, onnxruntime or torch."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from all_cases import CASES
from test_io_examples import MODELS

import graphc as gc
from graphc.ops import Op

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


# Kernels an older onnxruntime lacks (the newest for Python 3.10, 1.23, has no float64 Cos): a case using one
# is checked by importing it back only, and any other missing kernel still fails the test.
KERNELS_OLD_RUNTIMES_LACK = {"Cos"}


class MissingKernel(Exception):
    """onnxruntime has no kernel for an operator of the model (for its dtype)."""


def session_of(model, optimize: bool):
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(model, *arrays) -> list[np.ndarray]:
    try:
        session = session_of(model, optimize=True)
    except Exception as exc:
        if "NOT_IMPLEMENTED" not in str(exc):
            raise
        try:  # onnxruntime 1.23's optimiser makes float64 FusedMatMul nodes it has no kernel for
            session = session_of(model, optimize=False)
        except Exception as again:
            if "NOT_IMPLEMENTED" not in str(again):
                raise
            raise MissingKernel(str(again).split("implementation for ")[-1].split("(")[0]) from again
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays, strict=True)})


def close(got, want) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    tol = 1e-5 if want.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def runtime_sorts_nan_last() -> bool:
    """ONNX's TopK leaves the place of NaN to the runtime; onnxruntime 1.23 puts it first, later ones last
    (NumPy's and graphc's order). Cases sorting NaN are compared only where the runtime agrees."""
    x = gc.vector("x")
    model = gc.onnx.export(gc.fgraph.FunctionGraph([x], [gc.argsort(x)]))
    return run(model, np.array([np.nan, 1.0]))[0][0] == 1


NO_ONNX_OPERATOR = {Op.RANDOM_UNIFORM, Op.LSHIFT, Op.RSHIFT, Op.CUMPROD, Op.CUMMAX, Op.CUMMIN,
                    Op.LOGCUMSUMEXP}  # fmt: skip
# onnxruntime implements these for float32 only: float64 graphs are exported and imported back, not run
ORT_FLOAT32_ONLY = {Op.ERF, Op.ERFC, Op.ATAN, Op.ATAN2, Op.ASIN, Op.ACOS, Op.ASINH, Op.ACOSH, Op.ATANH}
NOT_EXPORTED_YET = {Op.SCAN, Op.COND}  # ONNX's Scan and If could; test_scan checks the message
OPSET_16 = {Op.SCATTER_ADD, Op.SCATTER_ADD_ALONG}  # ONNX scatters add from opset 16


def _integer_bitwise(nodes) -> bool:
    """Bitwise ops on integers export as BitwiseAnd & co, which ONNX has from opset 18."""
    return any(n.op in (Op.AND, Op.OR, Op.XOR, Op.NOT) and n.outputs[0].dtype.kind != "b" for n in nodes)


def test_every_case_exports_runs_on_onnxruntime_and_imports_back(rng) -> None:
    """As built (opsets 13 and the default) and after the passes (fused kernels expanded back)."""
    fused, missing, nan_last = 0, set(), runtime_sorts_nan_last()
    for case in CASES:
        xs = case.variables()
        out = case.build(*xs)
        nodes = gc.toposort([out])
        ops = {n.op for n in nodes}
        if ops & (NO_ONNX_OPERATOR | NOT_EXPORTED_YET) or (
            case.name.endswith("_nan") and ops & {Op.ARGSORT} and not nan_last
        ):
            continue
        arrays = [a.sample(rng) for a in case.args]
        with np.errstate(all="ignore"):
            want = gc.function(xs, out, backend="interp", optimize="none")(*arrays)
            optimized = gc.function(xs, out).optimized  # fused kernels, expanded back into ONNX nodes
            fused += any(n.op is Op.FUSED for n in optimized.nodes)
            built = gc.fgraph.FunctionGraph(xs, [out])
            runs = [] if ops & ORT_FLOAT32_ONLY and want.dtype == np.float64 else [
                *([(built, 13)] if not (ops & OPSET_16 or _integer_bitwise(nodes)) else []),
                (built, gc.onnx.DEFAULT_OPSET),
                (optimized, gc.onnx.DEFAULT_OPSET),
            ]  # fmt: skip
            for graph, opset in runs:
                try:
                    close(run(gc.onnx.export(graph, opset=opset), *arrays)[0], want)
                except MissingKernel as exc:
                    missing.add(str(exc))
            back = gc.onnx.load(gc.onnx.export(built))
            close(gc.function(back.inputs, back.outputs[0], backend="interp", optimize="none")(*arrays), want)
    assert fused > 10
    assert missing <= KERNELS_OLD_RUNTIMES_LACK, f"onnxruntime {ort.__version__} lacks {missing}"


@pytest.mark.parametrize("build", MODELS, ids=[m.__name__ for m in MODELS])
def test_the_examples_trained_models_agree_with_onnxruntime(build, tmp_path) -> None:
    functions, batch = build("numpy", np.random.default_rng(0))
    for _ in range(3):  # a few training steps: trained weights, not the initial ones
        functions["step"](*batch)
    graph = functions.get("predict") or functions.get("evaluate")
    if graph is None:  # regularization: its training graph has dropout, which is not for inference
        with pytest.raises(gc.GraphcError, match="random_uniform has no ONNX equivalent"):
            gc.onnx.export(functions["step"])
        return
    args = batch[: len(graph.fgraph.inputs)]
    path = tmp_path / "model.onnx"
    gc.onnx.export(graph, path)
    close(run(onnx.load(path), *args)[0], graph(*args))
    if graph.fgraph.inputs[0].type.shape[0] != 1:  # a named batch size: any batch runs
        close(run(onnx.load(path), *(a[:2] for a in args))[0], graph(*(a[:2] for a in args)))


def test_unsupported_operators_are_listed() -> None:
    helper = onnx.helper
    nodes = [
        helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,ij->ij"),
        helper.make_node("LSTM", ["y", "w", "r"], ["z"]),
        helper.make_node("Einsum", ["z", "z"], ["u"]),
    ]
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 2])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [x]))
    with pytest.raises(gc.GraphcError, match="uses ONNX ops graphc does not import: Einsum, LSTM$"):
        gc.onnx.load(model)


# --- from PyTorch -------------------------------------------------------------------------------------------
def torch_models():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
            self.fc = torch.nn.Linear(6 * 2 * 2, 10)

        def forward(self, x):
            h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
            h = torch.relu(self.conv2(h))
            return torch.log_softmax(self.fc(h.view(h.size(0), -1)), dim=1)

    mlp = torch.nn.Sequential(
        torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3), torch.nn.Softmax(-1)
    )
    norm = torch.nn.BatchNorm2d(4)
    norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
    blocks = torch.nn.Sequential(  # grouped dilated conv, batch norm (evaluation), pools, leaky ReLU, clip
        torch.nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2),
        norm,
        torch.nn.LeakyReLU(0.1),
        torch.nn.MaxPool2d(2, padding=1, ceil_mode=True),
        torch.nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
        torch.nn.Hardtanh(-0.5, 0.5),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    ).eval()  # the exporter restores the mode it found: evaluation, so batch norm uses its running statistics
    return torch, [("mlp", mlp, (4, 5)), ("cnn", CNN(), (3, 1, 8, 8)), ("blocks", blocks, (2, 2, 6, 6))]


def from_torch(torch, model, x) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # torch's exporter warns about its own deprecations
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          do_constant_folding=False)  # batch norm stays a BatchNormalization  # fmt: skip
    return buffer.getvalue()


def test_pytorch_models_load_run_differentiate_and_draw(backend) -> None:
    torch, models = torch_models()
    for name, model, shape in models:
        x = torch.randn(*shape)
        graph = gc.onnx.load(from_torch(torch, model, x))
        assert str(graph.inputs[0].type) == f"float32(batch, {', '.join(map(str, shape[1:]))})"
        by_name = {p.name: p for p in graph.shared}  # parameters, then batch norm's running statistics
        params = [by_name[n] for n, _ in model.named_parameters()]
        weights = gc.tensor("r", ("batch",) + tuple(graph.outputs[0].type.shape[1:]), "float32")
        J = (graph.outputs[0] * weights).sum()  # a scalar whose gradient checks every parameter
        f = gc.function([graph.inputs[0], weights], [graph.outputs[0], *gc.grad(J, params)], backend=backend)
        r = torch.randn(*((shape[0],) + tuple(graph.outputs[0].type.shape[1:])))
        y = model(x)
        torch_grads = torch.autograd.grad((y * r).sum(), list(model.parameters()))
        got = f(x.numpy(), r.numpy())
        np.testing.assert_allclose(got[0], y.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
        for g, t, p in zip(got[1:], torch_grads, params, strict=True):
            np.testing.assert_allclose(g, t.numpy(), rtol=1e-3, atol=1e-5, err_msg=f"{name} {p.name}")
        dot = gc.viz.to_dot(J, grads=dict(zip(params, gc.grad(J, params), strict=True)))
        assert all(p.name.replace(".", "") in dot.replace(".", "") for p in params) and "∇" in dot


def test_tensors_in_external_files_are_refused(tmp_path) -> None:
    """A model may point at files beside it: graphc reads nothing but the model itself."""
    helper = onnx.helper
    weight = onnx.numpy_helper.from_array(np.ones((2, 2), np.float32), "W")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="../../etc/passwd")
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 2])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 2])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g", [x], [y], [weight])
    path = tmp_path / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(gc.GraphcError, match=r"keeps tensors in external files \(W\)"):
        gc.onnx.load(path)


def test_gradients_that_slice_by_named_sizes_export() -> None:
    """Slice bounds that are size expressions become ONNX Shape arithmetic."""
    x, y = gc.vector("x", "n"), gc.vector("y", "m")
    grads = gc.grad(gc.sum(gc.concatenate([x, y[::2]]) ** 3.0), [x, y])
    model = gc.onnx.export(gc.fgraph.FunctionGraph([x, y], grads))
    f = gc.function([x, y], grads, backend="interp")
    for n, m in ((3, 2), (4, 5)):
        a, b = np.arange(n) + 0.5, np.arange(m) - 1.0
        for got, want in zip(run(model, a, b), f(a, b), strict=True):
            close(got, want)
