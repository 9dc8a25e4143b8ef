"""Lesson: a weight shared by T steps gets its gradient as one product, not T.

What it does. The recurrent weight is used by every step, h_{t-1} @ W_hh.T, so backward receives
T gradients for it, each a product of a thin pair: dW = h_{t-1}.T @ dy_t, with h (B, H) and dy
(B, 4H). T small products run far below what BLAS can do, and adding them up takes T more passes.
Here a matrix product's gradient for its right operand is handed on as its two factors (a
`Factors`, a lazy gradient: core/tensor.py's `Lazy`). Adding two of them joins their lists of
factors; when the engine needs the array (`dense()`), all the factors are stacked and multiplied
once: concat(h_1..h_T).T @ concat(dy_1..dy_T). At most CHUNK pairs are held before they are
multiplied out, which bounds the memory they keep alive.

Why the numbers are the same. The sum over t of h_t.T @ dy_t is the product of the stacked
factors: the inner dimension is just longer. Floating-point sums may round differently in the
last bits.

Measured (benchmarks/bench_lessons.py, 2026-12-05, two runs; time without it over time with all the
lessons): an LSTM step at min-char-rnn's size 1.52-1.58x, at B=32, H=128 1.05-1.11x, at H=512
1.27-1.30x.
"""

from __future__ import annotations

import numpy as np

from ..core import ops
from ..core.tensor import Lazy


class Factors(Lazy):
    """The sum of products a_i.T @ dy_i, kept as the lists of factors (and `done`, a sum already made)."""

    CHUNK = 64

    def __init__(self, a: list[np.ndarray], dy: list[np.ndarray], done: np.ndarray | None = None) -> None:
        self.a, self.dy, self.done = a, dy, done
        if len(a) >= self.CHUNK:  # multiply out now: the factors hold memory until then
            self.a, self.dy, self.done = [], [], self.dense()

    def __add__(self, other):
        if isinstance(other, Factors):
            done = self.done if other.done is None else other.done if self.done is None else self.done + other.done
            return Factors(self.a + other.a, self.dy + other.dy, done)
        return self.dense() + other

    __radd__ = __add__

    def dense(self) -> np.ndarray:
        if not self.a:
            return self.done
        a = self.a[0] if len(self.a) == 1 else np.concatenate(self.a)
        dy = self.dy[0] if len(self.dy) == 1 else np.concatenate(self.dy)
        product = a.T * dy if a.shape[0] == 1 else a.T @ dy  # one row: an outer product, which broadcasting does faster
        return product if self.done is None else self.done + product


class MatMul(ops.MatMul):
    """a @ b whose backward hands b its gradient as Factors when both are matrices; other cases as the core."""

    def backward(self, dy):
        a, b = self.saved
        if not (a.ndim == 2 and b.ndim == 2):
            return super().backward(dy)
        da = dy @ b.T if self.needs_input_grad[0] else None
        db = Factors([a], [dy]) if self.needs_input_grad[1] else None
        return da, db
