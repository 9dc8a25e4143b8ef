"""The engine, in the order docs/autograd.md reads it: modes.py, ops.py, tensor.py."""

from . import dtypes, ops
from .api import grad
from .modes import (
    AnomalyError,
    BackwardError,
    OpError,
    current_scope,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    keep_values,
    no_grad,
    scope,
)
from .ops import Function
from .tensor import Lazy, Tensor, cat, ones, stack, topological_order, zeros

__all__ = ["AnomalyError", "BackwardError", "Function", "Lazy", "OpError", "Tensor", "cat", "current_scope", "dtypes"]
__all__ += ["grad"]
__all__ += [
    "detect_anomaly",
    "enable_grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "keep_values",
    "no_grad",
    "ones",
    "ops",
    "scope",
]
__all__ += ["stack", "topological_order", "zeros"]
