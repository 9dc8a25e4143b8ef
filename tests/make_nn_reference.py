"""Regenerate tests/reference/nn_reference.npz: recurrent cells and layers run by PyTorch, outputs and gradients.

    python tests/make_nn_reference.py        (needs PyTorch; the output is the same byte for byte on every run)

This file owns the cases (CASES) and the computation each case makes (run_case, loss_of). For every case it
builds the module in float64 from a fixed seed, runs T steps on seeded inputs (and a seeded initial state when
the case has one), takes a loss that weighs every output element by a fixed random projection, calls backward,
and stores:

    {case}/{param}           the state_dict (PyTorch's names: weight_ih_l0, ...)
    {case}/input, h0, c0     the inputs: x, and the initial state when given
    {case}/proj/{output}     the projections that make the loss
    {case}/{output}          output, h_n, c_n (layers); output = h_t of every step, cell_output = c_t (cells)
    {case}/grad/{name}       the gradient of the loss with respect to every input and every parameter
    config                   JSON: per case, its class, constructor arguments, and the names above
    torch_version

RNNCell, LSTMCell, GRUCell, RNN, LSTM and GRU are PyTorch's own torch.nn modules. PeepholeLSTMCell,
CoupledLSTMCell and their layers have no PyTorch counterpart: their references come from TorchVariantLSTM
below, the equations of the docstrings in tinygrad_rnn/nn/recurrent.py written again with torch's primitive
ops. That is an independent implementation of the same equations (sharing no code with tinygrad_rnn) checked
against ours, not a comparison with a published implementation.

tests/test_nn_reference.py runs tinygrad_rnn on the stored inputs and compares, so the comparison with
PyTorch also runs where PyTorch is not installed. This module imports torch only inside functions, so the
test can import it for CASES and run_case without PyTorch.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "reference" / "nn_reference.npz"
B, T, I, H = 3, 5, 4, 6  # batch, time steps, input_size, hidden_size

TORCH_CLASSES = ("RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU")
LSTM_LIKE = ("LSTMCell", "PeepholeLSTMCell", "CoupledLSTMCell", "LSTM", "PeepholeLSTM", "CoupledLSTM")


def _case(cls: str, state: bool, batched: bool = True, **kwargs) -> dict:
    return {"class": cls, "kwargs": kwargs, "initial_state": state, "batched": batched}


# name -> class (the same name in tinygrad_rnn.nn and, for TORCH_CLASSES, torch.nn), whether an initial state
# is given, whether the input has a batch axis, and keyword arguments after (input_size, hidden_size).
CASES: dict[str, dict] = {
    "rnn_cell_tanh": _case("RNNCell", True, nonlinearity="tanh"),
    "rnn_cell_relu_no_bias": _case("RNNCell", False, nonlinearity="relu", bias=False),
    "lstm_cell": _case("LSTMCell", True),
    "lstm_cell_no_bias": _case("LSTMCell", False, bias=False),
    "lstm_cell_unbatched": _case("LSTMCell", True, batched=False),
    "gru_cell": _case("GRUCell", True),
    "gru_cell_no_bias": _case("GRUCell", False, bias=False),
    "gru_cell_unbatched": _case("GRUCell", True, batched=False),
    "peephole_lstm_cell": _case("PeepholeLSTMCell", True),
    "peephole_lstm_cell_unbatched_no_bias": _case("PeepholeLSTMCell", False, batched=False, bias=False),
    "coupled_lstm_cell": _case("CoupledLSTMCell", True),
    "coupled_lstm_cell_unbatched_no_bias": _case("CoupledLSTMCell", False, batched=False, bias=False),
    "rnn": _case("RNN", False),
    "rnn_relu_2layer_batch_first": _case("RNN", True, nonlinearity="relu", num_layers=2, batch_first=True),
    "rnn_2layer_unbatched": _case("RNN", True, batched=False, num_layers=2),
    "lstm": _case("LSTM", False),
    "lstm_2layer": _case("LSTM", True, num_layers=2),
    "lstm_2layer_batch_first": _case("LSTM", True, num_layers=2, batch_first=True),
    "lstm_no_bias_batch_first": _case("LSTM", False, bias=False, batch_first=True),
    "lstm_unbatched": _case("LSTM", True, batched=False),
    "gru": _case("GRU", False),
    "gru_2layer_batch_first": _case("GRU", True, num_layers=2, batch_first=True),
    "gru_2layer_no_bias": _case("GRU", True, num_layers=2, bias=False),
    "gru_unbatched": _case("GRU", False, batched=False),
    "peephole_lstm_batch_first": _case("PeepholeLSTM", False, batch_first=True),
    "peephole_lstm_2layer": _case("PeepholeLSTM", True, num_layers=2),
    "coupled_lstm": _case("CoupledLSTM", False),
    "coupled_lstm_2layer_batch_first": _case("CoupledLSTM", True, num_layers=2, batch_first=True),
    "coupled_lstm_unbatched_no_bias": _case("CoupledLSTM", True, batched=False, bias=False),
}


def is_layer(case: dict) -> bool:
    return not case["class"].endswith("Cell")


def seed_of(name: str) -> int:
    """A seed per case that does not change when other cases are added or reordered."""
    return zlib.crc32(name.encode())


def input_shapes(case: dict) -> dict[str, tuple[int, ...]]:
    """Shapes of the input x and, when the case has one, of the initial state h0 (and c0 for LSTMs)."""
    kw = case["kwargs"]
    batch = (B,) if case["batched"] else ()
    if is_layer(case):
        x = ((B, T, I) if kw.get("batch_first") else (T, B, I)) if case["batched"] else (T, I)
        state = (kw.get("num_layers", 1), *batch, H)
    else:
        x, state = (T, *batch, I), (*batch, H)  # a cell is stepped along the first axis of x
    shapes = {"input": x}
    if case["initial_state"]:
        shapes["h0"] = state
        if case["class"] in LSTM_LIKE:
            shapes["c0"] = state
    return shapes


def make_inputs(name: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed_of(name))
    return {k: rng.standard_normal(shape) for k, shape in input_shapes(CASES[name]).items()}


def initial_state(inputs: dict):
    """The state argument of the module: None, h0, or (h0, c0); works for any tensor type."""
    if "c0" in inputs:
        return inputs["h0"], inputs["c0"]
    return inputs.get("h0")


def run_case(module, case: dict, x, state, stack) -> dict:
    """What every case computes, in torch or tinygrad_rnn (only shared operators; stack is torch.stack or
    tinygrad_rnn.stack). A layer runs the whole sequence; a cell is called once per step of x's first axis."""
    if is_layer(case):
        output, final = module(x, state)
        if isinstance(final, tuple):
            return {"output": output, "h_n": final[0], "c_n": final[1]}
        return {"output": output, "h_n": final}
    hs, cs = [], []
    for t in range(x.shape[0]):
        state = module(x[t], state)
        if isinstance(state, tuple):
            hs.append(state[0])
            cs.append(state[1])
        else:
            hs.append(state)
    outputs = {"output": stack(hs)}
    if cs:
        outputs["cell_output"] = stack(cs)
    return outputs


def loss_of(outputs: dict, projections: dict):
    """sum over outputs of (output * projection).sum(): every element of every output reaches the loss."""
    terms = [(outputs[k] * projections[k]).sum() for k in sorted(outputs)]
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    return loss


# -- the LSTM variants, written again with torch's primitive ops ----------------------------------------


def peephole_step(w: dict, x, h, c):
    """PeepholeLSTMCell: i and f look at the old c, o at the new c, through diagonal weights (H,)."""
    gates = x @ w["weight_ih"].T + h @ w["weight_hh"].T
    if "bias_ih" in w:
        gates = gates + w["bias_ih"] + w["bias_hh"]
    i, f, g, o = gates.chunk(4, -1)
    i = (i + w["weight_ci"] * c).sigmoid()
    f = (f + w["weight_cf"] * c).sigmoid()
    c = f * c + i * g.tanh()
    o = (o + w["weight_co"] * c).sigmoid()
    return o * c.tanh(), c


def coupled_step(w: dict, x, h, c):
    """CoupledLSTMCell: three gate blocks f, g, o; the input gate is 1 - f."""
    gates = x @ w["weight_ih"].T + h @ w["weight_hh"].T
    if "bias_ih" in w:
        gates = gates + w["bias_ih"] + w["bias_hh"]
    f, g, o = gates.chunk(3, -1)
    f = f.sigmoid()
    c = f * c + (1 - f) * g.tanh()
    return o.sigmoid() * c.tanh(), c


class TorchVariantLSTM:
    """Peephole or coupled LSTM cell or layer in torch, with the state_dict names and call signature of
    tinygrad_rnn's (PyTorch's for LSTMCell / LSTM). Weights drawn from U(-1/sqrt(H), 1/sqrt(H)), in float64."""

    def __init__(self, cls: str, input_size: int, hidden_size: int, bias=True, num_layers=1, batch_first=False):
        import torch

        self.layer = not cls.endswith("Cell")
        self.step = peephole_step if cls.startswith("Peephole") else coupled_step
        self.batch_first, self.num_layers = batch_first, num_layers
        n_gates = 4 if self.step is peephole_step else 3
        k = 1 / math.sqrt(hidden_size)
        self.params: dict[str, torch.Tensor] = {}
        for layer in range(num_layers):
            shapes = {
                "weight_ih": (n_gates * hidden_size, input_size if layer == 0 else hidden_size),
                "weight_hh": (n_gates * hidden_size, hidden_size),
            }
            if bias:
                shapes.update(bias_ih=(n_gates * hidden_size,), bias_hh=(n_gates * hidden_size,))
            if self.step is peephole_step:
                shapes.update(weight_ci=(hidden_size,), weight_cf=(hidden_size,), weight_co=(hidden_size,))
            suffix = f"_l{layer}" if self.layer else ""
            for name, shape in shapes.items():
                p = torch.empty(shape, dtype=torch.float64).uniform_(-k, k).requires_grad_()
                self.params[name + suffix] = p
        self.hidden_size = hidden_size

    def named_parameters(self):
        return self.params.items()

    def weights(self, layer: int) -> dict:
        if not self.layer:
            return self.params
        suffix = f"_l{layer}"
        return {n.removesuffix(suffix): p for n, p in self.params.items() if n.endswith(suffix)}

    def __call__(self, x, state=None):
        import torch

        if not self.layer:
            if state is None:
                zero = torch.zeros((*x.shape[:-1], self.hidden_size), dtype=x.dtype)
                state = (zero, zero)
            return self.step(self.params, x, *state)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if state is None:
            zero = torch.zeros((self.num_layers, x.shape[1], self.hidden_size), dtype=x.dtype)
            state = (zero, zero)
        elif not batched:
            state = (state[0].unsqueeze(1), state[1].unsqueeze(1))
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            w, h, c = self.weights(layer), state[0][layer], state[1][layer]
            hs = []
            for t in range(x.shape[0]):
                h, c = self.step(w, x[t], h, c)
                hs.append(h)
            x = torch.stack(hs)
            h_n.append(h)
            c_n.append(c)
        h_n, c_n = torch.stack(h_n), torch.stack(c_n)
        if not batched:
            return x.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (x.transpose(0, 1) if self.batch_first else x), (h_n, c_n)


# -- making the file ----------------------------------------------------------------------------------------


def torch_module(name: str):
    import torch

    case = CASES[name]
    torch.manual_seed(seed_of(name))
    if case["class"] in TORCH_CLASSES:
        return getattr(torch.nn, case["class"])(I, H, dtype=torch.float64, **case["kwargs"])
    return TorchVariantLSTM(case["class"], I, H, **case["kwargs"])


def reference(name: str) -> tuple[dict[str, np.ndarray], dict]:
    """The stored arrays of one case (keys without the case prefix) and its config entry."""
    import torch

    case = CASES[name]
    module = torch_module(name)
    inputs = {k: torch.tensor(v, requires_grad=True) for k, v in make_inputs(name).items()}
    outputs = run_case(module, case, inputs["input"], initial_state(inputs), torch.stack)
    rng = np.random.default_rng(seed_of(name) + 1)
    projections = {k: rng.standard_normal(tuple(v.shape)) for k, v in sorted(outputs.items())}
    loss_of(outputs, {k: torch.tensor(v) for k, v in projections.items()}).backward()

    params = dict(module.named_parameters())
    arrays: dict[str, np.ndarray] = {n: p.detach().numpy().copy() for n, p in params.items()}
    arrays.update({k: v.detach().numpy().copy() for k, v in inputs.items()})
    arrays.update({f"proj/{k}": v for k, v in projections.items()})
    arrays.update({k: v.detach().numpy().copy() for k, v in outputs.items()})
    for n, t in [*inputs.items(), *params.items()]:
        assert t.grad is not None, f"{name}: no gradient reached {n}"
        arrays[f"grad/{n}"] = t.grad.numpy().copy()
    entry = {
        **case,
        "input_size": I,
        "hidden_size": H,
        "reference": f"torch.nn.{case['class']}" if case["class"] in TORCH_CLASSES else "torch primitive ops",
        "params": list(params),
        "inputs": list(inputs),
        "outputs": sorted(outputs),
    }
    return arrays, entry


def main() -> None:
    import torch

    torch.use_deterministic_algorithms(True)
    arrays: dict[str, np.ndarray] = {}
    config = {}
    for name in CASES:
        case_arrays, config[name] = reference(name)
        arrays.update({f"{name}/{k}": v for k, v in case_arrays.items()})
    arrays["config"] = np.array(json.dumps(config, sort_keys=True))
    arrays["torch_version"] = np.array(torch.__version__)
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **arrays)
    print(f"wrote {REFERENCE} ({len(CASES)} cases, {REFERENCE.stat().st_size} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
