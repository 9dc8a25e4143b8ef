"""Loss modules, PyTorch's `criterion = nn.CrossEntropyLoss(...)`: each keeps its options and calls functional.py.

Options PyTorch has and this package does not (weight=, size_average=, reduce=) are refused when the module is
made, with the same message as the function's.
"""

from __future__ import annotations

from ..core import Tensor
from . import functional as F
from .module import Module, probability, tensor_arg


class CrossEntropyLoss(Module):
    """criterion(input, target) is F.cross_entropy(input, target, ignore_index=, reduction=, label_smoothing=)."""

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        F._no_weight("CrossEntropyLoss", weight)
        F._reduction("CrossEntropyLoss", reduction, size_average, reduce)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = probability("CrossEntropyLoss", label_smoothing, "label_smoothing")

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(
            tensor_arg(input, "CrossEntropyLoss"),
            target,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(Module):
    """criterion(input, target) is F.nll_loss(input, target, ignore_index=, reduction=), for log-probabilities."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean"):
        F._no_weight("NLLLoss", weight)
        F._reduction("NLLLoss", reduction, size_average, reduce)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(
            tensor_arg(input, "NLLLoss"), target, ignore_index=self.ignore_index, reduction=self.reduction
        )


class MSELoss(Module):
    """criterion(input, target) is F.mse_loss(input, target, reduction=)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        F._reduction("MSELoss", reduction, size_average, reduce)
        self.reduction = reduction

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(tensor_arg(input, "MSELoss"), target, reduction=self.reduction)
