"""Optimizers: how parameters move once backward has filled their `.grad`.

This file owns `Optimizer` (the parameter list, argument checks, `zero_grad`) and three update rules,
SGD (with momentum), Adam and Adagrad. Each rule is the one PyTorch's `torch.optim` uses, written out
so it can be read next to the equations in its docstring; tests/test_optim.py checks 20-step
trajectories against PyTorch. Gradient clipping lives in `nn/utils.py`.

Updates write into `p.data` in place: a model, a `state_dict` or a renderer holding that array sees the
new values, and a float32 parameter stays float32.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .core import Tensor


class Optimizer:
    """Holds the parameters to update; subclasses define `step()`."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        if isinstance(params, Tensor):  # a Tensor is iterable too (over its rows): catch it before list()
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors (e.g. model.parameters()), "
                "got a single Tensor; wrap it in a list"
            )
        self.params: list[Tensor] = list(params)  # a generator would be used up after one pass
        if not self.params:
            raise ValueError(
                f"{type(self).__name__}: got an empty parameter list (did the model register no parameters, "
                "or was the parameters() generator already used up?)"
            )
        for k, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {k} is a {type(p).__name__}, not a Tensor")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in the list; it would be updated twice")
        _check_nonnegative(self, lr=lr)
        self.lr = float(lr)  # a Python float, so a float32 parameter's update stays float32
        # Per-parameter state (momentum buffers, moment estimates, step counts), indexed like self.params
        # and created at a parameter's first update, as in PyTorch.
        self.state: list[dict[str, np.ndarray | int]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every gradient, so the next backward starts from nothing instead of accumulating."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _with_grad(self):
        """(parameter, its gradient, its state) for every parameter that got a gradient."""
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:  # not reached by the last backward: leave it (and its state) alone
                yield p, p.grad, state


def _check_nonnegative(opt: Optimizer, **values: float) -> None:
    for name, value in values.items():
        if not isinstance(value, int | float | np.number) or not value >= 0.0:  # (nan is rejected too)
            raise ValueError(f"{type(opt).__name__}: {name} must be >= 0, got {value}")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and L2 weight decay.

    g = grad + weight_decay * p
    b = g                      (first step)
    b = momentum * b + g       (later steps)        # only when momentum > 0; then g = b
    p = p - lr * g
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check_nonnegative(self, momentum=momentum, weight_decay=weight_decay)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def step(self) -> None:
        for p, g, state in self._with_grad():
            if self.weight_decay:
                g = g + self.weight_decay * p.data  # a new array: p.grad itself is never changed
            if self.momentum:
                b = state.get("momentum_buffer")
                b = g.copy() if b is None else self.momentum * b + g
                state["momentum_buffer"] = g = b
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam: a step per parameter scaled by running estimates of the gradient's mean and square.

    g = grad + weight_decay * p
    m = beta1 * m + (1 - beta1) * g             (m, v start at 0; t counts this parameter's steps)
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)                  # bias correction: m and v start at 0, so early
    v_hat = v / (1 - beta2**t)                  # estimates are too small by exactly these factors
    p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        _check_nonnegative(self, eps=eps, weight_decay=weight_decay)
        beta1, beta2 = betas
        for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta}")
        self.betas, self.eps, self.weight_decay = (float(beta1), float(beta2)), float(eps), float(weight_decay)

    def step(self) -> None:
        beta1, beta2 = self.betas
        for p, g, state in self._with_grad():
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if not state:
                state.update(t=0, m=np.zeros_like(p.data), v=np.zeros_like(p.data))
            t = state["t"] = state["t"] + 1
            m = state["m"] = beta1 * state["m"] + (1 - beta1) * g
            v = state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
            # PyTorch's arrangement of the same formula: lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
            step_size = self.lr / (1 - beta1**t)
            denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + self.eps
            p.data -= step_size * (m / denom)


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step shrinks with the sum of its squared gradients so far.

    g = grad + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)         (t counts this parameter's steps, from 1)
    s = s + g**2                                (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        _check_nonnegative(
            self,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        self.lr_decay, self.weight_decay, self.eps = float(lr_decay), float(weight_decay), float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def step(self) -> None:
        for p, g, state in self._with_grad():
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if not state:
                state.update(t=0, sum=np.full_like(p.data, self.initial_accumulator_value))
            t = state["t"] = state["t"] + 1
            clr = self.lr / (1 + (t - 1) * self.lr_decay)
            s = state["sum"] = state["sum"] + g * g
            p.data -= clr * (g / (np.sqrt(s) + self.eps))
