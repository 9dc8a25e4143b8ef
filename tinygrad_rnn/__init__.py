"""tinygrad_rnn: a small reverse-mode autograd engine on numpy, for learning how RNNs and LSTMs work."""

from . import data, memory, nn, ops, optim, viz
from .gradcheck import GradcheckError, gradcheck
from .nn.init import manual_seed
from .ops import Function
from .serialization import load, save
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
    keep_values,
    no_grad,
    ones,
    scope,
    stack,
    zeros,
)

__version__ = "0.1.0"

memory._on_import()  # keep freed memory between training steps (see memory.py)

__all__ = [
    "AnomalyError",
    "BackwardError",
    "Function",
    "GradcheckError",
    "OpError",
    "Tensor",
    "apply",
    "cat",
    "current_scope",
    "data",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "keep_values",
    "load",
    "manual_seed",
    "memory",
    "nn",
    "no_grad",
    "ones",
    "ops",
    "optim",
    "save",
    "scope",
    "stack",
    "viz",
    "zeros",
]
