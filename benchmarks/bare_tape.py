"""A bare tape: a minimal engine that runs tinygrad_rnn's op classes backward. A floor to measure against.

tinygrad_rnn records a graph node for every op, with what learners and drawings need: scopes, names,
shapes, checks, an order worked out from the graph (so backward may start anywhere, run twice, or be
drawn afterwards). How much of its time is that? This file answers by taking it all away.

The tape runs the same LSTM training step as tg.nn.LSTM, op for op, with tinygrad_rnn's own op classes
(ops.MatMul, ops.Sigmoid, ops.Split, ...) doing all the arithmetic, so its ops do the same numpy work
as tg.nn.LSTM's (tests/test_bench_lstm.py checks the shapes, layouts and products). All it keeps is a
list: each op appends (its Function, its inputs' slots, its output's slot), and backward walks that
list from the end, handing each Function the gradient of its output and adding what it returns into
its inputs' slots. No scopes, no names, no graph to draw, no checks, and the creation order as the only
order: about the simplest engine that gives the same gradients with these op classes.

tg.nn.LSTM's time above the tape's is what tinygrad_rnn's graph costs on top of them; the tape's time
above the tuned numpy LSTM of bench_lstm.py, which does nearly the same arithmetic with no engine at
all, is about what recording the ops one by one costs in Python. bench_lstm.py times it as the row
"bare tape (tg's ops)".
"""

from __future__ import annotations

import numpy as np

from tinygrad_rnn import ops


class Slot:
    """Where a value's gradient gathers during backward."""

    __slots__ = ("grad", "needs_grad")

    def __init__(self, needs_grad: bool = True) -> None:
        self.grad, self.needs_grad = None, needs_grad


class Value:
    """An array and its slot. The tape holds only slots, so an array nobody uses any more is freed."""

    __slots__ = ("data", "slot")

    def __init__(self, data: np.ndarray, needs_grad: bool = True) -> None:
        self.data, self.slot = data, Slot(needs_grad)


class Tape:
    def __init__(self) -> None:
        self.entries: list[tuple[ops.Function, list[Slot], Slot | list[Slot]]] = []

    def op(self, fn_cls: type[ops.Function], *inputs: Value, **options) -> Value | list[Value]:
        """Run one op forward and append it to the tape (a list of Values for split and unbind)."""
        fn = fn_cls()
        fn.needs_input_grad = tuple([v.slot.needs_grad for v in inputs])
        out = fn.forward(*[v.data for v in inputs], **options)
        slots = [v.slot for v in inputs]
        if type(out) is list:  # several outputs: one Value each
            values = [Value(piece) for piece in out]
            fn.dtype, fn.shapes = out[0].dtype, tuple([piece.shape for piece in out])
            self.entries.append((fn, slots, [v.slot for v in values]))
            return values
        value = Value(out)
        self.entries.append((fn, slots, value.slot))
        return value

    def backward(self, loss: Value) -> None:
        """Gradients of every Value that needs one, from a one-element loss; the tape is used up."""
        loss.slot.grad = np.ones_like(loss.data)
        while self.entries:
            fn, inputs, out = self.entries.pop()
            if type(out) is list:
                g = [_dense(s.grad) for s in out]
            else:
                g = _dense(out.grad)
                if g is None:
                    continue
            grads = fn.backward(g)
            fn.saved = None  # free the saved arrays now, as tg does
            for slot, grad in zip(inputs, grads, strict=True):
                if grad is not None:
                    slot.grad = grad if slot.grad is None else _add(slot.grad, grad)


def _dense(g):
    """A gradient as an array: MatMul hands a shared weight its gradient as factors (ops.MatmulGrad)."""
    return g.dense() if type(g) is ops.MatmulGrad else g


def _add(a, b):
    """Two gradients of one slot, added. tg's tensor._sum would do, but it copies a weight's factors
    at every addition (it does not know the first sum is its own): 2% of the tiny step here."""
    if type(a) is ops.MatmulGrad and type(b) is ops.MatmulGrad:
        a.merge(b)  # all the steps' factors, multiplied out in one product at the end, as in tg
        return a
    return _dense(a) + _dense(b)  # a new array: a gradient handed over may be shared or read-only


def record_lstm(tape: Tape, params: dict[str, Value], x: Value) -> Value:
    """Record tg.nn.LSTM's ops for one sequence on the tape (see nn/recurrent.py); return the loss.

    The input projection of all steps in one matmul, with both biases; one unbind; then per step a
    matmul, an add, a split, three sigmoids, two tanh, three muls and an add; the outputs stacked;
    the loss is their sum. The state starts at zero.
    """
    T, B, _ = x.data.shape
    H = params["weight_hh"].data.shape[1]
    with ops.quiet_overflow():
        weight_ih_t = tape.op(ops.Transpose, params["weight_ih"])
        weight_hh_t = tape.op(ops.Transpose, params["weight_hh"])
        bias = tape.op(ops.Add, params["bias_ih"], params["bias_hh"])
        gi = tape.op(ops.Add, tape.op(ops.MatMul, x, weight_ih_t), bias)
        h = Value(np.zeros((B, H), x.data.dtype), needs_grad=False)
        c = Value(np.zeros((B, H), x.data.dtype), needs_grad=False)
        outputs = []
        for gi_t in tape.op(ops.Unbind, gi, axis=0):
            pre = tape.op(ops.Add, tape.op(ops.MatMul, h, weight_hh_t), gi_t)
            a_i, a_f, a_g, a_o = tape.op(ops.Split, pre, sizes=(H,) * 4, axis=1)
            i, f, g = tape.op(ops.Sigmoid, a_i), tape.op(ops.Sigmoid, a_f), tape.op(ops.Tanh, a_g)
            c = tape.op(ops.Add, tape.op(ops.Mul, f, c), tape.op(ops.Mul, i, g))
            o = tape.op(ops.Sigmoid, a_o)
            h = tape.op(ops.Mul, o, tape.op(ops.Tanh, c))
            outputs.append(h)
        output = tape.op(ops.Stack, *outputs, axis=0)
    return tape.op(ops.Sum, output)  # the loss is the caller's, outside the layer's overflow block


def bare_tape_lstm(w: dict[str, np.ndarray], x: np.ndarray):
    """bench_lstm's contender: returns step(), one training step -> the gradients of the weights w."""
    params = {k: Value(v) for k, v in w.items()}
    xv = Value(x, needs_grad=False)

    def step():
        for p in params.values():
            p.slot.grad = None
        tape = Tape()
        tape.backward(record_lstm(tape, params, xv))
        # Each an array of its own, as tg's leaves' grads are (a gradient may be a view, or shared:
        # the biases' add hands both biases the same array).
        return {k: p.slot.grad.copy(order="K") for k, p in params.items()}

    return step
