"""Helpers that act on a model's gradients between backward and the optimizer step.

This file owns `clip_grad_norm_`, the standard cure for exploding gradients in recurrent nets.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..core import Tensor


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so that their joint norm is at most `max_norm`; return that norm before clipping.

        total = || concat(grad of every parameter) ||_norm_type      (parameters without a grad are ignored)
        grad  = grad * min(max_norm / (total + 1e-6), 1)

    As torch.nn.utils.clip_grad_norm_: `norm_type` may be `float("inf")` (largest absolute entry), and a
    nan or inf total spreads into the gradients instead of being hidden. Every clipped gradient is replaced
    by a scaled copy, so an array shared with anything else is never changed behind its back.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    norm_type = float(norm_type)
    # The norm of the per-parameter norms equals the norm of the concatenation, without building it.
    norms = [np.linalg.norm(p.grad.ravel(), norm_type) for p in params]
    total = float(np.linalg.norm(np.array(norms), norm_type))
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # `not >=` so that a nan coefficient scales too, as in PyTorch
        for p in params:
            p.grad = p.grad * coef
    return total
