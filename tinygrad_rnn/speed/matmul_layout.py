"""Lesson: the layout OpenBLAS prefers for h @ W.T.

What it does. Every step of an RNN multiplies a few rows of h by a transposed weight, h @ W.T,
where W.T is a view of W (its columns are W's rows, so it is stored column by column). For
float32, a batch of 8 to 48 rows and a product at least 256 wide, OpenBLAS runs that product up
to 1.5-1.9x slower than W @ h.T, which is the same product transposed. This lesson computes it as
(W @ h.T).T and copies the result back into rows.

Why the numbers are the same. (W @ h.T).T = h @ W.T exactly, element by element: each element is
the same dot product of a row of h and a row of W (BLAS may sum it in another order, so the last
bits may differ). The limits were measured on this project's machine (benchmarks/bench_matmul_layout.py);
elsewhere they may be less than best, never wrong.

Measured (benchmarks/bench_lessons.py, 2026-12-05, two runs; time without it over time with all the
lessons): an LSTM step at B=32, H=512 1.10-1.11x, at H=128 0.99x. The product alone
(benchmarks/bench_matmul_layout.py): 32 rows x (128 -> 512) 0.94 of the time, (512 -> 2048) 0.74,
8 rows 0.62, 64 rows 1.30 (so it stops at 48).
"""

from __future__ import annotations

import numpy as np

from ..core import ops


def rows_by_transposed_weight(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a @ b is quicker as (b.T @ a.T).T: a few float32 rows times a wide, transposed matrix."""
    return (
        b.dtype == np.float32
        and a.ndim == 2
        and b.ndim == 2
        and 8 <= a.shape[0] <= 48
        and b.shape[1] >= 256
        and b.flags.f_contiguous
        and not b.flags.c_contiguous
    )


class MatMul(ops.MatMul):
    """h @ W.T computed as (W @ h.T).T where OpenBLAS runs that faster; other cases as the core."""

    def forward(self, a, b):
        if rows_by_transposed_weight(a, b):
            self.save_for_backward(a, b)
            return np.ascontiguousarray((b.T @ a.T).T)
        return super().forward(a, b)
