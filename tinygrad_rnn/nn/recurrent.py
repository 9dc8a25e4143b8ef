"""Recurrent cells and sequence layers, written with the engine's primitive ops only.

Every cell is matmul, add, split, sigmoid, tanh and mul: its whole graph can be drawn and its
gradients are the engine's own. Parameter names, shapes, gate order and initialisation are
PyTorch's (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`; gates stacked along the first axis),
so a torch.nn.LSTMCell / LSTM state_dict converted to numpy loads unchanged.

A cell splits its work in two: `projections`, what does not depend on the past, and `recur`, what does. A
cell's forward does both. A sequence layer does the first part once for the whole sequence: the
input projection of all T steps in one matmul (with bias_hh folded into it, where the equations
allow), and `weight_hh.T` once; then it hands step t its piece of the projection (one `unbind`
for all T steps) and calls `recur` T times, which is all that must be sequential. (The same
primitive ops either way, fewer of them per step.)

Shapes: B batch, I input_size, H hidden_size, T time steps; x (B, I), h and c (B, H).
"""

from __future__ import annotations

import math
import sys
import warnings
from contextlib import nullcontext

import numpy as np

from ..core import OpError, Tensor, cat, is_anomaly_enabled, scope, stack, zeros
from . import init
from .functional import dropout
from .module import Module, Parameter, probability, tensor_arg


def _named(t: Tensor, name: str) -> Tensor:
    t.name = name
    return t


class _CellBase(Module):
    """Weights of a cell with `n_gates` gate blocks; all drawn from U(-1/sqrt(H), 1/sqrt(H))."""

    n_gates = 1
    # Whether bias_hh may be added to the input projection instead of at every step. True when
    # bias_hh is simply added to h @ W_hh^T; the GRU puts part of it inside r * (...), so it cannot.
    folds_hidden_bias = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None) -> None:
        if not all(isinstance(n, int) and n > 0 for n in (input_size, hidden_size)):
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive integers, "
                f"got {input_size!r} and {hidden_size!r}"
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1 / math.sqrt(hidden_size)
        G = self.n_gates * hidden_size
        self.weight_ih = Parameter(init.uniform((G, input_size), k, rng), name="weight_ih")
        self.weight_hh = Parameter(init.uniform((G, hidden_size), k, rng), name="weight_hh")
        self.bias_ih = Parameter(init.uniform((G,), k, rng), name="bias_ih") if bias else None
        self.bias_hh = Parameter(init.uniform((G,), k, rng), name="bias_hh") if bias else None

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"

    def projections(self, x: Tensor, fold_hidden_bias: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
        """What does not depend on the past, for `recur`: the input projection
        x @ weight_ih.T + bias_ih (for x of shape (T, B, I), all steps in one matmul), and the
        recurrent weights (weight_hh.T, bias_hh) that recur applies to h at every step. With
        fold_hidden_bias, bias_hh is added to the input projection instead, once, and the weights
        carry no bias. A layer calls this once per sequence, so weight_hh is transposed once.
        """
        if tensor_arg(x, type(self).__name__).ndim == 0 or x.shape[-1] != self.input_size:
            raise OpError(
                f"{type(self).__name__}: input has {x.shape[-1]} features (shape {x.shape}), "
                f"expected input_size={self.input_size}"
            )
        gi = x @ self.weight_ih.T  # for x (T, B, I) matmul runs this as one (T*B, I) product
        if self.bias_ih is not None:
            gi = gi + (self.bias_ih + self.bias_hh if fold_hidden_bias else self.bias_ih)
        return gi, (self.weight_hh.T, None if fold_hidden_bias else self.bias_hh)

    def hidden_projection(self, h: Tensor, weights: tuple[Tensor, Tensor | None]) -> Tensor:
        """h @ weight_hh.T + bias_hh: what the previous step contributes to every gate.

        The cells add the input's part after it, `hidden_projection(h) + gi`, the article's [h, x]
        order. For a cell called step by step (LSTMCell in a loop, each step projecting its own
        x_t) the order matters: backward visits an op's last input first, so it takes this step's
        input projection before it goes down into the step before (and the drawings, which follow
        backward's order, show the steps in order). A layer hands each step its piece of one
        `unbind`, which backward runs once, after all the steps.
        """
        weight_hh_t, bias_hh = weights
        gh = h @ weight_hh_t
        return gh + bias_hh if bias_hh is not None else gh

    def split_gates(self, gates: Tensor) -> list[Tensor]:
        """The stacked gate pre-activations (..., n_gates*H) as n_gates blocks (..., H), in order:
        one op (a `split`), whose backward joins the blocks' gradients back together."""
        return gates.chunk(self.n_gates, axis=-1)

    def zero_state(self, batch_shape: tuple[int, ...], dtype=np.float32) -> Tensor:
        return zeros((*batch_shape, self.hidden_size), dtype=dtype)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One step: x (B, I) or (I,), h as x with H features (zeros when omitted) -> the new h."""
        tensor_arg(x, type(self).__name__)
        if h is None:
            h = self.zero_state(x.shape[:-1], x.dtype)
        self._check_state(h, x.shape)
        gi, weights = self.projections(x)
        return self.recur(gi, h, weights)

    def _check_state(self, h: Tensor, x_shape: tuple[int, ...], what: str = "h") -> None:
        expected = (*x_shape[:-1], self.hidden_size)
        if tensor_arg(h, type(self).__name__, what).shape != expected:
            raise OpError(f"{type(self).__name__}: {what} has shape {h.shape}, expected {expected} for input {x_shape}")


class RNNCell(_CellBase):
    """The plain RNN of the article's first figures (module A with a single tanh layer):

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)       (or relu)
    """

    n_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng)
        self.nonlinearity = nonlinearity

    def recur(self, gi: Tensor, h: Tensor, weights: tuple[Tensor, Tensor | None]) -> Tensor:
        pre = self.hidden_projection(h, weights) + gi
        return _named(pre.tanh() if self.nonlinearity == "tanh" else pre.relu(), "h")


class LSTMCell(_CellBase):
    """Long short-term memory, PyTorch's form (gates stacked in the order i, f, g, o):

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate: how much new to write
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate: how much of c to keep
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate values (the article's C~)
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
    c' = f * c + i * g                              the cell state: the straight line on top
    h' = o * tanh(c')
    """

    n_gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        tensor_arg(x, type(self).__name__)
        if state is not None and not (isinstance(state, tuple | list) and len(state) == 2):
            raise TypeError(f"{type(self).__name__}: the state must be a pair (h, c), got {type(state).__name__}")
        if state is None:
            state = (self.zero_state(x.shape[:-1], x.dtype), self.zero_state(x.shape[:-1], x.dtype))
        self._check_state(state[0], x.shape, "h")
        self._check_state(state[1], x.shape, "c")
        gi, weights = self.projections(x)
        return self.recur(gi, state, weights)

    def recur(self, gi: Tensor, state: tuple[Tensor, Tensor], weights: tuple[Tensor, Tensor | None]):
        """One step from the input projection gi and the state (h, c) -> the new (h, c)."""
        h, c_prev = state
        pre = self.split_gates(self.hidden_projection(h, weights) + gi)  # the gates' pre-activations
        i, f, g = self.write_gates(pre, c_prev)
        with scope("cell_state"):
            c = _named(f * c_prev + i * g, "c")
        with scope("output_gate"):
            o = _named(self.output_gate(pre, c), "o")
            h = _named(o * c.tanh(), "h")
        return h, c

    def write_gates(self, pre: list[Tensor], c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """i, f, g: what to write, what to keep, and the candidate. The variants change this step."""
        with scope("input_gate"):
            i = _named(pre[0].sigmoid(), "i")
        with scope("forget_gate"):
            f = _named(pre[1].sigmoid(), "f")
        with scope("candidate"):
            g = _named(pre[2].tanh(), "g")
        return i, f, g

    def output_gate(self, pre: list[Tensor], c: Tensor) -> Tensor:
        """o, from the gate pre-activations (and, for peepholes, the new cell state c)."""
        return pre[3].sigmoid()


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peephole connections (Gers & Schmidhuber, 2000), the article's first variant:
    the input and forget gates also look at the old cell state c, the output gate at the new c',
    through diagonal (elementwise) weights weight_ci, weight_cf, weight_co of shape (H,):

        i = sigmoid(... + weight_ci * c)      f = sigmoid(... + weight_cf * c)
        g = tanh(...)                         c' = f * c + i * g
        o = sigmoid(... + weight_co * c')     h' = o * tanh(c')

    The article draws the peepholes as full layers; diagonal weights are the original paper's
    form. With all three peephole weights at zero this is exactly LSTMCell.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None) -> None:
        super().__init__(input_size, hidden_size, bias, rng)
        k = 1 / math.sqrt(hidden_size)
        self.weight_ci = Parameter(init.uniform((hidden_size,), k, rng), name="weight_ci")
        self.weight_cf = Parameter(init.uniform((hidden_size,), k, rng), name="weight_cf")
        self.weight_co = Parameter(init.uniform((hidden_size,), k, rng), name="weight_co")

    def write_gates(self, pre: list[Tensor], c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        with scope("input_gate"):
            i = _named((pre[0] + self.weight_ci * c_prev).sigmoid(), "i")
        with scope("forget_gate"):
            f = _named((pre[1] + self.weight_cf * c_prev).sigmoid(), "f")
        with scope("candidate"):
            g = _named(pre[2].tanh(), "g")
        return i, f, g

    def output_gate(self, pre: list[Tensor], c: Tensor) -> Tensor:
        return (pre[3] + self.weight_co * c).sigmoid()


class CoupledLSTMCell(LSTMCell):
    """LSTM with coupled forget and input gates, the article's second variant: we only write new
    values where we forget old ones. Three gate blocks, stacked in the order f, g, o:

        f = sigmoid(W_if x + b_if + W_hf h + b_hf)     i = 1 - f
        g = tanh(...)                                  c' = f * c + (1 - f) * g
        o = sigmoid(...)                               h' = o * tanh(c')
    """

    n_gates = 3

    def write_gates(self, pre: list[Tensor], c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        with scope("forget_gate"):
            f = _named(pre[0].sigmoid(), "f")
        with scope("input_gate"):
            i = _named(1.0 - f, "i")
        with scope("candidate"):
            g = _named(pre[1].tanh(), "g")
        return i, f, g

    def output_gate(self, pre: list[Tensor], c: Tensor) -> Tensor:
        return pre[2].sigmoid()


class GRUCell(_CellBase):
    """Gated recurrent unit, PyTorch's form (gates stacked in the order r, z, n):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)             reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)             update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          candidate
        h' = (1 - z) * n + z * h

    Two differences from the article's GRU figure: there z weighs the *new* value,
    h' = (1 - z) * h + z * h~ (so the roles of z and 1 - z swap), and r is applied to h before the
    matmul, h~ = tanh(W [r * h, x]), where PyTorch applies it after (r * (W_hn h + b_hn)).
    """

    n_gates = 3
    folds_hidden_bias = False  # b_hn sits inside r * (W_hn h + b_hn)

    def recur(self, gi: Tensor, h: Tensor, weights: tuple[Tensor, Tensor | None]) -> Tensor:
        h_r, h_z, h_n = self.split_gates(self.hidden_projection(h, weights))
        x_r, x_z, x_n = self.split_gates(gi)
        with scope("reset_gate"):
            r = _named((h_r + x_r).sigmoid(), "r")
        with scope("update_gate"):
            z = _named((h_z + x_z).sigmoid(), "z")
        with scope("candidate"):
            n = _named((r * h_n + x_n).tanh(), "n")
        with scope("hidden"):
            h = _named((1.0 - z) * n + z * h, "h")
        return h


# ------------------------------------------------------------------------------------------------
# Sequence layers
# ------------------------------------------------------------------------------------------------


class _RecurrentLayer(Module):
    """Stacked cells run over a sequence, with PyTorch's arguments, parameter names and shapes.

    input: (T, B, I), or (B, T, I) with batch_first=True, or (T, I) unbatched.
    Returns (output, h_n): output (T, B, D*H) holds the last layer's h at every step, h_n
    (num_layers*D, B, H) the last step's h of every layer and direction. D is 2 with bidirectional=True
    (a second cell per layer reads the sequence from its end; output holds both directions' h side by
    side, forward first), else 1. LSTMs return (output, (h_n, c_n)). With dropout=p, the output of every
    layer but the last goes through F.dropout(p) in training mode, as in PyTorch.
    Parameters: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then (bidirectional) the same with
    _reverse, then _l1, ...; `cells` holds the cells in that order, which is also h_n's.
    Scopes: the layer's name, then `layer=k`, then (bidirectional only) `forward` or `reverse`, then `t=s`
    for every step, s being the step's position in the sequence.
    """

    cell_class: type[_CellBase] = RNNCell
    has_cell_state = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        rng=None,
    ) -> None:
        who = type(self).__name__
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{who}: num_layers must be at least 1, got {num_layers}")
        for name, flag in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(flag, bool | np.bool_):
                raise TypeError(f"{who}: {name} must be True or False, got {flag!r}")
        if proj_size != 0:
            raise TypeError(
                f"{who}: proj_size={proj_size!r} is not supported (PyTorch's LSTM then projects h inside the "
                "recurrence); leave proj_size=0"
            )
        self.dropout = probability(who, dropout, "dropout")
        if self.dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{who}: dropout is applied to the output of every layer but the last, so dropout={dropout} "
                "with num_layers=1 does nothing (PyTorch warns too)",
                stacklevel=_caller(),
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.bidirectional = bool(batch_first), bool(bidirectional)
        D = self.num_directions
        self.cells = [
            self.cell_class(
                input_size if k == 0 else D * hidden_size, hidden_size, bool(bias), rng=rng, **self._options()
            )
            for k in range(num_layers)
            for _ in range(D)
        ]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _options(self) -> dict:
        """Keyword arguments for the cells beyond the sizes and bias (RNN's nonlinearity)."""
        return {}

    def _suffix(self, k: int) -> str:
        """The name suffix of cells[k]'s parameters: _l0, _l0_reverse, _l1, ..."""
        layer, reverse = divmod(k, self.num_directions)
        return f"_l{layer}" + ("_reverse" if reverse else "")

    def _own_parameters(self):
        """PyTorch's flat names: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_ih_l0_reverse, ..."""
        for k, cell in enumerate(self.cells):
            for name, p in cell._own_parameters():
                yield name + self._suffix(k), p

    def __getattr__(self, name: str):
        """PyTorch's attribute names work too: lstm.weight_hh_l1 is lstm.cells[1].weight_hh (cells[2] when
        bidirectional, whose lstm.weight_hh_l1_reverse is cells[3].weight_hh)."""
        cells, D = self.__dict__.get("cells", ()), 2 if self.__dict__.get("bidirectional") else 1
        stem, reverse = (name.removesuffix("_reverse"), 1) if name.endswith("_reverse") else (name, 0)
        base, sep, layer = stem.rpartition("_l")
        if sep and layer.isdigit() and reverse < D:
            k = int(layer) * D + reverse
            p = getattr(cells[k], base, None) if k < len(cells) else None
            if isinstance(p, Parameter):
                return p
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, batch_first={self.batch_first}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text + (", bidirectional=True" if self.bidirectional else "")

    def _initial(self, hx, batch: tuple[int, ...], dtype) -> list:
        """One state per cell, from hx of shape (num_layers*D, B, H) (a pair (h_0, c_0) for LSTMs)."""
        who, names = type(self).__name__, ("h_0", "c_0") if self.has_cell_state else ("h_0",)
        if hx is not None and self.has_cell_state and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise TypeError(f"{who}: hx must be a pair (h_0, c_0), got {type(hx).__name__}; pass (h_0, c_0)")
        parts = (None,) * len(names) if hx is None else (tuple(hx) if self.has_cell_state else (hx,))
        expected = (len(self.cells), *batch, self.hidden_size)
        for name, part in zip(names, parts, strict=True):
            if part is not None and tensor_arg(part, who, name).shape != expected:
                raise OpError(f"{type(self).__name__}: {name} has shape {part.shape}, expected {expected}")
        parts = [zeros(expected, dtype=dtype) if part is None else part for part in parts]
        states = [tuple(part[k] for part in parts) for k in range(len(self.cells))]
        return states if self.has_cell_state else [state[0] for state in states]

    def forward(self, input: Tensor, hx=None):
        if tensor_arg(input, type(self).__name__).ndim not in (2, 3):
            raise OpError(f"{type(self).__name__}: input must be 2-D (T, I) or 3-D, got shape {input.shape}")
        batched = input.ndim == 3
        x = input.transpose(0, 1) if batched and self.batch_first else input
        if x.shape[0] == 0:
            raise OpError(f"{type(self).__name__}: the input has no time steps (shape {input.shape})")
        batch = x.shape[1:2] if batched else ()
        states = self._initial(hx, batch, x.dtype)
        D, finals = self.num_directions, []
        for k in range(self.num_layers):
            with scope(f"layer={k}"):
                outputs = []
                for d in range(D):
                    with scope("reverse" if d else "forward") if D == 2 else nullcontext():
                        output, state = self._run(self.cells[k * D + d], x, states[k * D + d], reverse=d == 1)
                    outputs.append(output)
                    finals.append(state)
                x = outputs[0] if D == 1 else cat(outputs, axis=-1)  # (T, B, D*H)
                if self.dropout and self.training and k < self.num_layers - 1:
                    with scope("dropout"):
                        x = dropout(x, self.dropout)
        output = x.transpose(0, 1) if batched and self.batch_first else x
        if self.has_cell_state:
            return output, (stack([s[0] for s in finals]), stack([s[1] for s in finals]))
        return output, stack(finals)

    def _run(self, cell: _CellBase, x: Tensor, state, reverse: bool):
        """One direction of one layer over the sequence x (T, ...) -> (its h at every step, stacked in time
        order; its last state). The reverse direction takes the steps from T-1 down to 0."""
        # Under tg.detect_anomaly() each step projects its own input, inside its scope, so an error names t.
        per_step = is_anomaly_enabled()
        if not per_step:
            gi, weights = cell.projections(x, fold_hidden_bias=cell.folds_hidden_bias)  # once for all T steps
            pieces = gi.unbind(0)  # step t's piece of the projection
        outputs = []
        for t in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
            with scope(f"t={t}"):
                gi_t, weights = cell.projections(x[t], cell.folds_hidden_bias) if per_step else (pieces[t], weights)
                state = cell.recur(gi_t, state, weights)
            outputs.append(state[0] if self.has_cell_state else state)
        return stack(outputs[::-1] if reverse else outputs, axis=0), state


def _caller() -> int:
    """The stacklevel of the first frame outside this file: the user's code that made the layer."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


class RNN(_RecurrentLayer):
    """Elman RNN over a sequence (RNNCell at every step); nonlinearity "tanh" or "relu" is PyTorch's fourth argument."""

    cell_class = RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        rng=None,
    ) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size, rng=rng
        )

    def _options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}


class LSTM(_RecurrentLayer):
    """LSTM over a sequence; returns (output, (h_n, c_n))."""

    cell_class = LSTMCell
    has_cell_state = True


class GRU(_RecurrentLayer):
    """GRU over a sequence (PyTorch's equations, see GRUCell)."""

    cell_class = GRUCell


class PeepholeLSTM(LSTM):
    """LSTM layer made of PeepholeLSTMCell (parameters weight_ci_l0, ... in addition to LSTM's)."""

    cell_class = PeepholeLSTMCell


class CoupledLSTM(LSTM):
    """LSTM layer made of CoupledLSTMCell (three gate blocks f, g, o)."""

    cell_class = CoupledLSTMCell


def detach_state(state):
    """Cut the graph between chunks of a long sequence (truncated backpropagation through time).

    Keeps the values of h (or of (h, c)) and forgets how they were made, so the next chunk's
    backward stops here:  `output, state = lstm(chunk, state); ...; state = detach_state(state)`.
    """
    if state is None:
        return None
    if isinstance(state, tuple | list):
        return tuple(tensor_arg(s, "detach_state", "each state").detach() for s in state)
    return tensor_arg(state, "detach_state", "state").detach()
