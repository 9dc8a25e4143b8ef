"""Lesson: a stack of matrices times one matrix, as one big matrix product.

What it does. A recurrent layer projects the input of all T steps at once: x (T, B, I) @ W.T
(I, 4H). numpy runs a stack times a matrix as T products of (B, I) @ (I, 4H), and the plain
backward forms db = x.T @ dy as T products (T, I, 4H) and then sums them. Seen as one (T*B, I)
matrix, the same numbers are one product forward, (T*B, I) @ (I, 4H), and one backward,
(I, T*B) @ (T*B, 4H): BLAS runs one large product far faster than many small ones, and no
(T, I, 4H) array is ever made.

Why the numbers are the same. Reshaping (T, B, I) to (T*B, I) lists the same rows; the sum over
t of x_t.T @ dy_t is the product of the stacked rows (the inner dimension is just longer).
Floating-point sums may round differently in the last bits.

Measured (benchmarks/bench_lessons.py, 2026-12-05, two runs; time without it over time with all the
lessons): an LSTM step at min-char-rnn's size 1.37-1.41x, at B=32, H=128 1.07-1.08x, at H=512 1.03-1.06x; the
peak memory of a T=1000, B=32, H=256 step 442 MB without it, 402 MB with it (bench_lstm.py).
"""

from __future__ import annotations

from ..core import ops


class MatMul(ops.MatMul):
    """a @ b for a of 3 or more dimensions and b a matrix, as one 2-D product; other cases as the core."""

    def forward(self, a, b):
        if a.ndim > 2 and b.ndim == 2:
            self.save_for_backward(a, b)
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
        return super().forward(a, b)

    def backward(self, dy):
        a, b = self.saved
        if not (a.ndim > 2 and b.ndim == 2):
            return super().backward(dy)
        rows, dy_rows = a.reshape(-1, a.shape[-1]), dy.reshape(-1, dy.shape[-1])
        da = (dy_rows @ b.T).reshape(a.shape) if self.needs_input_grad[0] else None
        db = rows.T @ dy_rows if self.needs_input_grad[1] else None
        return da, db
