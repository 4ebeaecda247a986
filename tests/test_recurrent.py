"""gc.nn.rnn / lstm / gru against PyTorch's nn.RNN / nn.LSTM / nn.GRU with copied weights (values and
gradients, every backend, both directions), padded batches (mask and lengths against packed sequences: padded
steps change nothing), finite differences, the layer classes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

T, N, I, H = 5, 3, 3, 4  # noqa: E741 (the sizes' usual names)
KINDS = {  # graphc function, torch class, extra keyword arguments
    "rnn": (gc.nn.rnn, "RNN", {}),
    "rnn_relu": (gc.nn.rnn, "RNN", {"nonlinearity": "relu"}),
    "lstm": (gc.nn.lstm, "LSTM", {}),
    "gru": (gc.nn.gru, "GRU", {}),
}


def torch_layer(kind: str, bidirectional: bool, seed: int = 0):
    torch = pytest.importorskip("torch")
    _, cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    return getattr(torch.nn, cls)(I, H, bidirectional=bidirectional, dtype=torch.float64, **extra)


def copied(module) -> dict[str, np.ndarray]:
    """PyTorch's weight_ih_l0(_reverse), ... under graphc's names."""
    rename = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}
    out = {}
    for name, value in module.named_parameters():
        key, _, rest = name.partition("_l0")
        out[rename[key] + rest] = value.detach().numpy().copy()
    return out


def build(kind: str, bidirectional: bool, params: dict, **kwargs):
    """graphc's outputs for xs, h0 (and c0); the states stacked as PyTorch's h_n (directions first)."""
    fn, _, extra = KINDS[kind]
    shape = (2, N, H) if bidirectional else (N, H)
    xs, h0, c0 = gc.tensor("xs", (T, N, I)), gc.tensor("h0", shape), gc.tensor("c0", shape)
    states = {"h0": h0, "c0": c0} if kind == "lstm" else {"h0": h0}
    ys, final = fn(xs, params, bidirectional=bidirectional, **states, **extra, **kwargs)
    finals = list(final) if kind == "lstm" else [final]
    return [xs, *states.values()], [ys, *finals]


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_values_and_gradients_match_pytorch(kind, bidirectional, backend):
    torch = pytest.importorskip("torch")
    module = torch_layer(kind, bidirectional)
    weights = {k: gc.shared(v, name=k) for k, v in copied(module).items()}
    inputs, outputs = build(kind, bidirectional, weights)
    rng = np.random.default_rng(1)
    values = [rng.normal(size=(T, N, I))] + [rng.normal(size=v.type.shape) for v in inputs[1:]]
    probes = [rng.normal(size=(T, N, 2 * H if bidirectional else H))] + [
        rng.normal(size=values[1].shape) for _ in outputs[1:]
    ]
    cost = sum(gc.sum(o * p) for o, p in zip(outputs, probes, strict=True))
    wrt = inputs + list(weights.values())
    f = gc.function(inputs, [*outputs, *gc.grad(cost, wrt)], backend=backend)
    got = f(*values)

    tensors = [torch.tensor(v if bidirectional else v[None] if k else v, requires_grad=True)
               for k, v in enumerate(values)]  # fmt: skip
    state = tuple(tensors[1:]) if kind == "lstm" else tensors[1]
    ys, final = module(tensors[0], state)
    finals = list(final) if kind == "lstm" else [final]
    expected = [ys] + [s if bidirectional else s[0] for s in finals]
    torch_cost = sum((e * torch.tensor(p)).sum() for e, p in zip(expected, probes, strict=True))
    torch_cost.backward()
    params = dict(zip(copied(module), module.parameters(), strict=True))
    expected_grads = [t.grad if bidirectional or k == 0 else t.grad[0] for k, t in enumerate(tensors)]
    expected_grads += [params[name].grad for name in weights]
    names = ["ys", "h", "c"][: len(expected)] + [f"d{v.name}" for v in wrt]
    for name, a, b in zip(names, got, expected + expected_grads, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_padded_steps_change_nothing_as_in_packed_sequences(kind, backend):
    torch = pytest.importorskip("torch")
    module = torch_layer(kind, bidirectional=True, seed=2)
    weights = copied(module)
    lengths = np.array([5, 2, 3])
    xs = gc.tensor("xs", ("T", N, I))
    fn, _, _ = KINDS[kind]
    ys, final = fn(xs, weights, lengths=gc.constant(lengths), bidirectional=True)
    h = final[0] if kind == "lstm" else final
    cost = gc.sum(ys * ys) + gc.sum(h)
    f = gc.function([xs], [ys, h, gc.grad(cost, xs)], backend=backend)
    x = np.random.default_rng(3).normal(size=(T, N, I))
    got_ys, got_h, dxs = f(x)

    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    out, state = module(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    np.testing.assert_allclose(got_ys, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(got_h, (state[0] if kind == "lstm" else state).detach().numpy(), atol=1e-12)
    padding = np.arange(T)[:, None] >= lengths[None, :]
    assert np.all(got_ys[padding] == 0) and np.all(dxs[padding] == 0)
    garbage = np.where(padding[..., None], 1e3, x)  # whatever the padding holds changes nothing
    for a, b in zip(f(garbage), (got_ys, got_h, dxs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mask_and_lengths_agree_and_return_sequences_false_gives_the_last_real_state():
    xs = gc.tensor("xs", ("T", "n", I))
    mask, lengths = gc.tensor("mask", ("T", "n"), "bool"), gc.vector("lengths", dtype="int64")
    params = copied(torch_layer("gru", bidirectional=False))
    by_mask = gc.nn.gru(xs, params, mask=mask, return_sequences=False)
    by_lengths = gc.nn.gru(xs, params, lengths=lengths)
    f = gc.function([xs, mask, lengths], [*by_mask, *by_lengths])
    x, n = np.random.default_rng(0).normal(size=(T, N, I)), np.array([1, 5, 4])
    last, h, ys, h2 = f(x, np.arange(T)[:, None] < n, n)
    np.testing.assert_array_equal(last, h)
    np.testing.assert_array_equal(h, h2)
    np.testing.assert_array_equal(h, ys[n - 1, np.arange(N)])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_finite_differences(kind):
    fn, _, _ = KINDS[kind]
    rows = {"lstm": 4, "gru": 3, "rnn": 1}[kind] * 2
    rng = np.random.default_rng(0)
    mask = gc.constant(np.array([[1, 1], [1, 0], [0, 0]], bool))

    def cost(xs, w_ih, w_hh, b, h0):
        ys, final = fn(xs, {"W_ih": w_ih, "W_hh": w_hh, "b_ih": b, "b_hh": b * 0.5}, h0=h0, mask=mask,
                       bidirectional=False)  # fmt: skip
        h = final[0] if kind == "lstm" else final
        return gc.sum(gc.sin(ys)) + gc.sum(h * h)

    values = [rng.normal(size=s) for s in [(3, 2, 2), (rows, 2), (rows, 2), (rows,), (2, 2)]]
    gc.testing.check_grad(cost, values)


def test_layers_hold_pytorch_shaped_shared_weights():
    layer = gc.nn.LSTM(3, 4, bidirectional=True, dtype="float64", name="enc")
    assert sorted(layer.params) == sorted(
        k + s for k in ("W_ih", "W_hh", "b_ih", "b_hh") for s in ("", "_reverse")
    )
    assert layer.params["W_ih"].get_value().shape == (16, 3) and layer.params["W_hh"].name == "enc.W_hh"
    assert all(np.abs(v.get_value()).max() <= 0.5 for v in layer.params.values())  # U(−1/√H, 1/√H)
    xs = gc.tensor("xs", ("T", "n", 3))
    ys, (h, c) = layer(xs, lengths=gc.vector("lengths", dtype="int64"))
    ys2, _ = gc.nn.lstm(xs, layer.params, bidirectional=True)
    assert ys.type.shape[2] == ys2.type.shape[2] == 8
    assert len(layer.weights) == 4 and gc.nn.GRU(2, 3).params["W_hh"].get_value().shape == (9, 3)
    assert gc.nn.RNN(2, 3).params["W_hh"].get_value().dtype == np.float32


def bad(call, error, *fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert "test_recurrent.py" in str(info.value)  # the user's line


def test_bad_input_is_a_clear_error():
    p = {n: np.zeros(s) for n, s in [("W_ih", (8, 3)), ("W_hh", (8, 2)), ("b_ih", (8,)), ("b_hh", (8,))]}
    xs = gc.tensor("xs", ("T", "n", 3))
    bad(lambda: gc.nn.lstm(gc.matrix("x"), p), gc.ShapeError, "xs must be", "(T, batch, input)", "x (float64")
    bad(lambda: gc.nn.lstm(gc.tensor("xs", (4, 2, 5)), p), gc.ShapeError, "params['W_ih']", "(8, 5)",
        "(8, 3)")  # fmt: skip
    bad(lambda: gc.nn.gru(xs, p), gc.ShapeError, "params['W_ih']", "(6, 3)", "(8, 3)", "H = 2 from W_hh")
    bad(lambda: gc.nn.lstm(xs, {**p, "b_hh": np.zeros(7)}), gc.ShapeError, "params['b_hh']", "(8,)", "(7,)")
    bad(lambda: gc.nn.lstm(xs, {k: v.astype("float32") for k, v in p.items()}), gc.DTypeError, "W_ih",
        "float32", "xs (float64")  # fmt: skip
    bad(lambda: gc.nn.lstm(xs, {"W_ih": p["W_ih"]}), gc.InputError, "lacks W_hh, b_ih, b_hh")
    bad(lambda: gc.nn.lstm(xs, p, bidirectional=True), gc.InputError, "W_ih_reverse")
    bad(lambda: gc.nn.lstm(xs, [p]), gc.InputError, "params must be a dict", "list")
    h0 = gc.matrix("h0", ("n", 3))
    bad(
        lambda: gc.nn.lstm(xs, p, h0=h0), gc.ShapeError, "h0 must have shape", "(n, 2)", "h0 (float64 (n, 3))"
    )
    bad(lambda: gc.nn.lstm(xs, p, c0=gc.tensor("c", ("n", 2), "float32")), gc.DTypeError, "c0", "float32")
    bad(lambda: gc.nn.lstm(xs, p, mask=gc.matrix("m", ("T", "n"))), gc.ShapeError, "mask must be bool",
        "m (float64")  # fmt: skip
    bad(lambda: gc.nn.lstm(xs, p, mask=gc.tensor("m", ("n", "T"), "bool")), gc.ShapeError, "(T, n)")
    bad(lambda: gc.nn.lstm(xs, p, lengths=gc.vector("len")), gc.ShapeError, "integer vector", "len (float64")
    mask, lengths = gc.tensor("m", ("T", "n"), "bool"), gc.vector("l", "n", "int64")
    bad(lambda: gc.nn.lstm(xs, p, mask=mask, lengths=lengths), gc.InputError, "not both")
    p1 = {k: v[:2] for k, v in p.items()}
    bad(lambda: gc.nn.rnn(xs, p1, nonlinearity="sigmoid"), gc.InputError, "'tanh' or 'relu'", "'sigmoid'")


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_cell_is_one_step_of_its_layer(kind):
    fn, _, extra = KINDS[kind]
    cell = {"rnn": gc.nn.rnn_cell, "rnn_relu": gc.nn.rnn_cell, "lstm": gc.nn.lstm_cell, "gru": gc.nn.gru_cell}
    params = copied(torch_layer(kind, bidirectional=False))
    rng = np.random.default_rng(0)
    x, h, c = (gc.constant(rng.normal(size=s)) for s in [(N, I), (N, H), (N, H)])
    state = (h, c) if kind == "lstm" else h
    stepped = cell[kind](x, state, params, **extra)
    looped = fn(gc.reshape(x, (1, N, I)), params, h0=h, **({"c0": c} if kind == "lstm" else {}), **extra)[1]
    stepped, looped = (list(v) if kind == "lstm" else [v] for v in (stepped, looped))
    got = gc.function([], stepped + looped)()
    for a, b in zip(got[: len(stepped)], got[len(stepped) :], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    bad(lambda: gc.nn.gru_cell(x, gc.matrix("h", (N, 3)), copied(torch_layer("gru", False))), gc.ShapeError,
        "the state must be (3, 4) float64", "h (float64 (3, 3))")  # fmt: skip
