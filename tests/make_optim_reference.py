"""Regenerate tests/reference/optim_reference.npz: optimizer trajectories and clipped gradients made by PyTorch.

    python tests/make_optim_reference.py        (needs PyTorch)

This file also owns the problem those references are made on (starting values, loss, optimizer settings with
and without parameter groups, the learning-rate change every run makes, clipping cases) and the training loop,
which runs on torch and tinygrad_rnn alike. tests/test_optim.py imports it, runs tinygrad_rnn on the same
problem, and compares with the stored file, so the comparison with PyTorch also runs where PyTorch is not
installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "reference" / "optim_reference.npz"
STEPS = 20
PARAM_NAMES = ("W", "b", "c")

# name -> (optimizer class name, shared by torch.optim and tinygrad_rnn.optim; keyword arguments)
CONFIGS: dict[str, tuple[str, dict]] = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd_weight_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    "sgd_momentum_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.2}),
    "sgd_dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    "sgd_maximize": ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_betas": ("Adam", {"lr": 0.05, "betas": (0.5, 0.9)}),
    "adam_weight_decay_eps": ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-4, "weight_decay": 0.1}),
    "adam_amsgrad": ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    "adam_decoupled_maximize": (
        "Adam",
        {"lr": 0.01, "weight_decay": 0.5, "decoupled_weight_decay": True, "maximize": True},
    ),
    "adamw_defaults": ("AdamW", {}),
    "adamw": ("AdamW", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.5}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.05, "amsgrad": True}),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad_lr_decay": ("Adagrad", {"lr": 0.2, "lr_decay": 0.1}),
    "adagrad_all": (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
    ),
    "adagrad_maximize": ("Adagrad", {"lr": 0.05, "maximize": True}),
    "rmsprop_defaults": ("RMSprop", {}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "centered": True}),
    "rmsprop_all": (
        "RMSprop",
        {"lr": 0.005, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True},
    ),
    "rmsprop_maximize": ("RMSprop", {"lr": 0.001, "maximize": True}),
}

# name -> (optimizer class name, keyword arguments, parameter groups: {"params": [names], **own settings})
GROUP_CONFIGS: dict[str, tuple[str, dict, list[dict]]] = {
    "sgd_groups": (
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        [{"params": ["W"], "lr": 0.05, "nesterov": True}, {"params": ["b", "c"], "dampening": 0.5}],
    ),
    "adam_groups": (
        "Adam",
        {"lr": 0.01},
        [
            {"params": ["W", "c"], "weight_decay": 0.1, "amsgrad": True},
            {"params": ["b"], "lr": 0.05, "betas": (0.5, 0.9)},
        ],
    ),
    "adamw_groups": ("AdamW", {"lr": 0.02}, [{"params": ["b", "W"]}, {"params": ["c"], "weight_decay": 0.0}]),
    "adagrad_groups": ("Adagrad", {"lr": 0.1}, [{"params": ["W"], "lr_decay": 0.1}, {"params": ["c", "b"]}]),
    "rmsprop_groups": (
        "RMSprop",
        {"lr": 0.01},
        [{"params": ["W"], "centered": True}, {"params": ["b", "c"], "momentum": 0.5, "lr": 0.005}],
    ),
}
# Every run multiplies each group's lr by LR_FACTOR before step LR_CHANGE_STEP, through opt.param_groups,
# as a learning-rate schedule does: the change must reach the next step.
LR_CHANGE_STEP, LR_FACTOR = 4, 0.5

# name -> (max_norm, norm_type)
CLIP_CASES: dict[str, tuple[float, float]] = {
    "l2_clipped": (1.0, 2.0),
    "l2_not_clipped": (100.0, 2.0),
    "l1_clipped": (0.5, 1.0),
    "inf_clipped": (0.1, float("inf")),
    "inf_not_clipped": (10.0, float("inf")),
    "p3_clipped": (0.5, 3.0),
}


def make_problem() -> dict[str, np.ndarray]:
    """Starting parameters W (3, 4), b (4,), c (2,), input x (5, 3), target (4,) and gradients to clip; float64."""
    rng = np.random.default_rng(1234)
    return {
        "x": rng.standard_normal((5, 3)),
        "W": rng.standard_normal((3, 4)) * 0.5,
        "b": rng.standard_normal(4) * 0.5,
        "c": rng.standard_normal(2),
        "target": rng.standard_normal(4),
        "clip_grad0": rng.standard_normal((3, 4)),
        "clip_grad1": rng.standard_normal(4) * 3.0,
        "clip_grad2": rng.standard_normal(2) * 0.1,
    }


def loss_fn(W, b, c, x, target, step: int):
    """The loss at a given step; works on tinygrad_rnn and torch tensors alike (only shared operators)."""
    h = (x @ W + b).tanh()  # (5, 4)
    loss = (h**2).sum() + ((b - target) ** 2).sum()
    if step % 3 == 0:  # c gets a gradient only every third step: the steps between must leave it and its state alone
        loss = loss + ((h[:, :2] @ c - 1.0) ** 2).sum()
    return loss


def make_optimizer(module, config: str, params: dict):
    """The optimizer of a config over `params` (name -> tensor), from `module` (torch.optim or tinygrad_rnn.optim)."""
    if config in CONFIGS:
        opt_name, kwargs = CONFIGS[config]
        return getattr(module, opt_name)((params[n] for n in PARAM_NAMES), **kwargs)  # a generator, as parameters()
    opt_name, kwargs, groups = GROUP_CONFIGS[config]
    groups = [{**group, "params": [params[n] for n in group["params"]]} for group in groups]
    return getattr(module, opt_name)(groups, **kwargs)


def run(opt, params: dict, x, target, steps: range) -> Iterator[int]:
    """Train over `steps`, numbered as in the whole run (so the loss and the lr change know where they are);
    yields after each step. Works with torch and tinygrad_rnn alike."""
    for step in steps:
        if step == LR_CHANGE_STEP:
            for group in opt.param_groups:  # what a learning-rate schedule does
                group["lr"] *= LR_FACTOR
        opt.zero_grad()
        loss_fn(params["W"], params["b"], params["c"], x, target, step).backward()
        opt.step()
        yield step


def torch_trajectory(config: str, problem: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each parameter's values before the first step and after every step: name -> (STEPS + 1, *shape)."""
    import torch

    params = {n: torch.tensor(problem[n], requires_grad=True) for n in PARAM_NAMES}
    x, target = torch.tensor(problem["x"]), torch.tensor(problem["target"])
    opt = make_optimizer(torch.optim, config, params)
    trajectory = {n: [problem[n].copy()] for n in PARAM_NAMES}
    for _ in run(opt, params, x, target, range(STEPS)):
        for n, p in params.items():
            trajectory[n].append(p.detach().numpy().copy())
    return {n: np.stack(values) for n, values in trajectory.items()}


def torch_clip(case: str, problem: dict[str, np.ndarray]) -> tuple[float, list[np.ndarray]]:
    """torch.nn.utils.clip_grad_norm_ on the three stored gradients (plus a parameter without one)."""
    import torch

    max_norm, norm_type = CLIP_CASES[case]
    params = [torch.zeros(problem[f"clip_grad{i}"].shape, dtype=torch.float64) for i in range(3)]
    for i, p in enumerate(params):
        p.grad = torch.tensor(problem[f"clip_grad{i}"])
    no_grad = torch.zeros(3, dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_([*params, no_grad], max_norm, norm_type)
    return float(total), [p.grad.numpy().copy() for p in params]


def settings_json() -> str:
    """The settings the stored file was made with, so a test can tell when the file is out of date."""
    settings = {
        "steps": STEPS,
        "configs": CONFIGS,
        "group_configs": GROUP_CONFIGS,
        "lr_change": [LR_CHANGE_STEP, LR_FACTOR],
        "clip_cases": CLIP_CASES,
    }
    return json.dumps(settings, sort_keys=True)


def main() -> None:
    import torch

    problem = make_problem()
    arrays: dict[str, np.ndarray] = {f"problem.{k}": v for k, v in problem.items()}
    arrays["settings"] = np.array(settings_json())
    arrays["torch_version"] = np.array(torch.__version__)
    for config in [*CONFIGS, *GROUP_CONFIGS]:
        for n, values in torch_trajectory(config, problem).items():
            arrays[f"trajectory.{config}.{n}"] = values
    for case in CLIP_CASES:
        total, grads = torch_clip(case, problem)
        arrays[f"clip.{case}.total"] = np.array(total)
        for i, g in enumerate(grads):
            arrays[f"clip.{case}.grad{i}"] = g
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **arrays)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
