"""Modules without parameters, each around one function of functional.py: ReLU, Tanh, Sigmoid, Softmax,
LogSoftmax, and Dropout (the one whose behaviour depends on `train()` / `eval()`).

They exist so that models can be written as PyTorch writes them, `nn.Sequential(nn.Linear(4, 8), nn.ReLU())`.
"""

from __future__ import annotations

from ..core import Tensor
from . import functional as F
from .module import Module, no_inplace, probability, tensor_arg


class ReLU(Module):
    """max(x, 0), elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        no_inplace("ReLU", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return tensor_arg(input, "ReLU").relu()


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, input: Tensor) -> Tensor:
        return tensor_arg(input, "Tanh").tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, input: Tensor) -> Tensor:
        return tensor_arg(input, "Sigmoid").sigmoid()


class Softmax(Module):
    """exp(x) / sum(exp(x)) along dim (which inputs of more than 2 dims must give, see F.softmax)."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return tensor_arg(input, "Softmax").softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along dim, computed stably."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return tensor_arg(input, "LogSoftmax").log_softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(Module):
    """F.dropout(x, p) in training mode (zero each element with probability p, scale the rest by 1/(1 - p)),
    the identity after `.eval()`. Masks come from the generator `tg.manual_seed` seeds."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        self.p = probability("Dropout", p)
        no_inplace("Dropout", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(tensor_arg(input, "Dropout"), self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
