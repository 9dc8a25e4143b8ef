"""Lesson: a large sum's gradient as a view, not a copy.

What it does. The loss of a long sequence is a sum over a large array: (T, B, H) outputs, 33 MB
at T=1000, B=32, H=256. Its gradient is that one number dy in every position. The core writes it
into a new array of the input's size; this lesson hands on np.broadcast_to(dy, x.shape), a
read-only view of the one number that takes no memory (PyTorch's sum backward is an expand too).
Below SMALL elements the copy is quicker than making the view, so small sums keep it; so do sums
along an axis (a view with some zero strides would reach a leaf's grad as a copy in column order).

Why the numbers are the same. Every element of the view reads dy. No op of the engine writes into
a gradient it receives (ops.Function.backward says so), so the view is never written through.

Measured: see docs/speed.md (benchmarks/bench_lstm.py, peak memory at T=1000).
"""

from __future__ import annotations

import math

import numpy as np

from ..core import ops


class Sum(ops.Sum):
    """x.sum() whose backward, for more than SMALL elements, is a broadcast view of the one number."""

    SMALL = 4096

    def backward(self, dy):
        if self.axis is not None or math.prod(self.in_shape) <= self.SMALL:
            return super().backward(dy)
        return (np.broadcast_to(dy.reshape(self.kept_shape), self.in_shape),)
