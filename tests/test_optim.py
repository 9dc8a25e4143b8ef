"""Optimizers and gradient clipping, checked against PyTorch.

Every optimizer setting runs 20 steps on the problem of make_optim_reference.py and the whole trajectory is
compared with torch.optim: live when PyTorch is installed, and always with the trajectories PyTorch stored in
tests/reference/optim_reference.npz. Then the contract: updates in place, dtype kept, grads never mutated,
params without a grad skipped, zero_grad, and clear errors for bad arguments.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import Tensor, optim
from tinygrad_rnn.nn.utils import clip_grad_norm_

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")

# Loaded by path: tests/ is not a package, and this works whatever pytest's import mode.
_spec = importlib.util.spec_from_file_location(
    "make_optim_reference", Path(__file__).parent / "make_optim_reference.py"
)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

RTOL = 1e-10


@pytest.fixture(scope="module")
def stored():
    with np.load(ref.REFERENCE, allow_pickle=False) as f:
        return dict(f)


def tg_trajectory(config: str, problem: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same run as ref.torch_trajectory, with tinygrad_rnn."""
    opt_name, kwargs = ref.CONFIGS[config]
    params = {n: Tensor(problem[n], requires_grad=True, name=n) for n in ref.PARAM_NAMES}
    x, target = Tensor(problem["x"]), Tensor(problem["target"])
    opt = getattr(optim, opt_name)(params.values(), **kwargs)  # a generator-like view, as from parameters()
    trajectory = {n: [problem[n].copy()] for n in ref.PARAM_NAMES}
    for step in range(ref.STEPS):
        opt.zero_grad()
        ref.loss_fn(params["W"], params["b"], params["c"], x, target, step).backward()
        opt.step()
        for n, p in params.items():
            assert p.data.dtype == np.float64
            trajectory[n].append(p.data.copy())
    return {n: np.stack(values) for n, values in trajectory.items()}


def assert_trajectories_equal(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    for n in ref.PARAM_NAMES:
        assert ours[n].shape == theirs[n].shape == (ref.STEPS + 1, *ref.make_problem()[n].shape)
        np.testing.assert_allclose(ours[n], theirs[n], rtol=RTOL, atol=0, err_msg=f"parameter {n}")
        # The problem must actually move every parameter, or the comparison proves little.
        assert not np.allclose(theirs[n][-1], theirs[n][0], rtol=1e-3, atol=1e-3), f"{n} barely moved"


# -- trajectories against PyTorch -------------------------------------------------------------------


def test_stored_reference_is_up_to_date(stored):
    assert str(stored["settings"]) == ref.settings_json(), "run `python tests/make_optim_reference.py`"
    for k, v in ref.make_problem().items():
        np.testing.assert_array_equal(stored[f"problem.{k}"], v, err_msg="run `python tests/make_optim_reference.py`")


@pytest.mark.parametrize("config", ref.CONFIGS)
def test_trajectory_matches_stored_torch_reference(stored, config):
    problem = {k.removeprefix("problem."): v for k, v in stored.items() if k.startswith("problem.")}
    theirs = {n: stored[f"trajectory.{config}.{n}"] for n in ref.PARAM_NAMES}
    assert_trajectories_equal(tg_trajectory(config, problem), theirs)


@needs_torch
@pytest.mark.parametrize("config", ref.CONFIGS)
def test_trajectory_matches_torch(config):
    problem = ref.make_problem()
    assert_trajectories_equal(tg_trajectory(config, problem), ref.torch_trajectory(config, problem))


@pytest.mark.parametrize("config", ["sgd_momentum", "adam", "adagrad_lr_decay"])
def test_c_is_skipped_on_steps_without_its_gradient(config):
    # c enters the loss only on steps 0, 3, 6, ...: after the others it must not have moved.
    c = tg_trajectory(config, ref.make_problem())["c"]
    for step in range(ref.STEPS):
        moved = not np.array_equal(c[step + 1], c[step])
        assert moved == (step % 3 == 0), f"step {step}"


# -- gradient clipping against PyTorch --------------------------------------------------------------


def tg_clip(case: str, problem: dict[str, np.ndarray]) -> tuple[float, list[np.ndarray]]:
    max_norm, norm_type = ref.CLIP_CASES[case]
    params = [Tensor(np.zeros_like(problem[f"clip_grad{i}"]), requires_grad=True) for i in range(3)]
    for i, p in enumerate(params):
        p.grad = problem[f"clip_grad{i}"].copy()
    no_grad = Tensor(np.zeros(3), requires_grad=True)
    total = clip_grad_norm_(iter([*params, no_grad]), max_norm, norm_type)
    assert no_grad.grad is None
    return total, [p.grad for p in params]


def assert_clip_equal(ours, theirs, problem, case) -> None:
    (total, grads), (want_total, want_grads) = ours, theirs
    assert type(total) is float
    assert total == pytest.approx(want_total, rel=RTOL, abs=0)
    for g, want in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=0)
    max_norm, _ = ref.CLIP_CASES[case]
    clipped = not np.array_equal(want_grads[0], problem["clip_grad0"])
    assert clipped == ("not_clipped" not in case) == (want_total > max_norm)


@pytest.mark.parametrize("case", ref.CLIP_CASES)
def test_clip_grad_norm_matches_stored_torch_reference(stored, case):
    problem = {k.removeprefix("problem."): v for k, v in stored.items() if k.startswith("problem.")}
    theirs = float(stored[f"clip.{case}.total"]), [stored[f"clip.{case}.grad{i}"] for i in range(3)]
    assert_clip_equal(tg_clip(case, problem), theirs, problem, case)


@needs_torch
@pytest.mark.parametrize("case", ref.CLIP_CASES)
def test_clip_grad_norm_matches_torch(case):
    problem = ref.make_problem()
    assert_clip_equal(tg_clip(case, problem), ref.torch_clip(case, problem), problem, case)


def test_clip_grad_norm_by_hand():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    assert clip_grad_norm_([a, b], max_norm=1.0) == 5.0  # the norm of (3, 0, 4), as if concatenated
    np.testing.assert_allclose(a.grad, [3 / (5 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_allclose(b.grad, [4 / (5 + 1e-6)], rtol=1e-15)
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([-4.0])
    assert clip_grad_norm_([a, b], max_norm=1.0, norm_type=math.inf) == 4.0
    np.testing.assert_allclose(b.grad, [-1 / (1 + 0.25e-6)], rtol=1e-15)


def test_clip_grad_norm_leaves_small_gradients_and_float32_alone():
    p = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    p.grad = np.array([0.1, -0.2, 0.2], dtype=np.float32)
    before = p.grad.copy()
    assert clip_grad_norm_(p, max_norm=1.0) == pytest.approx(0.3, rel=1e-6)  # a single Tensor is accepted
    np.testing.assert_array_equal(p.grad, before)
    clip_grad_norm_([p], max_norm=0.03)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(p.grad), 0.03, rtol=1e-5)


def test_clip_grad_norm_without_gradients_returns_zero():
    p = Tensor(np.ones(3), requires_grad=True)
    assert clip_grad_norm_([p], 1.0) == 0.0
    assert clip_grad_norm_([], 1.0) == 0.0
    assert p.grad is None


def test_clip_grad_norm_spreads_nan_as_torch_does():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([np.nan, 1.0])
    assert math.isnan(clip_grad_norm_([p], 1.0))
    assert np.isnan(p.grad).all()  # the blow-up stays visible instead of being silently kept
    if torch is not None:
        q = torch.zeros(2, dtype=torch.float64)
        q.grad = torch.tensor([np.nan, 1.0], dtype=torch.float64)
        torch.nn.utils.clip_grad_norm_([q], 1.0)
        assert torch.isnan(q.grad).all()


# -- the optimizer contract -------------------------------------------------------------------------

ALL_SETTINGS = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.Adagrad, {"lr": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
]
SETTING_IDS = [f"{cls.__name__}-{'-'.join(kwargs)}" for cls, kwargs in ALL_SETTINGS]


def quadratic_step(p: Tensor, target: np.ndarray) -> None:
    ((p - Tensor(target, dtype=p.dtype)) ** 2).sum().backward()


@pytest.mark.parametrize(("cls", "kwargs"), ALL_SETTINGS, ids=SETTING_IDS)
def test_step_updates_in_place_keeps_float32_and_never_touches_grad(cls, kwargs):
    p = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    data = p.data
    opt = cls([p], **kwargs)
    for _ in range(3):
        opt.zero_grad()
        quadratic_step(p, np.ones((2, 3)))
        grad, grad_copy = p.grad, p.grad.copy()
        before = p.data.copy()
        opt.step()
        assert p.data is data  # anyone holding the array sees the update
        assert p.data.dtype == np.float32
        assert p.grad is grad
        np.testing.assert_array_equal(p.grad, grad_copy)
        assert not np.array_equal(p.data, before)
        for value in opt.state[0].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


@pytest.mark.parametrize(("cls", "kwargs"), ALL_SETTINGS, ids=SETTING_IDS)
def test_params_without_grad_are_skipped(cls, kwargs):
    used = Tensor(np.ones(3), requires_grad=True)
    unused = Tensor(np.ones(3), requires_grad=True)
    frozen = Tensor(np.ones(3))  # requires_grad=False: never gets a grad
    opt = cls([used, unused, frozen], **kwargs)
    quadratic_step(used, np.zeros(3))
    opt.step()
    assert not np.array_equal(used.data, np.ones(3))
    np.testing.assert_array_equal(unused.data, np.ones(3))
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert opt.state[1] == {} and opt.state[2] == {}


@pytest.mark.parametrize(("cls", "kwargs"), ALL_SETTINGS, ids=SETTING_IDS)
def test_zero_grad_sets_every_grad_to_none(cls, kwargs):
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = cls((p for p in (a, b)), **kwargs)  # a generator, as from module.parameters()
    ((a * b).sum()).backward()
    assert a.grad is not None and b.grad is not None
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    assert opt.params == [a, b]  # the generator was turned into a list, usable on every step


def test_sgd_first_step_by_hand():
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    p.grad = np.array([1.0, 1.0])
    opt.step()  # g = grad + 0.5 p = (1.5, 0); first step: buf = g
    np.testing.assert_allclose(p.data, [1.0 - 0.15, -2.0], rtol=1e-15)
    p.grad = np.array([1.0, 1.0])
    opt.step()  # g = (1.425, 1 - 1) = (1.425, 0); buf = 0.9 * (1.5, 0) + g
    np.testing.assert_allclose(p.data, [0.85 - 0.1 * (1.35 + 1.425), -2.0], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # Bias correction makes m_hat = g and v_hat = g**2 at t = 1, so the step is lr * g / (|g| + eps).
    p = Tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.01, eps=0.0)
    p.grad = np.array([3.0, -1e-3, 50.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.99, 1.01, 0.99], rtol=1e-14)


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.Adagrad])
def test_bad_params(cls):
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        cls((p for p in []), lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, not a Tensor"):
        cls([Tensor(np.ones(2)), np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        cls(Tensor(np.ones((2, 2))), lr=0.1)
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="appears twice"):
        cls([p, p], lr=0.1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (optim.SGD, {"lr": -0.1}, "lr must be >= 0"),
        (optim.SGD, {"lr": math.nan}, "lr must be >= 0"),
        (optim.SGD, {"lr": 0.1, "momentum": -0.9}, "momentum must be >= 0"),
        (optim.SGD, {"lr": 0.1, "weight_decay": -1.0}, "weight_decay must be >= 0"),
        (optim.Adam, {"lr": -1e-3}, "lr must be >= 0"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        (optim.Adam, {"eps": -1e-8}, "eps must be >= 0"),
        (optim.Adam, {"weight_decay": -0.1}, "weight_decay must be >= 0"),
        (optim.Adagrad, {"lr": -0.1}, "lr must be >= 0"),
        (optim.Adagrad, {"lr_decay": -0.1}, "lr_decay must be >= 0"),
        (optim.Adagrad, {"weight_decay": -0.1}, "weight_decay must be >= 0"),
        (optim.Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value must be >= 0"),
        (optim.Adagrad, {"eps": -1.0}, "eps must be >= 0"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([Tensor(np.ones(2), requires_grad=True)], **kwargs)
