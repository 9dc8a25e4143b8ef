"""Autograd in 50 lines: a tape.

Reverse-mode differentiation needs three things: remember each op as it runs (the tape), walk the
tape backwards, and at each op apply the chain rule, adding what it sends to each input into that
input's gradient. This file is exactly that, on tinygrad_rnn's op classes (tinygrad_rnn/core/ops.py:
each op's forward and backward, `y = ...;  dx = ...`), and nothing else: no scopes, no names, no
checks, no graph to draw. The order is the tape's own: the order the ops ran in, reversed. That is a
topological order, because every op ran after the ops that made its inputs.

tinygrad_rnn's engine (tinygrad_rnn/core/tensor.py) does the same with a graph instead of a tape:
each tensor points to the node that made it, so backward can start from any tensor, run twice, and
free what nobody needs, and a drawing can be made afterwards. docs/autograd.md starts here.

This script runs an LSTM over a short sequence on the tape and with tg.nn.LSTM, with the same weights,
and shows that both give the same gradients.

Run:  python demos/tape.py [--steps 5] [--smoke]
"""

from __future__ import annotations

import argparse

import numpy as np

from tinygrad_rnn.cli import HelpFormatter
from tinygrad_rnn.core import ops

# -- settings ---------------------------------------------------------------------------------------
STEPS, BATCH, INPUT, HIDDEN = 5, 3, 4, 6  # the LSTM of the comparison (T, B, I, H)


# -- the tape: all of autograd ----------------------------------------------------------------------


class Value:
    """An array, and the place where its gradient gathers during backward."""

    def __init__(self, data: np.ndarray, needs_grad: bool = True) -> None:
        self.data, self.grad, self.needs_grad = data, None, needs_grad


class Tape:
    def __init__(self) -> None:
        self.ops: list[tuple[ops.Function, tuple[Value, ...], tuple[Value, ...]]] = []  # in the order they ran

    def run(self, op: type[ops.Function], *inputs: Value, **options) -> Value | tuple[Value, ...]:
        """Run an op forward, and write it on the tape."""
        fn = op()
        fn.needs_input_grad = tuple(v.needs_grad for v in inputs)
        out = fn.forward(*[v.data for v in inputs], **options)
        outputs = tuple(Value(y) for y in out) if isinstance(out, tuple) else (Value(out),)
        fn.shapes, fn.dtype = [v.data.shape for v in outputs], outputs[0].data.dtype  # (split reads them)
        self.ops.append((fn, inputs, outputs))
        return outputs if isinstance(out, tuple) else outputs[0]

    def backward(self, loss: Value) -> None:
        """dL/dv into v.grad for every Value v that L depends on."""
        loss.grad = np.ones_like(loss.data)  # dL/dL = 1
        for fn, inputs, outputs in reversed(self.ops):  # the order they ran in, reversed
            dys = [v.grad for v in outputs]
            if all(dy is None for dy in dys):
                continue  # nothing below the loss used this op
            dxs = fn.backward(*dys)  # the chain rule at one op: dL/dx = dL/dy · dy/dx
            for v, dx in zip(inputs, dxs, strict=True):
                if dx is not None:
                    v.grad = dx if v.grad is None else v.grad + dx  # what several users send adds up


# -- an LSTM on the tape (PyTorch's equations, as tg.nn.LSTMCell) -----------------------------------


def lstm_loss(tape: Tape, x: Value, weight_ih: Value, weight_hh: Value, bias_ih: Value, bias_hh: Value) -> Value:
    """Run an LSTM over x (T, B, I) from a zero state; the loss is the sum of every step's h."""
    _, B, _ = x.data.shape
    H = weight_hh.data.shape[1]
    h = c = Value(np.zeros((B, H)), needs_grad=False)
    total = None
    for x_t in tape.run(ops.Unbind, x, axis=0):
        gates = tape.run(ops.Add, tape.run(ops.MatMul, x_t, tape.run(ops.Transpose, weight_ih)), bias_ih)
        gates = tape.run(ops.Add, gates, tape.run(ops.MatMul, h, tape.run(ops.Transpose, weight_hh)))
        gates = tape.run(ops.Add, gates, bias_hh)
        a_i, a_f, a_g, a_o = tape.run(ops.Split, gates, sizes=(H,) * 4, axis=1)
        i, f, o = tape.run(ops.Sigmoid, a_i), tape.run(ops.Sigmoid, a_f), tape.run(ops.Sigmoid, a_o)
        g = tape.run(ops.Tanh, a_g)
        c = tape.run(ops.Add, tape.run(ops.Mul, f, c), tape.run(ops.Mul, i, g))  # c' = f * c + i * g
        h = tape.run(ops.Mul, o, tape.run(ops.Tanh, c))  # h' = o * tanh(c')
        step = tape.run(ops.Sum, h)
        total = step if total is None else tape.run(ops.Add, total, step)
    return total


def compare(steps: int = STEPS) -> float:
    """The tape's gradients against tg.nn.LSTM's (float64); returns the largest relative difference."""
    import tinygrad_rnn as tg  # only for the comparison: the tape itself needs nothing but the op classes

    rng = np.random.default_rng(0)
    lstm = tg.nn.LSTM(INPUT, HIDDEN)
    for p in lstm.parameters():
        p.data = rng.standard_normal(p.shape)  # float64: differences are then rounding only
    x = rng.standard_normal((steps, BATCH, INPUT))

    output, _ = lstm(tg.Tensor(x))
    output.sum().backward()
    params = {name.removesuffix("_l0"): p for name, p in lstm.named_parameters()}
    engine = {name: p.grad for name, p in params.items()}

    tape = Tape()
    weights = {name: Value(p.data) for name, p in params.items()}
    loss = lstm_loss(tape, Value(x, needs_grad=False), **weights)
    tape.backward(loss)

    worst = 0.0
    print(f"LSTM, T={steps}, B={BATCH}, I={INPUT}, H={HIDDEN}: {len(tape.ops)} ops on the tape")
    print(f"  loss: tape {float(loss.data):.10f}, tg.nn.LSTM {float(output.data.sum()):.10f}")
    for name, g in engine.items():
        diff = float(np.abs(weights[name].grad - g).max() / np.abs(g).max())
        worst = max(worst, diff)
        print(f"  d loss / d {name:<9}  largest difference, relative: {diff:.1e}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--steps", type=int, default=STEPS, help="time steps of the LSTM (at least 2)")
    parser.add_argument("--smoke", action="store_true", help="run quickly (it is already quick)")
    args = parser.parse_args()
    if args.steps < 2:  # in one step from a zero state, weight_hh gets no gradient: nothing to compare
        parser.error(f"argument --steps: must be at least 2, got {args.steps}")
    worst = compare(2 if args.smoke else args.steps)
    print("the tape and the engine agree" if worst < 1e-10 else "the tape and the engine DISAGREE")


if __name__ == "__main__":
    main()
