"""Losses, activations and dropout as functions, built from the engine's ops (PyTorch's names and arguments).

Each function takes PyTorch's arguments in PyTorch's order, so a copied call means the same here. An
argument PyTorch has and this package does not (`weight=`, the deprecated `size_average=`/`reduce=`,
`inplace=True`) is a TypeError naming it and saying what to write instead; it is never ignored.
"""

from __future__ import annotations

import numpy as np

from ..core import OpError, Tensor, dtypes
from . import init
from .module import no_inplace, probability, tensor_arg

_REDUCTIONS = ("mean", "sum", "none")


# -- activations -------------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0);  dx = dy where x > 0, else 0."""
    no_inplace("relu", inplace)
    return tensor_arg(input, "relu").relu()


def tanh(input: Tensor) -> Tensor:
    return tensor_arg(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:
    return tensor_arg(input, "sigmoid").sigmoid()


def softmax(input: Tensor, dim: int | None = None, *, dtype=None, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim; dtype= converts the input first (a differentiable cast), as in PyTorch.
    Without dim: the last axis up to 2 dims (PyTorch's implicit choice there too), a TypeError above."""
    x = tensor_arg(input, "softmax")
    return (x if dtype is None else x.to(dtype)).softmax(dim, axis=axis)


def log_softmax(input: Tensor, dim: int | None = None, *, dtype=None, axis: int | None = None) -> Tensor:
    """x - log(sum(exp(x))) along dim, computed stably (finite for logits of +-1000); dim as softmax's."""
    x = tensor_arg(input, "log_softmax")
    return (x if dtype is None else x.to(dtype)).log_softmax(dim, axis=axis)


# -- dropout -----------------------------------------------------------------------------------------


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: each element is zeroed with probability p and the others are scaled by 1/(1 - p),
    so the expected value is unchanged and nothing needs scaling at evaluation.

        y = x * m / (1 - p);  dx = dy * m / (1 - p)        m[i] = 1 with probability 1 - p, else 0

    With training=False, or p = 0, it returns x itself; p = 1 gives zeros. The mask m is drawn from the
    generator `tg.manual_seed` seeds (nn/init.py), so a seeded run repeats; PyTorch's masks are drawn
    from its own generator, so they differ from these.
    """
    p = probability("dropout", p)
    no_inplace("dropout", inplace)
    x = tensor_arg(input, "dropout")
    if not training or p == 0:
        return x
    dtype = x.dtype if x.dtype.kind == "f" else dtypes.FLOAT
    keep = init.default_rng().random(x.shape) >= p  # True with probability 1 - p
    scale = np.zeros(x.shape, dtype) if p == 1 else keep.astype(dtype) / dtype.type(1 - p)
    return x * Tensor(scale, name="mask")


# -- losses ------------------------------------------------------------------------------------------


def _reduction(who: str, reduction: str, size_average=None, reduce=None) -> None:
    if size_average is not None or reduce is not None:
        raise TypeError(
            f"{who}: size_average= and reduce= are PyTorch's deprecated spellings of reduction=, not supported "
            "here; write reduction='mean', 'sum' or 'none'"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _no_weight(who: str, weight) -> None:
    if weight is not None:
        raise TypeError(
            f"{who}: weight= (one weight per class) is not supported; with reduction='none' you get every "
            "element's loss: multiply each by its target class's weight and divide the sum by the sum of those "
            "weights (that is PyTorch's weighted mean)"
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _class_indices(who: str, input: Tensor, target, ignore_index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The target as an integer array checked against input's shape and number of classes, and where it equals
    ignore_index (None when nowhere). Classes are on axis 1, as in PyTorch: input (N, C) with target (N,),
    (N, C, d1, ...) with (N, d1, ...), or (C,) with a scalar target."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise OpError(
            f"{who}: target must hold class indices (integers), got dtype {t.dtype}; class probabilities as the "
            "target are not supported: for them write -(F.log_softmax(input, dim=1) * target).sum(1).mean()"
        )
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if input.ndim == 0 or t.shape != expected:
        raise OpError(
            f"{who}: input {input.shape} and target {t.shape} do not match (expected input (N, C) with target (N,), "
            "(N, C, d1, ...) with (N, d1, ...), classes on axis 1, or (C,) with a scalar target)"
        )
    ignored = t == ignore_index
    ignored = ignored if ignored.any() else None
    n_classes = input.shape[1 if input.ndim >= 2 else 0]
    used = t if ignored is None else t[~ignored]
    if used.size and (used.min() < 0 or used.max() >= n_classes):
        bad = int(used.min() if used.min() < 0 else used.max())
        raise OpError(f"{who}: target {bad} is out of range for {n_classes} classes (ignore_index={ignore_index})")
    return t, ignored


def _pick(input: Tensor, t: np.ndarray) -> Tensor:
    """input[n, t[n, d1, ...], d1, ...]: each element's value at its target class (one getitem)."""
    if input.ndim == 1:
        return input[int(t)]
    n = t.ndim
    rows = [np.arange(size).reshape((1,) * k + (size,) + (1,) * (n - 1 - k)) for k, size in enumerate(t.shape)]
    return input[(rows[0], t, *rows[1:])]


def _masked_reduce(loss: Tensor, ignored: np.ndarray | None, reduction: str) -> Tensor:
    """Reduce a loss whose ignored elements are 0 (already): the mean is over the others only, as PyTorch's (nan if
    every element is ignored)."""
    if ignored is None or reduction != "mean":
        return _reduce(loss, reduction)
    count = int(ignored.size - ignored.sum())
    return loss.sum() * (1.0 / count if count else float("nan"))


def _nll(who: str, logp: Tensor, target, ignore_index: int, reduction: str) -> tuple[Tensor, np.ndarray | None]:
    t, ignored = _class_indices(who, logp, target, ignore_index)
    if ignored is None:
        return _reduce(-_pick(logp, t), reduction), None
    loss = (-_pick(logp, np.where(ignored, 0, t))).where(~ignored, 0.0)  # ignored: 0, and no gradient
    return _masked_reduce(loss, ignored, reduction), ignored


def nll_loss(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-input[target] for log-probabilities `input` (classes on axis 1): the negative log-likelihood.

    Shapes as cross_entropy. A target equal to ignore_index contributes 0 and is left out of the mean.
    """
    _no_weight("nll_loss", weight)
    _reduction("nll_loss", reduction, size_average, reduce)
    return _nll("nll_loss", tensor_arg(input, "nll_loss"), target, ignore_index, reduction)[0]


def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """-log softmax(input)[target], classes on axis 1 as in PyTorch: input (N, C) with target (N,),
    (N, C, d1, ...) with target (N, d1, ...), or (C,) with a scalar target; target holds class indices.

    A target equal to ignore_index contributes 0 and is left out of the mean (all of them ignored: nan, as
    PyTorch). label_smoothing = e mixes in the uniform distribution, as PyTorch:
    loss = (1 - e) * nll + e * mean over classes of -log softmax(input). Computed through log_softmax, so
    logits of +-1000 give a finite loss and gradient.
    """
    _no_weight("cross_entropy", weight)
    _reduction("cross_entropy", reduction, size_average, reduce)
    eps = probability("cross_entropy", label_smoothing, "label_smoothing")
    x = tensor_arg(input, "cross_entropy")
    logp = x.log_softmax(1 if x.ndim >= 2 else 0)
    nll, ignored = _nll("cross_entropy", logp, target, ignore_index, reduction)
    if eps == 0:
        return nll
    smooth = -logp.sum(1 if x.ndim >= 2 else 0)  # -sum over classes of log p, per element
    if ignored is not None:
        smooth = smooth.where(~ignored, 0.0)
    n_classes = x.shape[1 if x.ndim >= 2 else 0]
    return nll * (1 - eps) + _masked_reduce(smooth, ignored, reduction) * (eps / n_classes)


def mse_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """mean((input - target)^2); shapes must be equal (PyTorch broadcasts them with a warning: a classic bug)."""
    _reduction("mse_loss", reduction, size_average, reduce)
    if weight is not None:
        raise TypeError(
            "mse_loss: weight= is not supported; with reduction='none' you get every element's loss: "
            "multiply it by your weights and then take the mean or sum"
        )
    tensor_arg(input, "mse_loss")
    target = target if isinstance(target, Tensor) else Tensor(dtypes.array(target, where="mse_loss"), dtype=input.dtype)
    if target.shape != input.shape:
        raise OpError(f"mse_loss: input {input.shape} and target {target.shape} must have the same shape")
    diff = input - target
    return _reduce(diff * diff, reduction)
