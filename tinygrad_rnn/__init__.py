"""tinygrad_rnn: a small reverse-mode autograd engine on numpy, for learning how RNNs and LSTMs work."""

from . import ops
from .gradcheck import GradcheckError, gradcheck
from .ops import Function
from .tensor import (
    AnomalyError,
    BackwardError,
    OpError,
    Tensor,
    apply,
    cat,
    current_scope,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    ones,
    scope,
    stack,
    zeros,
)

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "Function",
    "apply",
    "ops",
    "BackwardError",
    "GradcheckError",
    "OpError",
    "Tensor",
    "cat",
    "current_scope",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "ones",
    "scope",
    "stack",
    "zeros",
]
