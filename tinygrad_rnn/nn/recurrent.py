"""Recurrent cells and sequence layers, written with the engine's primitive ops only.

Every cell is matmul, add, split, sigmoid, tanh and mul: its whole graph can be drawn and its
gradients are the engine's own. Parameter names, shapes, gate order and initialisation are
PyTorch's (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`; gates stacked along the first axis),
so a torch.nn.LSTMCell / LSTM state_dict converted to numpy loads unchanged.

Where each cell's step is: `RNNCell.step`, `LSTMCell.step`, `PeepholeLSTMCell.step`,
`CoupledLSTMCell.step` and `GRUCell.step`. Each holds the article's equations, one line each, named
as the article names them (f_t, i_t, C_tilde for C̃_t, C_t, o_t, h_t), with the equation beside it.
What they share sits in `_CellBase`, out of their way:

- `projections`: what does not depend on the past, x_t's part of every W·[h_{t-1}, x_t] + b. A
  cell's forward calls it for one step; a sequence layer calls it once for the whole sequence (the
  input projection of all T steps in one matmul, with bias_hh folded into it where the equations
  allow, and `weight_hh.T` once), then hands step t its piece (one `unbind` for all T steps) and
  calls `step` T times, which is all that must be sequential. The same primitive ops either way,
  fewer of them per step.
- `hidden_projection`: h_{t-1}'s part, added in `step` before the stacked gates are split apart.
- `scoped`: runs one line of `step` inside its scope (`forget_gate` for f, ...) and names its
  result (i, f, g, c, o, h in the LSTMs, g being PyTorch's name for C̃; r, z, n, h in the GRU),
  which is how drawings group the ops and how errors say where they happened.

The article's W_f·[h_{t-1}, x_t] + b_f is PyTorch's W_if x_t + b_if + W_hf h_{t-1} + b_hf: W_f is
[W_hf W_if] (weight_hh's and weight_ih's rows of the f block side by side) and b_f is b_if + b_hf
(docs/lstm.md checks it numerically).

Shapes: B batch, I input_size, H hidden_size, T time steps; x (B, I), h and C (B, H).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np

from ..core import OpError, Tensor, cat, is_anomaly_enabled, scope, stack, zeros
from . import init
from .functional import dropout
from .module import Module, Parameter, probability, tensor_arg

# What `step` receives besides x_proj and the state: (weight_hh.T, bias_hh), or (weight_hh.T, None) when
# bias_hh has been folded into x_proj.
Weights = tuple[Tensor, Tensor | None]


def _named(t: Tensor, name: str) -> Tensor:
    t.name = name
    return t


class _CellBase(Module):
    """Weights of a cell with `n_gates` gate blocks; all drawn from U(-1/sqrt(H), 1/sqrt(H))."""

    n_gates = 1
    # Whether bias_hh may be added to the input projection instead of at every step. True when
    # bias_hh is simply added to h @ W_hh^T; the GRU puts part of it inside r * (...), so it cannot.
    folds_hidden_bias = True
    # The scope each named tensor of `step` is made in, by its name (what drawings group by).
    scope_of: dict[str, scope] = {}

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

    def projections(self, x: Tensor, fold_hidden_bias: bool = False) -> tuple[Tensor, Weights]:
        """What does not depend on the past, for `step`: the input projection
        x_proj = x @ weight_ih.T + bias_ih (for x of shape (T, B, I), all steps in one matmul), and the
        recurrent weights (weight_hh.T, bias_hh) that step applies to h at every step. With
        fold_hidden_bias, bias_hh is added to the input projection instead, once, and the weights
        carry no bias. A layer calls this once per sequence, so weight_hh is transposed once.
        """
        if tensor_arg(x, type(self).__name__).ndim == 0 or x.shape[-1] != self.input_size:
            raise OpError(
                f"{type(self).__name__}: input has {x.shape[-1]} features (shape {x.shape}), "
                f"expected input_size={self.input_size}"
            )
        x_proj = x @ self.weight_ih.T  # for x (T, B, I) matmul runs this as one (T*B, I) product
        if self.bias_ih is not None:
            x_proj = x_proj + (self.bias_ih + self.bias_hh if fold_hidden_bias else self.bias_ih)
        return x_proj, (self.weight_hh.T, None if fold_hidden_bias else self.bias_hh)

    def hidden_projection(self, h: Tensor, weights: Weights) -> Tensor:
        """h @ weight_hh.T + bias_hh: what the previous step contributes to every gate.

        The cells add the input's part after it, `hidden_projection(h) + x_proj`, the article's [h, x]
        order. For a cell called step by step (LSTMCell in a loop, each step projecting its own
        x_t) the order matters: backward visits an op's last input first, so it takes this step's
        input projection before it goes down into the step before (and the drawings, which follow
        backward's order, show the steps in order). A layer hands each step its piece of one
        `unbind`, which backward runs once, after all the steps.
        """
        weight_hh_t, bias_hh = weights
        h_proj = h @ weight_hh_t
        return h_proj + bias_hh if bias_hh is not None else h_proj

    def scoped(self, name: str, line: Callable[[], Tensor]) -> Tensor:
        """One line of `step`, run inside its scope (scope_of[name]: forget_gate for f, ...), its result
        named `name`: drawings group the ops by scope and label the result by name; errors name both.
        The line comes as a lambda so that its ops are made inside the scope."""
        with self.scope_of[name]:
            t = line()
        t.name = name
        return t

    def zero_state(self, batch_shape: tuple[int, ...], dtype=np.float32) -> Tensor:
        return zeros((*batch_shape, self.hidden_size), dtype=dtype)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One step: x (B, I) or (I,), h as x with H features (zeros when omitted) -> the new h."""
        tensor_arg(x, type(self).__name__)
        if h is None:
            h = self.zero_state(x.shape[:-1], x.dtype)
        self._check_state(h, x.shape)
        x_proj, weights = self.projections(x)
        return self.step(x_proj, h, weights)

    def _check_state(self, h: Tensor, x_shape: tuple[int, ...], what: str = "h") -> None:
        expected = (*x_shape[:-1], self.hidden_size)
        if tensor_arg(h, type(self).__name__, what).shape != expected:
            raise OpError(f"{type(self).__name__}: {what} has shape {h.shape}, expected {expected} for input {x_shape}")


class RNNCell(_CellBase):
    """The plain RNN of the article's first figures (module A with a single tanh layer), in `step`:
    h_t = tanh(W·[h_{t-1}, x_t] + b), that is tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).
    """

    n_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng)
        self.nonlinearity = nonlinearity

    def step(self, x_proj: Tensor, h_prev: Tensor, weights: Weights) -> Tensor:
        """One time step: x_proj is x_t's part of W·[h_{t-1}, x_t] + b (see projections) -> h_t."""
        pre = self.hidden_projection(h_prev, weights) + x_proj  # W·[h_{t-1}, x_t] + b
        h_t = pre.tanh() if self.nonlinearity == "tanh" else pre.relu()  # h_t = tanh(W·[h_{t-1}, x_t] + b)
        return _named(h_t, "h")


class LSTMCell(_CellBase):
    """Long short-term memory: the article's equations (`step`), with PyTorch's weights and gate order.

    weight_ih (4H, I) and weight_hh (4H, H) stack the gates' blocks of H rows in the order i, f, g, o
    (g is PyTorch's name for the candidate values, the article's C̃), so the f block is rows H:2H and
    the article's W_f·[h_{t-1}, x_t] + b_f is W_if x_t + b_if + W_hf h_{t-1} + b_hf: W_f = [W_hf W_if],
    b_f = b_if + b_hf. The cell state C is the straight line along the top of the article's figures.
    """

    n_gates = 4
    scope_of = {
        "i": scope("input_gate"),
        "f": scope("forget_gate"),
        "g": scope("candidate"),
        "c": scope("cell_state"),
        "o": scope("output_gate"),
        "h": scope("output_gate"),
    }

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        tensor_arg(x, type(self).__name__)
        if state is not None and not (isinstance(state, tuple | list) and len(state) == 2):
            raise TypeError(f"{type(self).__name__}: the state must be a pair (h, c), got {type(state).__name__}")
        if state is None:
            state = (self.zero_state(x.shape[:-1], x.dtype), self.zero_state(x.shape[:-1], x.dtype))
        self._check_state(state[0], x.shape, "h")
        self._check_state(state[1], x.shape, "c")
        x_proj, weights = self.projections(x)
        return self.step(x_proj, state, weights)

    def step(self, x_proj: Tensor, state: tuple[Tensor, Tensor], weights: Weights) -> tuple[Tensor, Tensor]:
        """One time step, (h_{t-1}, C_{t-1}) -> (h_t, C_t); the gates in PyTorch's order i, f, g, o."""
        h_prev, C_prev = state
        pre = self.hidden_projection(h_prev, weights) + x_proj  # W·[h_{t-1}, x_t] + b of all four gates, stacked
        pre_i, pre_f, pre_C, pre_o = pre.chunk(4, axis=-1)  # pre_f = W_f·[h_{t-1}, x_t] + b_f, and so on
        i_t = self.scoped("i", lambda: pre_i.sigmoid())  # i_t = σ(W_i·[h_{t-1}, x_t] + b_i)
        f_t = self.scoped("f", lambda: pre_f.sigmoid())  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
        C_tilde = self.scoped("g", lambda: pre_C.tanh())  # C̃_t = tanh(W_C·[h_{t-1}, x_t] + b_C)
        C_t = self.scoped("c", lambda: f_t * C_prev + i_t * C_tilde)  # C_t = f_t * C_{t-1} + i_t * C̃_t
        o_t = self.scoped("o", lambda: pre_o.sigmoid())  # o_t = σ(W_o·[h_{t-1}, x_t] + b_o)
        h_t = self.scoped("h", lambda: o_t * C_t.tanh())  # h_t = o_t * tanh(C_t)
        return h_t, C_t


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peephole connections (Gers & Schmidhuber, 2000), the article's first variant: the
    input and forget gates also look at the old cell state C_{t-1}, the output gate at the new C_t.

    The article draws the peepholes as full layers, W_f·[C_{t-1}, h_{t-1}, x_t]; here, as in the
    original paper, their part of W_f is diagonal: one weight per cell, weight_ci, weight_cf,
    weight_co of shape (H,), so W_f·[C_{t-1}, h_{t-1}, x_t] + b_f is weight_cf * C_{t-1} +
    W_hf h_{t-1} + W_if x_t + b_if + b_hf. With all three peephole weights at zero this is exactly LSTMCell.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, rng=None) -> None:
        super().__init__(input_size, hidden_size, bias, rng)
        k = 1 / math.sqrt(hidden_size)
        self.weight_ci = Parameter(init.uniform((hidden_size,), k, rng), name="weight_ci")
        self.weight_cf = Parameter(init.uniform((hidden_size,), k, rng), name="weight_cf")
        self.weight_co = Parameter(init.uniform((hidden_size,), k, rng), name="weight_co")

    def step(self, x_proj: Tensor, state: tuple[Tensor, Tensor], weights: Weights) -> tuple[Tensor, Tensor]:
        """One time step, (h_{t-1}, C_{t-1}) -> (h_t, C_t): LSTMCell.step with the gates looking at C."""
        h_prev, C_prev = state
        w_ci, w_cf, w_co = self.weight_ci, self.weight_cf, self.weight_co  # the peepholes: the C part of W_i, W_f, W_o
        pre = self.hidden_projection(h_prev, weights) + x_proj  # W·[h_{t-1}, x_t] + b of all four gates, stacked
        pre_i, pre_f, pre_C, pre_o = pre.chunk(4, axis=-1)  # pre_f = W_f·[h_{t-1}, x_t] + b_f, and so on
        i_t = self.scoped("i", lambda: (pre_i + w_ci * C_prev).sigmoid())  # i_t = σ(W_i·[C_{t-1}, h_{t-1}, x_t] + b_i)
        f_t = self.scoped("f", lambda: (pre_f + w_cf * C_prev).sigmoid())  # f_t = σ(W_f·[C_{t-1}, h_{t-1}, x_t] + b_f)
        C_tilde = self.scoped("g", lambda: pre_C.tanh())  # C̃_t = tanh(W_C·[h_{t-1}, x_t] + b_C)
        C_t = self.scoped("c", lambda: f_t * C_prev + i_t * C_tilde)  # C_t = f_t * C_{t-1} + i_t * C̃_t
        o_t = self.scoped("o", lambda: (pre_o + w_co * C_t).sigmoid())  # o_t = σ(W_o·[C_t, h_{t-1}, x_t] + b_o)
        h_t = self.scoped("h", lambda: o_t * C_t.tanh())  # h_t = o_t * tanh(C_t)
        return h_t, C_t


class CoupledLSTMCell(LSTMCell):
    """LSTM with coupled forget and input gates, the article's second variant: we only write new
    values where we forget old ones, i_t = 1 - f_t. So there is no W_i: three gate blocks, stacked in
    the order f, g, o (weight_ih has 3H rows).
    """

    n_gates = 3

    def step(self, x_proj: Tensor, state: tuple[Tensor, Tensor], weights: Weights) -> tuple[Tensor, Tensor]:
        """One time step, (h_{t-1}, C_{t-1}) -> (h_t, C_t): LSTMCell.step with i_t = 1 - f_t."""
        h_prev, C_prev = state
        pre = self.hidden_projection(h_prev, weights) + x_proj  # W·[h_{t-1}, x_t] + b of the three gates, stacked
        pre_f, pre_C, pre_o = pre.chunk(3, axis=-1)  # pre_f = W_f·[h_{t-1}, x_t] + b_f, and so on
        f_t = self.scoped("f", lambda: pre_f.sigmoid())  # f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
        i_t = self.scoped("i", lambda: 1.0 - f_t)  # i_t = 1 - f_t: write only where we forget
        C_tilde = self.scoped("g", lambda: pre_C.tanh())  # C̃_t = tanh(W_C·[h_{t-1}, x_t] + b_C)
        C_t = self.scoped("c", lambda: f_t * C_prev + i_t * C_tilde)  # C_t = f_t * C_{t-1} + (1 - f_t) * C̃_t
        o_t = self.scoped("o", lambda: pre_o.sigmoid())  # o_t = σ(W_o·[h_{t-1}, x_t] + b_o)
        h_t = self.scoped("h", lambda: o_t * C_t.tanh())  # h_t = o_t * tanh(C_t)
        return h_t, C_t


class GRUCell(_CellBase):
    """Gated recurrent unit, PyTorch's form (`step`; gates stacked in the order r, z, n).

    Two differences from the article's GRU figure, h_t = (1 - z_t) * h_{t-1} + z_t * h̃_t with
    h̃_t = tanh(W·[r_t * h_{t-1}, x_t]): there z weighs the *new* value (so the roles of z and 1 - z
    swap), and r is applied to h before the matmul, where PyTorch applies it after, r * (W_hn h + b_hn).
    """

    n_gates = 3
    folds_hidden_bias = False  # b_hn sits inside r * (W_hn h + b_hn)
    scope_of = {"r": scope("reset_gate"), "z": scope("update_gate"), "n": scope("candidate"), "h": scope("hidden")}

    def step(self, x_proj: Tensor, h_prev: Tensor, weights: Weights) -> Tensor:
        """One time step, h_{t-1} -> h_t. The h and x parts stay apart: r multiplies only the h part of n."""
        h_r, h_z, h_n = self.hidden_projection(h_prev, weights).chunk(3, axis=-1)  # h_n = W_hn h_{t-1} + b_hn, ...
        x_r, x_z, x_n = x_proj.chunk(3, axis=-1)  # x_n = W_in x_t + b_in, ...
        r_t = self.scoped("r", lambda: (h_r + x_r).sigmoid())  # r_t = σ(W_r·[h_{t-1}, x_t] + b_r)
        z_t = self.scoped("z", lambda: (h_z + x_z).sigmoid())  # z_t = σ(W_z·[h_{t-1}, x_t] + b_z)
        # The article's figure resets h before the matmul: h̃_t = tanh(W·[r_t * h_{t-1}, x_t]).
        n_t = self.scoped("n", lambda: (r_t * h_n + x_n).tanh())  # n_t = tanh(W_in x_t + b_in + r_t * h_n)
        # The article's figure lets z weigh the new value: h_t = (1 - z_t) * h_{t-1} + z_t * h̃_t.
        h_t = self.scoped("h", lambda: (1.0 - z_t) * n_t + z_t * h_prev)  # h_t = (1 - z_t) * n_t + z_t * h_{t-1}
        return h_t


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

    def _every_named_parameter(self, prefix: str, above: tuple[int, ...]):
        """The flat names only (the cells inside are how the layer is built, not names of its own)."""
        return ((f"{prefix}.{name}" if prefix else name, p) for name, p in self._own_parameters())

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
            x_proj, weights = cell.projections(x, fold_hidden_bias=cell.folds_hidden_bias)  # once for all T steps
            pieces = x_proj.unbind(0)  # step t's piece of the projection
        outputs = []
        for t in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
            with scope(f"t={t}"):
                x_proj_t, weights = cell.projections(x[t], cell.folds_hidden_bias) if per_step else (pieces[t], weights)
                state = cell.step(x_proj_t, state, weights)
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
