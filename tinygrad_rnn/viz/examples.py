"""Small seeded models to draw: what `tinygrad-rnn render` and `make figures` build.

Two ways a recurrent net appears in a graph, and the renderer handles both:
- `sequence_loss`: an nn layer (nn.LSTM, ...) run over a sequence. The layer projects the inputs of
  all steps in one matmul and hands each step its piece (one `unbind`); its scopes are
  ('lstm', 'layer=0', 't=3', ...).
- `unrolled_loss`: a cell called by hand in a Python loop under `tg.scope(f"t={t}")`, with one input
  leaf x_t per step, so every x_t gets its own .grad (how much gradient reached step t).
Both end in an MSE loss on the last hidden state, so gradient reaches step t only through the
recurrence: the vanishing-gradient picture.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..core import Tensor, keep_values, scope
from ..nn.functional import mse_loss

LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "peephole": nn.PeepholeLSTM, "coupled": nn.CoupledLSTM}
CELLS = {
    "rnn": nn.RNNCell,
    "lstm": nn.LSTMCell,
    "gru": nn.GRUCell,
    "peephole": nn.PeepholeLSTMCell,
    "coupled": nn.CoupledLSTMCell,
}
INPUT_SIZE, HIDDEN_SIZE = 3, 4  # hidden states of 4 numbers: small enough to print in a label


def sequence_loss(kind: str, steps: int, layers: int = 1, seed: int = 0, backward: bool = True) -> Tensor:
    """The loss of an nn layer ('rnn', 'lstm', 'gru', 'peephole', 'coupled') over `steps` random inputs.

    x (steps, 1, 3) -> layer -> output[-1] (1, 4) -> mse against a random target. With backward=True
    the loss is backpropagated with retain_grads=True, so every tensor has its gradient to draw.
    """
    rng = np.random.default_rng(seed)
    layer = LAYERS[kind](INPUT_SIZE, HIDDEN_SIZE, num_layers=layers, rng=rng)
    x = Tensor(rng.standard_normal((steps, 1, INPUT_SIZE)).astype(np.float32), requires_grad=True, name="x")
    target = Tensor(rng.standard_normal((1, HIDDEN_SIZE)).astype(np.float32), name="target")
    with keep_values():  # so the drawing can label every tensor with its value
        output, _ = layer(x)
        loss = mse_loss(output[-1], target)
    loss.name = "loss"
    if backward:
        loss.backward(retain_grads=True)
    return loss


def unrolled_loss(
    kind: str, steps: int, seed: int = 0, forget_bias: float | None = None, backward: bool = True, loss: str = "mse"
) -> tuple[Tensor, list[Tensor]]:
    """A cell unrolled by hand over inputs x_0 ... x_{steps-1}; returns (loss, xs).

    loss: "mse" (against a random target) or "sum" (h.sum(): the shortest tail, for backward drawings).

    Everything, the loss too, runs in scope `kind`, so two models drawn together stay apart.
    forget_bias sets the forget gate's bias_ih of an LSTM-family cell (f = sigmoid(about that):
    3 keeps 95% of the cell state per step, as trained LSTMs learn to for long-range memory).
    """
    if loss not in ("mse", "sum"):
        raise ValueError(f"loss must be 'mse' or 'sum', got {loss!r}")
    rng = np.random.default_rng(seed)
    cell = CELLS[kind](INPUT_SIZE, HIDDEN_SIZE, rng=rng)
    if forget_bias is not None:
        if kind not in ("lstm", "peephole", "coupled"):
            raise ValueError(f"forget_bias: a {kind} cell has no forget gate")
        f = 0 if kind == "coupled" else 1  # the forget gate's block: i, f, g, o (coupled: f, g, o)
        cell.bias_ih.data[f * HIDDEN_SIZE : (f + 1) * HIDDEN_SIZE] = forget_bias
    xs = [
        Tensor(rng.standard_normal((1, INPUT_SIZE)).astype(np.float32), requires_grad=True, name=f"x_{t}")
        for t in range(steps)
    ]
    target = Tensor(rng.standard_normal((1, HIDDEN_SIZE)).astype(np.float32), name="target")
    state = None
    with scope(kind), keep_values():  # keep_values: so the drawing can label every tensor with its value
        for t, x in enumerate(xs):
            with scope(f"t={t}"):
                state = cell(x, state)
        h = state[0] if isinstance(state, tuple) else state
        total = mse_loss(h, target) if loss == "mse" else h.sum()
    total.name = "loss"
    if backward:
        total.backward(retain_grads=True)
    return total, xs
