"""Regenerate tests/reference/optim_reference.npz: optimizer trajectories and clipped gradients made by PyTorch.

    python tests/make_optim_reference.py        (needs PyTorch)

This file also owns the problem those references are made on (starting values, loss, optimizer settings,
clipping cases). tests/test_optim.py imports it, runs tinygrad_rnn on the same problem, and compares with the
stored file, so the comparison with PyTorch also runs where PyTorch is not installed.
"""

from __future__ import annotations

import json
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
    "adam": ("Adam", {"lr": 0.01}),
    "adam_betas": ("Adam", {"lr": 0.05, "betas": (0.5, 0.9)}),
    "adam_weight_decay_eps": ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-4, "weight_decay": 0.1}),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad_lr_decay": ("Adagrad", {"lr": 0.2, "lr_decay": 0.1}),
    "adagrad_all": (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
    ),
}

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


def torch_trajectory(config: str, problem: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each parameter's values before the first step and after every step: name -> (STEPS + 1, *shape)."""
    import torch

    opt_name, kwargs = CONFIGS[config]
    params = {n: torch.tensor(problem[n], requires_grad=True) for n in PARAM_NAMES}
    x, target = torch.tensor(problem["x"]), torch.tensor(problem["target"])
    opt = getattr(torch.optim, opt_name)(list(params.values()), **kwargs)
    trajectory = {n: [problem[n].copy()] for n in PARAM_NAMES}
    for step in range(STEPS):
        opt.zero_grad()
        loss_fn(params["W"], params["b"], params["c"], x, target, step).backward()
        opt.step()
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
    return json.dumps({"steps": STEPS, "configs": CONFIGS, "clip_cases": CLIP_CASES}, sort_keys=True)


def main() -> None:
    import torch

    problem = make_problem()
    arrays: dict[str, np.ndarray] = {f"problem.{k}": v for k, v in problem.items()}
    arrays["settings"] = np.array(settings_json())
    arrays["torch_version"] = np.array(torch.__version__)
    for config in CONFIGS:
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
