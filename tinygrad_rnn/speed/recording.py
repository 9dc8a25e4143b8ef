"""Lesson: a short recording path for the ops of one or two tensors.

What it does. The core runs every op through one function, `_apply` in core/tensor.py, which takes
any number of input tensors and outputs and its options by keyword, so it loops over lists. Almost
every op of a recurrent step has one or two tensor inputs and one output. `one_tensor(op)` and
`two_tensors(op)` make a function that runs such an op with those counts written out: no lists,
no loops, no checks for several outputs.

Why the numbers are the same. It runs the same forward, records the same node (parents, scope,
dtype, shapes, names, and values inside keep_values) and raises the same errors: only the Python
around the op is shorter (tests/test_speed.py checks that both paths record equal graphs).

Measured (benchmarks/bench_lessons.py, 2026-12-05, two runs; time without it over time with all the
lessons): the tiny graph 1.25-1.28x, an LSTM step at B=2, H=4 1.12-1.21x, at min-char-rnn's size
1.15x, at B=32, H=128 1.05-1.10x, at H=512 0.98-0.99x: it saves a fixed cost per op.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import ops
from ..core.modes import OpError, in_scope, state
from ..core.tensor import Tensor, _check_finite, _Result


def one_tensor(op: type[ops.Function]) -> Callable[..., Tensor]:
    """A function that runs `op` on one tensor (options by keyword) and records it like `_apply`."""

    def run(x: Tensor, **options) -> Tensor:
        fn = op()
        try:
            y = fn.forward(x.data, **options)
        except (ValueError, IndexError, TypeError) as err:
            raise OpError(fn.explain_error((x.data,), err) + in_scope(state.scope)) from None
        if state.anomaly:
            _check_finite(fn, (y,), "forward", (x,))
        if not (x.requires_grad and state.grad_enabled):
            return Tensor._leaf(y)
        fn.needs_input_grad = (True,)
        fn.parents = (x if x._ctx is None else (x._ctx, x._k),)  # the core's `_key`, written out: one call fewer
        fn.scope, fn.dtype, fn.shapes, fn.names = state.scope, y.dtype, (y.shape,), [None]
        if state.keep_values:
            fn.values = (y,)
        return _Result(y, fn, 0)

    return run


def two_tensors(op: type[ops.Function]) -> Callable[..., Tensor]:
    """A function that runs `op` on two tensors (no options) and records it like `_apply`."""

    def run(a: Tensor, b: Tensor) -> Tensor:
        fn = op()
        try:
            y = fn.forward(a.data, b.data)
        except (ValueError, IndexError, TypeError) as err:
            raise OpError(fn.explain_error((a.data, b.data), err) + in_scope(state.scope)) from None
        if state.anomaly:
            _check_finite(fn, (y,), "forward", (a, b))
        if not ((a.requires_grad or b.requires_grad) and state.grad_enabled):
            return Tensor._leaf(y)
        fn.needs_input_grad = (a.requires_grad, b.requires_grad)
        fn.parents = (a if a._ctx is None else (a._ctx, a._k), b if b._ctx is None else (b._ctx, b._k))
        fn.scope, fn.dtype, fn.shapes, fn.names = state.scope, y.dtype, (y.shape,), [None]
        if state.keep_values:
            fn.values = (y,)
        return _Result(y, fn, 0)

    return run
