"""Finite-difference gradient checking: is the backward pass telling the truth?

`gradcheck(fn, inputs)` compares the engine's gradients with central differences
(f(x + eps) - f(x - eps)) / (2 eps), element by element, in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .core import Tensor, enable_grad, no_grad


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree; the message names where and by how much."""


def _fmt(a: np.ndarray) -> str:
    return np.array2string(a, precision=6, threshold=64, max_line_width=100)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check d fn(*inputs) / d input for every input with requires_grad=True.

    Inputs are copied to float64. A non-scalar output is reduced to sum(out * r) with a fixed
    random r, which checks every output element's gradient at the cost of one backward.
    Returns True, or raises GradcheckError naming the input, the worst element and both gradients.
    """
    inputs = list(inputs)
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: input {k} is a {type(t).__name__}, not a Tensor")
        if t.dtype.kind == "f" and not np.isfinite(t.data).all():
            raise ValueError(f"gradcheck: input {k} ({_label(t)}) contains nan or inf; gradients there are meaningless")
    checked = [k for k, t in enumerate(inputs) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    xs = [
        Tensor(t.data.astype(np.float64), requires_grad=t.requires_grad, name=t.name) if t.dtype.kind == "f" else t
        for t in inputs
    ]

    with enable_grad():
        out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not np.isfinite(out.data).all():
        raise ValueError("gradcheck: fn's output contains nan or inf at the given inputs")
    r = np.random.default_rng(seed).standard_normal(out.shape)

    def objective() -> float:
        with no_grad():
            return float((fn(*xs).data.astype(np.float64) * r).sum())

    if out.requires_grad:
        out.backward(r)

    for k in checked:
        x = xs[k]
        analytic = x.grad if x.grad is not None else np.zeros_like(x.data)
        numeric = np.zeros_like(x.data)
        for i in np.ndindex(x.shape):  # element by element in x's own array, whatever its memory order
            orig = x.data[i]
            x.data[i] = orig + eps
            up = objective()
            x.data[i] = orig - eps
            down = objective()
            x.data[i] = orig
            numeric[i] = (up - down) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if (excess > 0).any():
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), x.shape))
            raise GradcheckError(
                f"gradcheck: gradient of input {k} ({_label(inputs[k])}) is wrong at index {worst}: "
                f"analytic {analytic[worst]:.8g}, numeric {numeric[worst]:.8g} (|difference| "
                f"{abs(analytic[worst] - numeric[worst]):.3g} > atol {atol:g} + rtol {rtol:g} * |numeric|)\n"
                f"analytic gradient:\n{_fmt(analytic)}\nnumeric gradient:\n{_fmt(numeric)}"
            )
    return True


def _label(t: Tensor) -> str:
    return f"'{t.name}', shape {t.shape}" if t.name else f"shape {t.shape}"
