"""tinygrad_rnn: a small reverse-mode autograd engine on numpy, for learning how RNNs and LSTMs work."""

from . import core, data, nn, optim, speed, viz
from .core import (
    AnomalyError,
    BackwardError,
    Function,
    OpError,
    Tensor,
    cat,
    current_scope,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    keep_values,
    no_grad,
    ones,
    ops,
    scope,
    stack,
    topological_order,
    zeros,
)
from .custom import apply
from .gradcheck import GradcheckError, gradcheck
from .nn.init import manual_seed
from .serialization import load, save
from .speed import plain

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "BackwardError",
    "Function",
    "GradcheckError",
    "OpError",
    "Tensor",
    "apply",
    "cat",
    "core",
    "current_scope",
    "data",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "keep_values",
    "load",
    "manual_seed",
    "nn",
    "no_grad",
    "ones",
    "ops",
    "optim",
    "plain",
    "save",
    "scope",
    "speed",
    "stack",
    "topological_order",
    "viz",
    "zeros",
]
