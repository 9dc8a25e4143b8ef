"""Optimizers: how parameters move once backward has filled their `.grad`.

This file owns `Optimizer` (parameter groups, argument checks, `zero_grad`, `state_dict` and
`load_state_dict`) and five update rules: SGD (momentum, dampening, Nesterov), Adam (AMSGrad, decoupled
weight decay), AdamW, Adagrad and RMSprop (momentum, centered). Each rule is the one PyTorch's
`torch.optim` uses, written out so it can be read next to the equations in its docstring;
tests/test_optim.py checks 20-step trajectories against PyTorch. Gradient clipping lives in `nn/utils.py`.

The arguments are PyTorch's, with its names, defaults and positions, and parameter groups work as in
PyTorch: `opt.param_groups` is a list of dicts, each holding "params" and every hyperparameter, read again
at every step (a learning-rate schedule changes `group["lr"]`). PyTorch's switches that only choose a kernel
(`foreach`, `fused`, `capturable`) are accepted and change nothing, since each rule has one implementation
here; any other unknown keyword is a TypeError that names it.

Updates write into `p.data` in place: a model, a `state_dict` or a renderer holding that array sees the
new values, and a float32 parameter stays float32.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .core import Tensor, enable_grad

Group = dict[str, Any]

# PyTorch's switches that choose how a rule runs (one kernel per tensor or per list, fused, CUDA-graph safe),
# never what it computes.
_KERNEL_SWITCHES = ("foreach", "fused", "capturable")


class Optimizer:
    """Parameter groups, per-parameter state and the update loop; a subclass writes `_update` for one parameter.

    As in PyTorch, `Optimizer(params, defaults)`: `params` is an iterable of Tensors, of (name, Tensor) pairs
    (from `named_parameters()`), or of dicts (parameter groups: {"params": ..., "lr": ...}); `defaults` holds
    every hyperparameter, used where a group does not set its own.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[Group], defaults: Group) -> None:
        who = type(self).__name__
        self._check(defaults)
        self.defaults = defaults
        self.param_groups: list[Group] = []
        # Each parameter's state (momentum buffers, moment estimates, step counts), keyed by the parameter
        # itself as in PyTorch, and created at its first update.
        self._state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):  # a Tensor is iterable too (over its rows): catch it before list()
            raise TypeError(
                f"{who}: params should be an iterable of Tensors (e.g. model.parameters()), "
                "got a single Tensor; wrap it in a list"
            )
        if isinstance(params, set):
            raise TypeError(f"{who}: {_UNORDERED}")
        groups = list(params)  # a generator would be used up after one pass
        if not groups:
            raise ValueError(f"{who}: got an empty parameter list {_EMPTY}")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: Group) -> None:
        """Add a group of parameters; hyperparameters it does not set come from the constructor's.

        The dict itself becomes the group (as in PyTorch): its "params" is turned into a list and the
        missing hyperparameters are filled in.
        """
        who, n = type(self).__name__, len(self.param_groups)
        where = f" of parameter group {n}" if n else ""
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{who}: a parameter group is a dict such as {{'params': ..., 'lr': 0.1}}, got a "
                f"{type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{who}: parameter group {n} has no 'params' key (it has {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]  # inside a group one Tensor means a list of one, as in PyTorch
        elif isinstance(params, set):
            raise TypeError(f"{who}: {_UNORDERED}")
        params, names = _split_names(who, list(params))
        if not params:
            raise ValueError(f"{who}: got an empty parameter list{where} {_EMPTY}")
        for k, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{who}: parameter {k}{where} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"{who}: parameter {k}{where} was made by an op ({p._ctx.name}), so backward never fills its "
                    "grad; optimize the leaf tensors it was computed from"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{who}: a parameter appears twice in the list{where}; it would be updated twice")
        held = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in held for p in params):
            raise ValueError(
                f"{who}: a parameter of group {n} is already in another group; each parameter may be in one only"
            )
        group = {**param_group, "params": params}
        if names is not None:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check(group)
        param_group.update(group)
        self.param_groups.append(param_group)

    @property
    def params(self) -> list[Tensor]:
        """Every parameter, group after group: the numbering `state_dict()` uses."""
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def state(self) -> _StateList:
        """Each parameter's state dict, in the order of `params`; `opt.state[p]` finds p's, as in PyTorch."""
        return _StateList(self.params, self._state)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient, so the next backward starts from nothing instead of accumulating.

        set_to_none=False sets them to zeros instead, as in PyTorch: the next step then still moves
        parameters that get no gradient (through weight decay and momentum).
        """
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure`, if given, recomputes the loss first
        (with grad mode on); its result is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:  # not reached by the last backward: leave it (and its state) alone
                    continue
                g = -p.grad if group.get("maximize") else p.grad  # climb instead; p.grad itself is never changed
                self._update(p, g, self._state.setdefault(p, {}), group)
        return loss

    def _update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: Group) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no update rule (_update) or step()")

    def _check(self, group: Group) -> None:
        """Raise ValueError for a bad hyperparameter in `group` (a subclass checks its own)."""

    # -- saving and resuming ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, in PyTorch's layout; arrays are copies.

        {"state": {k: {"step": ..., "exp_avg": array, ...}}, "param_groups": [{"lr": ..., "params": [k, ...]}]},
        where k numbers the parameters group after group (the order of `params`).
        """
        index = {id(p): k for k, p in enumerate(self.params)}
        groups = [
            {
                **{name: copy.deepcopy(v) for name, v in group.items() if name != "params"},
                "params": [index[id(p)] for p in group["params"]],
            }
            for group in self.param_groups
        ]
        state = {
            index[id(p)]: {name: copy.deepcopy(v) for name, v in s.items()}
            for p, s in self._state.items()
            if s and id(p) in index
        }
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue from `state_dict` (from `state_dict()`, or a PyTorch optimizer's): hyperparameters and
        state are copied in, each array (or tensor) as an array of its parameter's dtype.

        The groups must match this optimizer's in number and size, each state array its parameter's shape,
        and every hyperparameter of this optimizer must be there; otherwise ValueError, and nothing changes.
        """
        who = type(self).__name__
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict).__name__
            raise ValueError(
                f"{who}.load_state_dict: expected the dict of opt.state_dict(), with keys 'state' "
                f"and 'param_groups'; got {got}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{who}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer {len(self.param_groups)}"
            )
        position: dict[int, Tensor] = {}  # saved number -> this optimizer's parameter, matched by order
        groups = []
        for n, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            missing = [name for name in self.defaults if name not in saved]
            if missing:
                raise ValueError(
                    f"{who}.load_state_dict: parameter group {n} has no {', '.join(missing)} "
                    f"(is it the state of another kind of optimizer?)"
                )
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{who}.load_state_dict: parameter group {n} has {len(saved['params'])} "
                    f"parameters in the state dict, {len(group['params'])} in this optimizer"
                )
            position.update(zip((int(k) for k in saved["params"]), group["params"], strict=True))
            loaded = {name: _python(v) for name, v in saved.items() if name != "params"}
            if "param_names" in group:  # names given to this optimizer stay, as in PyTorch
                loaded.setdefault("param_names", group["param_names"])
            groups.append({"params": group["params"], **loaded})
            self._check(groups[-1])
        state: dict[Tensor, dict[str, Any]] = {}
        for k, saved_state in state_dict["state"].items():
            if int(k) not in position:
                raise ValueError(f"{who}.load_state_dict: state for parameter {k}, which no parameter group lists")
            p = position[int(k)]
            state[p] = {name: _load_state_value(who, k, name, value, p) for name, value in saved_state.items()}
        self.param_groups, self._state = groups, state


class _StateList(list):
    """`opt.state`: one dict per parameter, in the order of `opt.params` (the numbers of `state_dict`).

    PyTorch keeps a dict keyed by the parameter; here `opt.state[p]` finds p's dict too, and `opt.state[k]`
    is the k-th parameter's. Each dict is the optimizer's own: changing it changes the next step.
    """

    def __init__(self, params: list[Tensor], states: dict[Tensor, dict[str, Any]]) -> None:
        super().__init__(states.setdefault(p, {}) for p in params)
        self._position = {id(p): k for k, p in enumerate(params)}

    def __getitem__(self, key):
        if isinstance(key, Tensor):
            if id(key) not in self._position:
                raise KeyError("opt.state[p]: this optimizer does not hold that tensor")
            key = self._position[id(key)]
        return super().__getitem__(key)


_EMPTY = "(did the model register no parameters, or was the parameters() generator already used up?)"
_UNORDERED = (
    "parameters must come in an ordered collection (a list), not a set: a set's order changes from run "
    "to run, and state_dict numbers parameters by their order"
)


def _split_names(who: str, params: list) -> tuple[list, list[str] | None]:
    """(tensors, names) from named_parameters()' (name, tensor) pairs, as PyTorch accepts; names None if plain."""
    if not any(isinstance(p, tuple) for p in params):
        return params, None
    if not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params):
        raise ValueError(
            f"{who}: give every parameter with its name, as (name, tensor) from named_parameters(), or none of them"
        )
    return [p for _, p in params], [name for name, _ in params]


def _python(value: Any) -> Any:
    """A loaded hyperparameter as a Python value: a 0-d array (as tg.load gives) or tensor becomes a number,
    a 1-d one (betas) a tuple."""
    if hasattr(value, "__array__"):
        arr = np.asarray(value)
        return arr.item() if arr.ndim == 0 else tuple(arr.tolist())
    return copy.deepcopy(value)


def _load_state_value(who: str, k: Any, name: str, value: Any, p: Tensor) -> Any:
    """A loaded state entry: a count as an int, an array (or a PyTorch tensor) as a copy in p's dtype."""
    if name == "step":  # PyTorch keeps the count as a float tensor
        return int(np.asarray(value).item())
    if value is None or isinstance(value, bool | int | float):
        return value
    arr = np.asarray(value)
    if arr.shape != p.shape:
        raise ValueError(
            f"{who}.load_state_dict: state {name!r} of parameter {k} has shape {arr.shape}, "
            f"the parameter has shape {p.shape}"
        )
    return np.array(arr, dtype=p.dtype)  # a copy, never shared with the state dict


def _check_options(opt: Optimizer, defaults: Group, options: dict[str, Any]) -> None:
    """Accept PyTorch's kernel switches (they change nothing here); refuse any other keyword by name."""
    who = type(opt).__name__
    for name, value in options.items():
        if name in _KERNEL_SWITCHES:
            continue  # every PyTorch kernel computes the rule below; here it has one implementation
        if name == "differentiable":
            if value:
                raise TypeError(
                    f"{who}: differentiable=True (backward through the update itself) is not "
                    "supported: the update writes p.data outside the graph; leave it out"
                )
            continue
        known = [*defaults, *_KERNEL_SWITCHES, "differentiable"]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{who} got an unexpected keyword argument {name!r}{hint} (it takes {', '.join(known)})")


def _check_nonnegative(opt: Optimizer, group: Group, *names: str) -> None:
    for name in names:
        value = group[name]
        if not isinstance(value, int | float | np.number) or not value >= 0.0:  # (nan is rejected too)
            raise ValueError(f"{type(opt).__name__}: {name} must be >= 0, got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (heavy-ball or Nesterov) and L2 weight decay.

    g = grad + weight_decay * p                 (with maximize=True, -grad: climb instead)
    b = g                                       (first step)                 # only when momentum > 0
    b = momentum * b + (1 - dampening) * g      (later steps)
    g = g + momentum * b   (nesterov=True)  or  g = b   (otherwise)
    p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[Group],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        **options: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        _check_options(self, defaults, options)
        super().__init__(params, defaults)

    def _check(self, group: Group) -> None:
        _check_nonnegative(self, group, "lr", "momentum", "dampening", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening=0 (as in PyTorch), got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: Group) -> None:
        lr, momentum, dampening, weight_decay = (
            float(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay")
        )
        if weight_decay:
            g = g + weight_decay * p.data  # a new array: p.grad itself is never changed
        if momentum:
            b = state.get("momentum_buffer")
            b = state["momentum_buffer"] = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if group["nesterov"] else b
        p.data -= lr * g


class Adam(Optimizer):
    """Adam: a step per parameter scaled by running estimates of the gradient's mean and square.

    g = grad + weight_decay * p                 (L2; decoupled_weight_decay=True instead shrinks p first:
                                                 p = p * (1 - lr * weight_decay), as AdamW)
    m = beta1 * m + (1 - beta1) * g             (m, v start at 0; t counts this parameter's steps)
    v = beta2 * v + (1 - beta2) * g**2
    v = v_max = max(v_max, v)                   (amsgrad=True only: the largest v so far, never shrinking)
    m_hat = m / (1 - beta1**t)                  # bias correction: m and v start at 0, so early
    v_hat = v / (1 - beta2**t)                  # estimates are too small by exactly these factors
    p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[Group],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        **options: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        _check_options(self, defaults, options)
        super().__init__(params, defaults)

    def _check(self, group: Group) -> None:
        who = type(self).__name__
        _check_nonnegative(self, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        for name, beta in (("betas[0]", betas[0]), ("betas[1]", betas[1])):
            if not isinstance(beta, int | float | np.number) or not 0.0 <= beta < 1.0:
                raise ValueError(f"{who}: {name} must be in [0, 1), got {beta!r}")

    def _update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: Group) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        if weight_decay and group["decoupled_weight_decay"]:
            p.data *= 1 - lr * weight_decay  # shrink p itself: Adam's scaling below never weakens the decay
        elif weight_decay:
            g = g + weight_decay * p.data
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        t = state["step"] = state["step"] + 1
        m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
        v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
        # PyTorch's arrangement of the same formula: lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
        step_size = lr / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks p directly instead of
    joining the gradient, where Adam's division by sqrt(v_hat) would weaken it for large gradients.

    p = p * (1 - lr * weight_decay)             (weight_decay 1e-2 unless told)
    then Adam's step, with g = grad
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[Group],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        **options: Any,
    ) -> None:
        if "decoupled_weight_decay" in options:
            raise TypeError(
                "AdamW got an unexpected keyword argument 'decoupled_weight_decay': AdamW's decay is "
                "always decoupled (as in PyTorch); for L2 weight decay use Adam"
            )
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True, **options
        )


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step shrinks with the sum of its squared gradients so far.

    g = grad + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)         (t counts this parameter's steps, from 1)
    s = s + g**2                                (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[Group],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        **options: Any,
    ) -> None:
        defaults = dict(  # in PyTorch's order, so that param_groups and state dicts read the same
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        _check_options(self, defaults, options)
        super().__init__(params, defaults)

    def _check(self, group: Group) -> None:
        _check_nonnegative(self, group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: Group) -> None:
        lr, lr_decay, eps, weight_decay = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
        if weight_decay:
            g = g + weight_decay * p.data
        if not state:
            state.update(step=0, sum=np.full_like(p.data, float(group["initial_accumulator_value"])))
        t = state["step"] = state["step"] + 1
        clr = lr / (1 + (t - 1) * lr_decay)
        s = state["sum"] = state["sum"] + g * g
        p.data -= clr * (g / (np.sqrt(s) + eps))


class RMSprop(Optimizer):
    """RMSprop: each coordinate's step divided by a running root mean square of its gradients.

    g = grad + weight_decay * p
    s = alpha * s + (1 - alpha) * g**2          (s starts at 0)
    d = sqrt(s) + eps
    a = alpha * a + (1 - alpha) * g             (centered=True only: a starts at 0, and then
    d = sqrt(s - a**2) + eps                     d divides by an estimate of the standard deviation)
    b = momentum * b + g / d;  p = p - lr * b   (momentum > 0; b starts at 0)
    p = p - lr * g / d                          (momentum = 0)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[Group],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        **options: Any,
    ) -> None:
        defaults = dict(  # in PyTorch's order, so that param_groups and state dicts read the same
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        _check_options(self, defaults, options)
        super().__init__(params, defaults)

    def _check(self, group: Group) -> None:
        _check_nonnegative(self, group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _update(self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: Group) -> None:
        lr, alpha, eps, weight_decay, momentum = (
            float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum")
        )
        if weight_decay:
            g = g + weight_decay * p.data
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
        state["step"] += 1
        s = state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
        if group["centered"]:
            a = state["grad_avg"] = alpha * state.get("grad_avg", 0.0) + (1 - alpha) * g
            d = np.sqrt(s - a * a) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum:
            b = state["momentum_buffer"] = momentum * state.get("momentum_buffer", 0.0) + g / d
            p.data -= lr * b
        else:
            p.data -= lr * (g / d)
