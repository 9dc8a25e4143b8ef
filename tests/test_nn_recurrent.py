"""Recurrent cells and layers: PyTorch's equations, names and shapes; gradients; identities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, topological_order

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")

I, H, B, T = 3, 4, 2, 5


def rand(*shape, seed=0, requires_grad=True):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


# -- PyTorch equivalence ------------------------------------------------------------------------------

CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {})]


def _torch_state_dict(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _compare_grads(ref_module, ours, atol):
    ref_params = dict(ref_module.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, ref_params[name].grad.numpy(), atol=atol, err_msg=name)


@needs_torch
@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-9), (np.float32, 1e-4)])
@pytest.mark.parametrize("cls,kw", CELLS, ids=[f"{c}-{k.get('nonlinearity', '')}" for c, k in CELLS])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_pytorch_over_several_steps(cls, kw, bias, dtype, atol):
    torch.manual_seed(0)
    ref = getattr(torch.nn, cls)(I, H, bias=bias, **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, cls)(I, H, bias=bias, **kw).to_dtype(dtype)
    ours.load_state_dict(_torch_state_dict(ref))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    xs = np.random.default_rng(1).standard_normal((T, B, I)).astype(dtype)
    x_ours = [tg.Tensor(x, requires_grad=True) for x in xs]
    x_ref = [torch.tensor(x, requires_grad=True) for x in xs]
    lstm = cls == "LSTMCell"
    s_ours = s_ref = None
    loss_ours, loss_ref = 0, 0
    for t in range(T):
        s_ours = ours(x_ours[t], s_ours)
        s_ref = ref(x_ref[t], s_ref)
        h_ours, h_ref = (s_ours[0], s_ref[0]) if lstm else (s_ours, s_ref)
        np.testing.assert_allclose(h_ours.data, h_ref.detach().numpy(), atol=atol)
        loss_ours = loss_ours + (h_ours * float(t + 1)).sum()
        loss_ref = loss_ref + (h_ref * float(t + 1)).sum()
    if lstm:
        loss_ours, loss_ref = loss_ours + s_ours[1].sum(), loss_ref + s_ref[1].sum()
    loss_ours.backward()
    loss_ref.backward()
    for a, b in zip(x_ours, x_ref, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), atol=atol)
    _compare_grads(ref, ours, atol)


LAYERS = ["RNN", "LSTM", "GRU"]


@needs_torch
@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-9), (np.float32, 1e-4)])
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("num_layers,batch_first,with_state", [(1, False, False), (2, True, True), (3, False, True)])
def test_layer_matches_pytorch(cls, num_layers, batch_first, with_state, dtype, atol):
    torch.manual_seed(0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    ref = getattr(torch.nn, cls)(I, H, num_layers=num_layers, batch_first=batch_first).to(tdtype)
    ours = getattr(nn, cls)(I, H, num_layers=num_layers, batch_first=batch_first).to_dtype(dtype)
    ours.load_state_dict(_torch_state_dict(ref))
    assert list(ours.state_dict()) == list(ref.state_dict())
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    xo, xr = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hx_o = hx_r = None
    if with_state:
        h0 = rng.standard_normal((num_layers, B, H)).astype(dtype)
        c0 = rng.standard_normal((num_layers, B, H)).astype(dtype)
        if cls == "LSTM":
            hx_o, hx_r = (tg.Tensor(h0), tg.Tensor(c0)), (torch.tensor(h0), torch.tensor(c0))
        else:
            hx_o, hx_r = tg.Tensor(h0), torch.tensor(h0)
    out_o, hn_o = ours(xo, hx_o)
    out_r, hn_r = ref(xr, hx_r)
    np.testing.assert_allclose(out_o.data, out_r.detach().numpy(), atol=atol)
    if cls == "LSTM":
        (h_o, c_o), (h_r, c_r) = hn_o, hn_r
        np.testing.assert_allclose(h_o.data, h_r.detach().numpy(), atol=atol)
        np.testing.assert_allclose(c_o.data, c_r.detach().numpy(), atol=atol)
        hn_o, hn_r = h_o * 2.0 + c_o, h_r * 2.0 + c_r  # one loss term that reaches both h_n and c_n
    else:
        np.testing.assert_allclose(hn_o.data, hn_r.detach().numpy(), atol=atol)
    w = rng.standard_normal(out_o.shape).astype(dtype)
    ((out_o * tg.Tensor(w)).sum() + hn_o.sum()).backward()
    ((out_r * torch.tensor(w)).sum() + hn_r.sum()).backward()
    np.testing.assert_allclose(xo.grad, xr.grad.numpy(), atol=atol)
    _compare_grads(ref, ours, atol)


@needs_torch
def test_unbatched_input_matches_pytorch():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H).double()
    ours = nn.LSTM(I, H).double()
    ours.load_state_dict(_torch_state_dict(ref))
    x = np.random.default_rng(3).standard_normal((T, I))
    out_o, (h_o, c_o) = ours(tg.Tensor(x))
    out_r, (h_r, c_r) = ref(torch.tensor(x))
    assert out_o.shape == (T, H) and h_o.shape == (1, H)
    np.testing.assert_allclose(out_o.data, out_r.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_o.data, c_r.detach().numpy(), atol=1e-12)


@needs_torch
def test_default_initialisation_ranges_match_pytorch():
    nn.manual_seed(0)
    for cls in ("RNNCell", "LSTMCell", "GRUCell", "LSTM"):
        ours = getattr(nn, cls)(10, 25)
        ref = getattr(torch.nn, cls)(10, 25)
        for (n, p), (n2, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
            assert n == n2 and p.shape == tuple(q.shape) and p.dtype == np.float32
            assert np.abs(p.data).max() <= 1 / np.sqrt(25) + 1e-7
            assert np.abs(p.data).max() > 0.8 / np.sqrt(25)  # really spread over the range


# -- gradients, identities ---------------------------------------------------------------------------

ALL_CELLS = [nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.PeepholeLSTMCell, nn.CoupledLSTMCell]


@pytest.mark.parametrize("cls", ALL_CELLS, ids=[c.__name__ for c in ALL_CELLS])
def test_cell_gradcheck_float64(cls):
    nn.manual_seed(1)
    cell = cls(I, H).double()
    lstm = issubclass(cls, nn.LSTMCell)

    def run(x0, x1, h0, *params):
        state = (h0, h0 * 0.5) if lstm else h0
        for x in (x0, x1):
            state = cell(x, state)
        return (state[0] * state[1]).sum() if lstm else state.sum()

    inputs = [rand(B, I, seed=2), rand(B, I, seed=3), rand(B, H, seed=4), *cell.parameters()]
    assert tg.gradcheck(run, inputs)


def test_peephole_with_zero_peepholes_is_lstm():
    nn.manual_seed(0)
    peep, plain = nn.PeepholeLSTMCell(I, H).double(), nn.LSTMCell(I, H).double()
    plain.load_state_dict({k: v for k, v in peep.state_dict().items() if k in plain.state_dict()})
    for w in (peep.weight_ci, peep.weight_cf, peep.weight_co):
        w.data[...] = 0
    x, h, c = rand(B, I, seed=1), rand(B, H, seed=2), rand(B, H, seed=3)
    hp, cp = peep(x, (h, c))
    hl, cl = plain(x, (h, c))
    np.testing.assert_allclose(hp.data, hl.data, atol=1e-15)
    np.testing.assert_allclose(cp.data, cl.data, atol=1e-15)
    for w in (peep.weight_ci, peep.weight_cf, peep.weight_co):  # and the peepholes do matter
        w.data[...] = 0.5
    assert not np.allclose(peep(x, (h, c))[1].data, cl.data)


def test_coupled_is_lstm_with_input_gate_one_minus_forget():
    """An LSTMCell computed by hand with i forced to 1 - f, using the coupled cell's f, g, o weights."""
    nn.manual_seed(0)
    cell = nn.CoupledLSTMCell(I, H).double()
    x, h, c = rand(B, I, seed=1), rand(B, H, seed=2), rand(B, H, seed=3)
    hc, cc = cell(x, (h, c))
    W_ih, W_hh = cell.weight_ih.data, cell.weight_hh.data
    pre = x.data @ W_ih.T + cell.bias_ih.data + h.data @ W_hh.T + cell.bias_hh.data
    f, g, o = 1 / (1 + np.exp(-pre[:, :H])), np.tanh(pre[:, H : 2 * H]), 1 / (1 + np.exp(-pre[:, 2 * H :]))
    c_new = f * c.data + (1 - f) * g
    np.testing.assert_allclose(cc.data, c_new, atol=1e-14)
    np.testing.assert_allclose(hc.data, o * np.tanh(c_new), atol=1e-14)
    assert cell.weight_ih.shape == (3 * H, I)


def test_variant_layers_run_and_name_parameters():
    for cls in (nn.PeepholeLSTM, nn.CoupledLSTM):
        layer = cls(I, H, num_layers=2)
        out, (h, c) = layer(rand(T, B, I, requires_grad=False))
        assert out.shape == (T, B, H) and h.shape == c.shape == (2, B, H)
    names = [n for n, _ in nn.PeepholeLSTM(I, H).named_parameters()]
    assert names[-3:] == ["weight_ci_l0", "weight_cf_l0", "weight_co_l0"]


def test_layer_parameters_are_attributes_under_pytorch_names():
    lstm = nn.LSTM(I, H, num_layers=2)
    for name, p in lstm.named_parameters():
        assert getattr(lstm, name) is p
    assert lstm.weight_hh_l1 is lstm.cells[1].weight_hh
    for missing in ("weight_hh_l2", "weight_xx_l0", "bias_l0", "nothing"):
        with pytest.raises(AttributeError, match=missing):
            getattr(lstm, missing)


# -- scopes, names, truncation -------------------------------------------------------------------------


def test_layer_records_layer_step_and_gate_scopes():
    lstm = nn.LSTM(I, H, num_layers=2)
    out, (h, c) = lstm(rand(3, B, I, requires_grad=False))
    scopes = {fn.scope for fn in topological_order(out)}  # every node of the graph, with its scope
    for layer in ("layer=0", "layer=1"):
        for step in ("t=0", "t=1", "t=2"):
            for gate in ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state"):
                assert ("lstm", layer, step, gate) in scopes


def test_cell_names_its_gate_tensors():
    h, c = nn.LSTMCell(I, H)(rand(B, I))
    assert (h.name, c.name) == ("h", "c")
    mul, _ = c._ctx.parents[0]  # c = (f * c_prev) + (i * g): the node of f * c_prev ...
    f, _ = mul.parents[0]  # ... and of f
    assert f.names == ["f"] and f.scope == ("lstmcell", "forget_gate") and f.name == "sigmoid"


# Per cell: the tensors its step names, with the op and scope that make them; and the ops of each scope
# (sorted). What is outside the gates' scopes is the plumbing: the two projections and the split.
_LSTM_NAMED = {
    "i": ("sigmoid", ("input_gate",)),
    "f": ("sigmoid", ("forget_gate",)),
    "g": ("tanh", ("candidate",)),
    "c": ("add", ("cell_state",)),
    "o": ("sigmoid", ("output_gate",)),
    "h": ("mul", ("output_gate",)),
}
_LSTM_OPS = {
    "input_gate": ["sigmoid"],  # i_t = σ(W_i·[h_{t-1}, x_t] + b_i)
    "forget_gate": ["sigmoid"],
    "candidate": ["tanh"],
    "cell_state": ["add", "mul", "mul"],  # C_t = f_t * C_{t-1} + i_t * C̃_t
    "output_gate": ["mul", "sigmoid", "tanh"],  # o_t, then h_t = o_t * tanh(C_t)
}
STEPS = {
    nn.RNNCell: ({"h": ("tanh", ())}, {}),
    nn.LSTMCell: (_LSTM_NAMED, _LSTM_OPS),
    nn.PeepholeLSTMCell: (
        _LSTM_NAMED,
        {
            **_LSTM_OPS,
            "input_gate": ["add", "mul", "sigmoid"],  # σ(pre_i + w_ci * C_{t-1})
            "forget_gate": ["add", "mul", "sigmoid"],
            "output_gate": ["add", "mul", "mul", "sigmoid", "tanh"],  # σ(pre_o + w_co * C_t), h_t = o_t * tanh(C_t)
        },
    ),
    nn.CoupledLSTMCell: (  # i_t = 1 - f_t, that is 1 + (-f_t)
        {**_LSTM_NAMED, "i": ("add", ("input_gate",))},
        {**_LSTM_OPS, "input_gate": ["add", "neg"]},
    ),
    nn.GRUCell: (
        {
            "r": ("sigmoid", ("reset_gate",)),
            "z": ("sigmoid", ("update_gate",)),
            "n": ("tanh", ("candidate",)),
            "h": ("add", ("hidden",)),
        },
        {
            "reset_gate": ["add", "sigmoid"],
            "update_gate": ["add", "sigmoid"],
            "candidate": ["add", "mul", "tanh"],  # tanh(x_n + r_t * h_n)
            "hidden": ["add", "add", "mul", "mul", "neg"],  # (1 - z_t) * n_t + z_t * h_{t-1}
        },
    ),
}


@pytest.mark.parametrize("cls", ALL_CELLS, ids=lambda c: c.__name__)
def test_each_step_makes_its_lines_in_their_scopes(cls):
    named, per_scope = STEPS[cls]
    out = cls(I, H)(rand(B, I))
    nodes = topological_order(out[0] if isinstance(out, tuple) else out)
    cell_scope = nodes[0].scope[0]  # the cell's own scope, pushed when it is called
    assert {fn.names[0]: (fn.name, fn.scope[1:]) for fn in nodes if fn.names[0]} == named
    scopes = {fn.scope[1:] for fn in nodes} - {()}
    assert {s[0]: sorted(fn.name for fn in nodes if fn.scope[1:] == s) for s in scopes} == per_scope
    plumbing = sorted(fn.name for fn in nodes if fn.scope == (cell_scope,) and fn.names[0] is None)
    splits = ["split", "split"] if cls is nn.GRUCell else [] if cls is nn.RNNCell else ["split"]
    adds = ["add", "add"] if cls is nn.GRUCell else ["add", "add", "add"]  # biases, then h's part + x's part
    assert plumbing == sorted([*adds, "matmul", "matmul", *splits, "transpose", "transpose"])


def test_truncated_bptt_detach_state():
    lstm = nn.LSTM(I, H)
    x = rand(2 * T, B, I, requires_grad=True)
    out1, state = lstm(x[:T])
    state = nn.detach_state(state)
    out2, _ = lstm(x[T:], state)
    out2.sum().backward()
    assert np.all(x.grad[:T] == 0) and np.any(x.grad[T:] != 0)  # no gradient crossed the cut
    assert state[0]._ctx is None and state[1]._ctx is None


# -- errors ----------------------------------------------------------------------------------------------


def test_clear_errors():
    with pytest.raises(tg.OpError, match=r"LSTMCell: input has 5 features .* expected input_size=3"):
        nn.LSTMCell(I, H)(rand(B, 5))
    with pytest.raises(tg.OpError, match=r"GRUCell: h has shape \(2, 3\), expected \(2, 4\)"):
        nn.GRUCell(I, H)(rand(B, I), rand(B, 3))
    with pytest.raises(tg.OpError, match=r"LSTM: h_0 has shape"):
        nn.LSTM(I, H, num_layers=2)(rand(T, B, I), (rand(1, B, H), rand(2, B, H)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(I, H, num_layers=0)
    with pytest.raises(tg.OpError, match="input must be 2-D"):
        nn.RNN(I, H)(rand(B, T, I, 1))


def test_slicing_one_tensor_per_step_accumulates_every_step():
    """T slices of one tensor: every step's gradient lands in its own row, none lost."""
    x = rand(50, 3)
    total = x[0].sum() * 0.0
    for t in range(50):
        total = total + (x[t] * float(t)).sum()
    total.backward()
    np.testing.assert_array_equal(x.grad[:, 0], np.arange(50, dtype=float))


# -- detect_anomaly names the time step ------------------------------------------------------------


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CoupledLSTM"])
def test_detect_anomaly_names_the_time_step_of_a_nan_in_the_input(layer):
    model = getattr(nn, layer)(I, H, num_layers=2)
    x = np.random.default_rng(0).standard_normal((10, B, I))
    x[7, 1, 2] = np.nan
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=rf"in scope {layer.lower()}/layer=0/t=7\)"):
        model(tg.Tensor(x))


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_detect_anomaly_names_the_time_step_of_a_nan_in_the_gradient(layer):
    model = getattr(nn, layer)(I, H).double()
    with tg.detect_anomaly():
        out, _ = model(rand(6, B, I))
    grad = np.ones(out.shape)
    grad[4, 0, 1] = np.inf  # dL/dh_4 is infinite: backward's first step through it is t=4
    where = rf"backward produced nan or inf.* gradient for 'h' .*{layer.lower()}/layer=0/t=4[/)]"
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError, match=where):
        out.backward(grad)


def test_anomaly_mode_gives_the_same_numbers():
    model = nn.LSTM(I, H, num_layers=2).double()
    x = rand(T, B, I, seed=1)
    results = []
    for anomaly in (False, True):
        model.zero_grad()
        with tg.detect_anomaly() if anomaly else tg.enable_grad():
            out, (h, c) = model(x)
            (out.sum() + c.sum()).backward()
        results.append([out.data, c.data, *(p.grad for p in model.parameters())])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- bidirectional -----------------------------------------------------------------------------------------


def _torch_hx(cls, rng, shape, dtype=np.float64):
    h0, c0 = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    ours_h, ref_h = tg.Tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    ours_c, ref_c = tg.Tensor(c0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    if cls == "LSTM":
        return (ours_h, ours_c), (ref_h, ref_c)
    return ours_h, ref_h


def _check_against_torch(ours, ref, x, hx_o, hx_r, cls, atol):
    xo, xr = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_o, hn_o = ours(xo, hx_o)
    out_r, hn_r = ref(xr, hx_r)
    assert out_o.shape == tuple(out_r.shape)
    np.testing.assert_allclose(out_o.data, out_r.detach().numpy(), atol=atol)
    if cls == "LSTM":
        (h_o, c_o), (h_r, c_r) = hn_o, hn_r
        np.testing.assert_allclose(c_o.data, c_r.detach().numpy(), atol=atol)
        hn_o, hn_r = h_o * 2.0 + c_o, h_r * 2.0 + c_r  # one loss term that reaches both h_n and c_n
    np.testing.assert_allclose(hn_o.data, hn_r.detach().numpy(), atol=atol)
    rng = np.random.default_rng(7)
    w, v = rng.standard_normal(out_o.shape), rng.standard_normal(hn_o.shape)
    ((out_o * tg.Tensor(w)).sum() + (hn_o * tg.Tensor(v)).sum()).backward()
    ((out_r * torch.tensor(w)).sum() + (hn_r * torch.tensor(v)).sum()).backward()
    np.testing.assert_allclose(xo.grad, xr.grad.numpy(), atol=atol)
    for a, b in zip(
        hx_o if isinstance(hx_o, tuple) else [hx_o], hx_r if isinstance(hx_r, tuple) else [hx_r], strict=True
    ):
        if a is not None:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), atol=atol)
    _compare_grads(ref, ours, atol)


@needs_torch
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_bidirectional_layer_matches_pytorch(cls, num_layers, batch_first, with_state):
    torch.manual_seed(0)
    kw = {"num_layers": num_layers, "batch_first": batch_first, "bidirectional": True}
    ref = getattr(torch.nn, cls)(I, H, **kw).double()
    ours = getattr(nn, cls)(I, H, **kw).double()
    ours.load_state_dict(_torch_state_dict(ref))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    hx_o, hx_r = _torch_hx(cls, rng, (2 * num_layers, B, H)) if with_state else (None, None)
    _check_against_torch(ours, ref, x, hx_o, hx_r, cls, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("with_state", [False, True])
def test_bidirectional_unbatched_input_matches_pytorch(cls, with_state):
    torch.manual_seed(1)
    ref = getattr(torch.nn, cls)(I, H, num_layers=2, bidirectional=True).double()
    ours = getattr(nn, cls)(I, H, num_layers=2, bidirectional=True).double()
    ours.load_state_dict(_torch_state_dict(ref))
    rng = np.random.default_rng(3)
    hx_o, hx_r = _torch_hx(cls, rng, (4, H)) if with_state else (None, None)
    _check_against_torch(ours, ref, rng.standard_normal((T, I)), hx_o, hx_r, cls, atol=1e-12)


@needs_torch
def test_bidirectional_float32_matches_pytorch():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)
    ours = nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)
    ours.load_state_dict(_torch_state_dict(ref))
    x = np.random.default_rng(4).standard_normal((B, T, I)).astype(np.float32)
    _check_against_torch(ours, ref, x, None, None, "LSTM", atol=1e-5)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.PeepholeLSTM, nn.CoupledLSTM])
def test_reverse_direction_is_the_forward_layer_on_the_flipped_sequence(cls):
    """For every layer, the variants too: the second half of output is a one-way layer with the _reverse weights
    run over x[::-1], flipped back."""
    tg.manual_seed(0)
    bi = cls(I, H, bidirectional=True).double()
    one_way = cls(I, H).double()
    one_way.load_state_dict({k.removesuffix("_reverse"): v for k, v in bi.state_dict().items() if "_reverse" in k})
    x = rand(T, B, I, requires_grad=False)
    out, state = bi(x)
    flipped, state_r = one_way(tg.Tensor(x.data[::-1].copy()))
    np.testing.assert_allclose(out.data[:, :, H:], flipped.data[::-1], atol=1e-14)
    h_n = state[0] if isinstance(state, tuple) else state
    np.testing.assert_allclose(h_n.data[1], (state_r[0] if isinstance(state_r, tuple) else state_r).data[0], atol=1e-14)
    assert out.shape == (T, B, 2 * H) and h_n.shape == (2, B, H)


def test_bidirectional_names_attributes_and_input_sizes():
    lstm = nn.PeepholeLSTM(I, H, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:7] == [f"{w}_l0" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *PEEPHOLES)]
    assert names[7:14] == [f"{w}_l0_reverse" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *PEEPHOLES)]
    assert names[14] == "weight_ih_l1" and names[-1] == "weight_co_l1_reverse" and len(names) == 28
    for name, p in lstm.named_parameters():
        assert getattr(lstm, name) is p
    assert lstm.weight_ih_l1.shape == (4 * H, 2 * H)  # layer 1 reads both directions of layer 0
    assert lstm.weight_hh_l0_reverse is lstm.cells[1].weight_hh and lstm.weight_hh_l1 is lstm.cells[2].weight_hh
    with pytest.raises(AttributeError, match="weight_hh_l0_reverse"):
        nn.LSTM(I, H).weight_hh_l0_reverse
    with pytest.raises(AttributeError, match="weight_hh_l2_reverse"):
        lstm.weight_hh_l2_reverse
    assert repr(nn.GRU(I, H, bidirectional=True)).startswith(
        "GRU(3, 4, num_layers=1, batch_first=False, bidirectional=True"
    )
    with pytest.raises(tg.OpError, match=r"LSTM: h_0 has shape \(2, 2, 4\), expected \(4, 2, 4\)"):
        nn.LSTM(I, H, num_layers=2, bidirectional=True)(rand(T, B, I), (rand(2, B, H), rand(2, B, H)))


PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


def test_bidirectional_scopes_name_the_direction():
    out, _ = nn.GRU(I, H, num_layers=2, bidirectional=True)(rand(3, B, I, requires_grad=False))
    scopes = {fn.scope for fn in topological_order(out)}
    for layer in ("layer=0", "layer=1"):
        for direction in ("forward", "reverse"):
            for step in ("t=0", "t=1", "t=2"):
                assert ("gru", layer, direction, step, "update_gate") in scopes
    out, _ = nn.GRU(I, H)(rand(3, B, I, requires_grad=False))  # one way: no direction in the scopes
    assert not any("forward" in s or "reverse" in s for fn in topological_order(out) for s in [fn.scope])


def test_bidirectional_layers_can_be_drawn_at_every_level():
    lstm = nn.LSTM(I, H, bidirectional=True, rng=np.random.default_rng(0))
    out, _ = lstm(rand(3, 1, I))
    loss = (out[-1] * out[-1]).sum()
    loss.backward(retain_grads=True)
    for level in ("op", "gate", "cell"):
        for rolled in (False, True):
            source = tg.viz.draw(loss, level=level, rolled=rolled, max_nodes=None).source
            assert "forward" in source and "reverse" in source


def test_detect_anomaly_names_the_reverse_step_of_an_inf_gradient():
    model = nn.LSTM(I, H, bidirectional=True).double()
    with tg.detect_anomaly():
        out, (h_n, _) = model(rand(6, B, I))
    grad = np.ones(h_n.shape)
    grad[1, 0, 1] = np.inf  # h_n[1] is the reverse direction's last state: its step t=0
    where = r"backward produced nan or inf.* gradient for 'h' .*lstm/layer=0/reverse/t=0[/)]"
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError, match=where):
        h_n.backward(grad)
    with tg.detect_anomaly():
        out, _ = model(rand(6, B, I))
    grad = np.ones(out.shape)
    grad[4, 0, H + 1] = np.inf  # in the reverse half of the output: caught where the halves are joined
    where = r"cat: backward produced nan or inf .*in the gradient for \(6, 2, 4\) \(in scope lstm/layer=0/reverse\)"
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError, match=where):
        out.backward(grad)
    x = np.random.default_rng(0).standard_normal((10, B, I))
    x[7, 1, 2] = np.nan
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"in scope lstm/layer=0/forward/t=7\)"):
        model(tg.Tensor(x))


def test_bidirectional_anomaly_mode_gives_the_same_numbers():
    model = nn.GRU(I, H, num_layers=2, bidirectional=True).double()
    x = rand(T, B, I, seed=1)
    results = []
    for anomaly in (False, True):
        model.zero_grad()
        with tg.detect_anomaly() if anomaly else tg.enable_grad():
            out, h = model(x)
            (out.sum() + (h * h).sum()).backward()
        results.append([out.data, h.data, *(p.grad for p in model.parameters())])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- dropout between layers ------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_dropout_matches_pytorch_where_it_is_deterministic(cls, bidirectional):
    """p = 1 zeroes every layer's output but the last's, in PyTorch too; eval mode turns dropout off."""
    torch.manual_seed(0)
    kw = {"num_layers": 3, "bidirectional": bidirectional}
    x = np.random.default_rng(5).standard_normal((T, B, I))
    for p, train in ((1.0, True), (0.5, False)):
        ref = getattr(torch.nn, cls)(I, H, dropout=p, **kw).double().train(train)
        ours = getattr(nn, cls)(I, H, dropout=p, **kw).double().train(train)
        ours.load_state_dict(_torch_state_dict(ref))
        _check_against_torch(ours, ref, x, None, None, cls, atol=1e-12)
    assert ours.dropout == 0.5 and "dropout=0.5" in repr(ours)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_dropout_is_applied_to_every_output_but_the_last(bidirectional):
    """A 3-layer LSTM in training mode equals three 1-layer LSTMs with F.dropout between them, mask for mask
    (same seed: the layer draws its masks from the same generator, in the same order)."""
    D = 2 if bidirectional else 1
    stacked = nn.LSTM(I, H, num_layers=3, dropout=0.4, bidirectional=bidirectional).double()
    sd = stacked.state_dict()
    singles = []
    for k in range(3):
        single = nn.LSTM(I if k == 0 else D * H, H, bidirectional=bidirectional).double()
        single.load_state_dict({n.replace(f"_l{k}", "_l0"): v for n, v in sd.items() if f"_l{k}" in n})
        singles.append(single)
    x = rand(T, B, I, seed=2)
    tg.manual_seed(11)
    out, (h, c) = stacked(x)
    tg.manual_seed(11)
    y, finals = x, []
    for k, single in enumerate(singles):
        y, (h_k, c_k) = single(y)
        finals.append(h_k)
        if k < 2:
            y = F_dropout(y, 0.4)
    np.testing.assert_array_equal(out.data, y.data)
    np.testing.assert_array_equal(h.data, tg.cat(finals).data)
    tg.manual_seed(12)
    again, _ = stacked(x)
    assert not np.array_equal(again.data, out.data)  # another seed, other masks
    stacked.eval()
    a, _ = stacked(x)
    b, _ = stacked(x)
    np.testing.assert_array_equal(a.data, b.data)  # no dropout in eval mode


def F_dropout(x, p):
    return nn.functional.dropout(x, p)


def test_layer_dropout_arguments_and_the_one_layer_warning():
    for cls in (nn.RNN, nn.LSTM, nn.GRU, nn.PeepholeLSTM, nn.CoupledLSTM):
        with pytest.warns(UserWarning, match=r"dropout=0.5 with num_layers=1 does nothing") as caught:
            cls(I, H, dropout=0.5)
        assert caught[0].filename == __file__  # the warning points at the line that made the layer
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError, match=rf"{cls.__name__}: dropout is a probability and must be in \[0, 1\]"):
                cls(I, H, num_layers=2, dropout=bad)
        with pytest.raises(TypeError, match=rf"{cls.__name__}: dropout must be a number"):
            cls(I, H, num_layers=2, dropout=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(I, H, num_layers=2, dropout=0.5)  # no warning
        nn.LSTM(I, H, dropout=0.0)


# -- PyTorch's other constructor arguments -----------------------------------------------------------------


@needs_torch
def test_rnn_takes_nonlinearity_as_its_fourth_argument_as_pytorch():
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, 2, "relu").double()
    ours = nn.RNN(I, H, 2, "relu").double()
    assert ours.cells[1].nonlinearity == "relu"
    ours.load_state_dict(_torch_state_dict(ref))
    _check_against_torch(ours, ref, np.random.default_rng(0).standard_normal((T, B, I)), None, None, "RNN", 1e-12)


def test_layer_arguments_are_checked_as_pytorch_checks_them():
    with pytest.raises(TypeError, match="LSTM: bias must be True or False, got 'relu'"):
        nn.LSTM(I, H, 1, "relu")  # an RNN's nonlinearity passed to an LSTM
    with pytest.raises(TypeError, match="GRU: batch_first must be True or False"):
        nn.GRU(I, H, batch_first=1)
    with pytest.raises(TypeError, match="RNN: bidirectional must be True or False"):
        nn.RNN(I, H, bidirectional="yes")
    with pytest.raises(TypeError, match=r"LSTM: proj_size=2 is not supported .*leave proj_size=0"):
        nn.LSTM(I, H, proj_size=2)
