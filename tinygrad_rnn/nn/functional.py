"""Losses and activations as functions, built from the engine's primitive ops (PyTorch's names)."""

from __future__ import annotations

import numpy as np

from ..core import OpError, Tensor, dtypes
from .module import tensor_arg

_REDUCTIONS = ("mean", "sum", "none")


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return tensor_arg(x, "softmax").softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return tensor_arg(x, "log_softmax").log_softmax(axis)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def cross_entropy(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target]: logits (N, C) or (C,), target class indices (N,) or ().

    Computed through log_softmax, so logits of +-1000 give a finite loss and gradient.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    tensor_arg(logits, "cross_entropy", "logits")
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise OpError(f"cross_entropy: target must hold class indices (integers), got dtype {t.dtype}")
    if logits.ndim not in (1, 2) or t.shape != logits.shape[:-1]:
        raise OpError(
            f"cross_entropy: logits {logits.shape} and target {t.shape} do not match "
            "(expected logits (N, C) with target (N,), or logits (C,) with a scalar target)"
        )
    n_classes = logits.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = int(t.min() if t.min() < 0 else t.max())
        raise OpError(f"cross_entropy: target {bad} is out of range for {n_classes} classes")
    logp = logits.log_softmax(axis=-1)
    picked = logp[np.arange(t.shape[0]), t] if logits.ndim == 2 else logp[int(t)]
    return _reduce(-picked, reduction)


def mse_loss(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """mean((pred - target)^2); shapes must be equal (a silent broadcast is a classic bug)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    tensor_arg(pred, "mse_loss", "pred")
    target = target if isinstance(target, Tensor) else Tensor(dtypes.array(target, where="mse_loss"), dtype=pred.dtype)
    if target.shape != pred.shape:
        raise OpError(f"mse_loss: pred {pred.shape} and target {target.shape} must have the same shape")
    diff = pred - target
    return _reduce(diff * diff, reduction)
