"""Optimizers and gradient clipping, checked against PyTorch.

Every optimizer setting (with and without parameter groups, with a learning-rate change through
opt.param_groups) runs 20 steps on the problem of make_optim_reference.py and the whole trajectory is compared
with torch.optim: live when PyTorch is installed, and always with the trajectories PyTorch stored in
tests/reference/optim_reference.npz. Then PyTorch's arguments (names, defaults, positions; unknown ones refused
by name), parameter groups, state_dict / load_state_dict (a resumed run is bit-identical; PyTorch's state dict
loads), and the contract: updates in place, dtype kept, grads never mutated, params without a grad skipped,
zero_grad, and clear errors for bad arguments.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn, optim
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
    params = {n: Tensor(problem[n], requires_grad=True, name=n) for n in ref.PARAM_NAMES}
    x, target = Tensor(problem["x"]), Tensor(problem["target"])
    opt = ref.make_optimizer(optim, config, params)
    trajectory = {n: [problem[n].copy()] for n in ref.PARAM_NAMES}
    for _ in ref.run(opt, params, x, target, range(ref.STEPS)):
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


ALL_CONFIGS = [*ref.CONFIGS, *ref.GROUP_CONFIGS]


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_trajectory_matches_stored_torch_reference(stored, config):
    problem = {k.removeprefix("problem."): v for k, v in stored.items() if k.startswith("problem.")}
    theirs = {n: stored[f"trajectory.{config}.{n}"] for n in ref.PARAM_NAMES}
    assert_trajectories_equal(tg_trajectory(config, problem), theirs)


@needs_torch
@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_trajectory_matches_torch(config):
    problem = ref.make_problem()
    assert_trajectories_equal(tg_trajectory(config, problem), ref.torch_trajectory(config, problem))


@pytest.mark.parametrize(
    "config", ["sgd_momentum", "sgd_nesterov", "adam", "adamw", "adagrad_lr_decay", "rmsprop_all", "adam_groups"]
)
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
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.Adagrad, {"lr": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    (optim.RMSprop, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
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


OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"]


@pytest.mark.parametrize("cls", [getattr(optim, name) for name in OPTIMIZERS])
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
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": -0.5}, "dampening must be >= 0"),
        (optim.SGD, {"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0 and dampening=0"),
        (optim.SGD, {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, r"got momentum=0.9, dampening=0.1"),
        (optim.Adam, {"lr": -1e-3}, "lr must be >= 0"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        (optim.Adam, {"eps": -1e-8}, "eps must be >= 0"),
        (optim.Adam, {"weight_decay": -0.1}, "weight_decay must be >= 0"),
        (optim.Adam, {"betas": 0.9}, r"betas must be a pair \(beta1, beta2\), got 0.9"),
        (optim.AdamW, {"betas": (0.9, 1.5)}, r"AdamW: betas\[1\] must be in \[0, 1\)"),
        (optim.AdamW, {"weight_decay": -0.1}, "AdamW: weight_decay must be >= 0"),
        (optim.Adagrad, {"lr": -0.1}, "lr must be >= 0"),
        (optim.Adagrad, {"lr_decay": -0.1}, "lr_decay must be >= 0"),
        (optim.Adagrad, {"weight_decay": -0.1}, "weight_decay must be >= 0"),
        (optim.Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value must be >= 0"),
        (optim.Adagrad, {"eps": -1.0}, "eps must be >= 0"),
        (optim.RMSprop, {"lr": -0.1}, "RMSprop: lr must be >= 0"),
        (optim.RMSprop, {"alpha": -0.5}, "alpha must be >= 0"),
        (optim.RMSprop, {"eps": -1e-8}, "eps must be >= 0"),
        (optim.RMSprop, {"weight_decay": -1.0}, "weight_decay must be >= 0"),
        (optim.RMSprop, {"momentum": math.nan}, "momentum must be >= 0"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([Tensor(np.ones(2), requires_grad=True)], **kwargs)


# -- PyTorch's arguments: the same names, defaults and positions; nothing unknown swallowed -----------

TORCH_KERNEL_SWITCHES = {"foreach", "fused", "capturable", "differentiable"}


def positional(cls) -> list[str]:
    return [n for n, p in inspect.signature(cls.__init__).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]


@needs_torch
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_and_arguments_are_pytorchs(name):
    ours, theirs = getattr(optim, name), getattr(torch.optim, name)
    opt = ours([Tensor(np.ones(2), requires_grad=True)])
    their_opt = theirs([torch.ones(2, requires_grad=True)])
    assert opt.defaults == {k: v for k, v in their_opt.defaults.items() if k not in TORCH_KERNEL_SWITCHES}
    assert list(opt.param_groups[0]) == [k for k in their_opt.param_groups[0] if k not in TORCH_KERNEL_SWITCHES]
    # The same positions, so SGD(params, 0.1, 0.9) means momentum=0.9 in both.
    assert positional(ours) == positional(theirs)[: len(positional(ours))]
    # Every keyword PyTorch takes is taken here too, at least with PyTorch's default value.
    for arg, p in inspect.signature(theirs.__init__).parameters.items():
        if arg not in ("self", "params"):
            ours([Tensor(np.ones(2), requires_grad=True)], **{arg: p.default})


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (optim.SGD, {"momentun": 0.9}, "SGD got an unexpected keyword argument 'momentun'; did you mean 'momentum'"),
        (optim.Adam, {"beta": (0.9, 0.99)}, "Adam got an unexpected keyword argument 'beta'; did you mean 'betas'"),
        (
            optim.RMSprop,
            {"nonsense": 1},
            r"'nonsense' \(it takes lr, momentum, alpha, eps, centered, weight_decay, maximize",
        ),
        (optim.Adagrad, {"momentum": 0.9}, r"Adagrad got an unexpected keyword argument 'momentum' \(it takes lr,"),
        (optim.AdamW, {"decoupled_weight_decay": False}, "AdamW's decay is always decoupled"),
        (optim.Adam, {"differentiable": True}, "differentiable=True .* is not supported"),
    ],
)
def test_unknown_keyword_arguments_are_refused_by_name(cls, kwargs, match):
    with pytest.raises(TypeError, match=match):
        cls([Tensor(np.ones(2), requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_kernel_switches_are_accepted_and_change_nothing(name):
    def run(**switches) -> np.ndarray:
        p = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        opt = getattr(optim, name)([p], lr=0.1, **switches)
        for _ in range(3):
            opt.zero_grad()
            quadratic_step(p, np.zeros(3))
            opt.step()
        return p.data

    np.testing.assert_array_equal(run(foreach=True, fused=True, capturable=True, differentiable=False), run())


@needs_torch
def test_nesterov_is_refused_where_torch_refuses_it():
    for kwargs in ({"nesterov": True}, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}):
        with pytest.raises(ValueError, match="Nesterov"):
            torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1, **kwargs)
        with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening=0"):
            optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.1, **kwargs)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):  # in a group of its own too
        optim.SGD([{"params": [Tensor(np.ones(2), requires_grad=True)], "nesterov": True}], lr=0.1)


def test_zero_grad_set_to_none_false_keeps_zeros_that_still_step():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()  # b = 1, p = -0.1
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, np.zeros(2))
    opt.step()  # b = 0.9 * 1 + 0: momentum carries p on, as in PyTorch
    np.testing.assert_allclose(p.data, [-0.19, -0.19], rtol=1e-15)
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_its_loss_and_records_under_no_grad():
    p = Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = ((p - Tensor([1.0], dtype=np.float64)) ** 2).sum()
        loss.backward()
        return loss

    with tg.no_grad():  # step runs the closure with grad mode on, as PyTorch does
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(p.data, [3.0 - 0.25 * 4.0], rtol=1e-15)


# -- parameter groups -------------------------------------------------------------------------------


def test_param_groups_hold_every_hyperparameter_and_lr_changes_reach_the_next_step():
    a, b = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1e-3}], lr=1e-2, momentum=0.9)
    assert isinstance(opt.param_groups, list) and len(opt.param_groups) == 2
    assert opt.param_groups[1] == {
        "params": [b],
        "lr": 1e-3,
        "momentum": 0.9,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    assert opt.param_groups[0]["lr"] == 1e-2
    a.grad, b.grad = np.ones(2), np.ones(3)
    opt.step()
    np.testing.assert_allclose(a.data, -0.01, rtol=1e-15)
    np.testing.assert_allclose(b.data, -0.001, rtol=1e-15)
    opt.param_groups[0]["lr"] = 0.5  # what a learning-rate schedule does
    opt.param_groups[1]["momentum"] = 0.0
    opt.step()
    np.testing.assert_allclose(a.data, -0.01 - 0.5 * 1.9, rtol=1e-15)
    np.testing.assert_allclose(b.data, -0.002, rtol=1e-15)


def test_add_param_group_and_its_checks():
    a, b, c = (Tensor(np.zeros(2), requires_grad=True) for _ in range(3))
    opt = optim.Adam([a], lr=0.1)
    group = {"params": b, "betas": (0.5, 0.9)}  # one Tensor in a group is a list of one, as in PyTorch
    opt.add_param_group(group)
    assert opt.param_groups[1] is group  # the dict itself becomes the group, as in PyTorch
    assert group["params"] == [b] and group["lr"] == 0.1 and group["betas"] == (0.5, 0.9)
    assert opt.params == [a, b]
    with pytest.raises(ValueError, match="a parameter of group 2 is already in another group"):
        opt.add_param_group({"params": [c, a]})
    with pytest.raises(ValueError, match="empty parameter list of parameter group 2"):
        opt.add_param_group({"params": []})
    with pytest.raises(ValueError, match="parameter group 2 has no 'params' key"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(TypeError, match="a parameter group is a dict"):
        opt.add_param_group([c])
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.add_param_group({"params": [c], "lr": -1.0})
    assert opt.params == [a, b]  # nothing was added by the refused groups
    opt.add_param_group({"params": [c]})
    assert opt.params == [a, b, c]


def test_param_group_errors_at_construction():
    a, b = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="already in another group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    with pytest.raises(TypeError, match="a parameter group is a dict"):
        optim.SGD([{"params": [a]}, b], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 of parameter group 1 is a ndarray"):
        optim.SGD([{"params": [a]}, {"params": [np.ones(2)]}], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({a, b}, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {a, b}}], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 was made by an op .* optimize the leaf tensors"):
        optim.SGD([a * 2], lr=0.1)


def test_named_parameters_are_accepted_as_in_pytorch():
    layer = nn.Linear(2, 3)
    opt = optim.SGD(layer.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.params == [layer.weight, layer.bias]
    with pytest.raises(ValueError, match="give every parameter with its name"):
        optim.SGD([("weight", layer.weight), layer.bias], lr=0.1)


def test_state_is_per_parameter_and_found_by_the_parameter_too():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    b.grad = np.ones(3)
    opt.step()
    assert opt.state[0] == {} and opt.state[a] is opt.state[0]
    assert opt.state[b] is opt.state[1] and sorted(opt.state[b]) == ["exp_avg", "exp_avg_sq", "step"]
    assert opt.state[b]["step"] == 1
    with pytest.raises(KeyError, match="does not hold that tensor"):
        opt.state[Tensor(np.ones(2))]


# -- state_dict and load_state_dict -----------------------------------------------------------------


def flatten(state_dict: dict) -> dict[str, np.ndarray]:
    """An optimizer's state dict as one flat dict of arrays, for tg.save: state.{k}.{name}, param_groups.{n}.{name}."""
    flat = {f"state.{k}.{name}": np.asarray(v) for k, s in state_dict["state"].items() for name, v in s.items()}
    for n, group in enumerate(state_dict["param_groups"]):
        flat |= {f"param_groups.{n}.{name}": np.asarray(v) for name, v in group.items()}
    return flat


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    """The inverse of flatten: load_state_dict turns the 0-d arrays back into numbers and the 1-d betas into a tuple."""
    state_dict: dict = {"state": {}, "param_groups": []}
    for key, value in flat.items():
        part, k, name = key.split(".", 2)
        if part == "state":
            state_dict["state"].setdefault(int(k), {})[name] = value
        else:
            state_dict["param_groups"] += [{} for _ in range(int(k) + 1 - len(state_dict["param_groups"]))]
            state_dict["param_groups"][int(k)][name] = value
    return state_dict


def fresh(config: str, values: dict[str, np.ndarray]):
    params = {n: Tensor(values[n], requires_grad=True, name=n) for n in ref.PARAM_NAMES}
    return params, ref.make_optimizer(optim, config, params)


def train(config: str, opt, params, problem, steps: range) -> None:
    x, target = Tensor(problem["x"]), Tensor(problem["target"])
    for _ in ref.run(opt, params, x, target, steps):
        pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_resume_from_a_checkpoint_is_bit_identical(config, dtype, tmp_path):
    # 10 steps straight, against 5 steps, a checkpoint through tg.save / tg.load, fresh parameters and a fresh
    # optimizer loaded from it, and 5 more. The lr change of ref.run falls in the first half: the loaded
    # param_groups must carry it.
    problem = {k: v.astype(dtype) for k, v in ref.make_problem().items()}
    params, opt = fresh(config, problem)
    train(config, opt, params, problem, range(10))
    straight = {n: p.data.copy() for n, p in params.items()}

    params, opt = fresh(config, problem)
    train(config, opt, params, problem, range(5))
    checkpoint = {f"model.{n}": p.data for n, p in params.items()}
    checkpoint |= {f"optim.{k}": v for k, v in flatten(opt.state_dict()).items()}
    tg.save(checkpoint, tmp_path / "checkpoint.npz")
    del params, opt

    loaded = tg.load(tmp_path / "checkpoint.npz")
    params, opt = fresh(config, {n: loaded[f"model.{n}"] for n in ref.PARAM_NAMES})
    opt.load_state_dict(unflatten({k.removeprefix("optim."): v for k, v in loaded.items() if k.startswith("optim.")}))
    assert opt.param_groups[0]["lr"] == ref.LR_FACTOR * ref.make_optimizer(optim, config, params).param_groups[0]["lr"]
    train(config, opt, params, problem, range(5, 10))
    for n, p in params.items():
        assert p.data.dtype == dtype
        np.testing.assert_array_equal(p.data, straight[n], err_msg=n)
    for state in opt.state:
        assert isinstance(state.get("step", 0), int)
        assert all(v.dtype == dtype for v in state.values() if isinstance(v, np.ndarray))


def test_state_dict_layout_is_pytorchs():
    a, b, c = (Tensor(np.ones(2), requires_grad=True) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, amsgrad=True)
    a.grad = c.grad = np.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert list(sd["state"]) == [0, 2]  # b has had no gradient yet, so it has no state
    assert list(sd["state"][2]) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    assert sd["state"][2]["step"] == 1
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1] == {**opt.defaults, "lr": 0.5, "params": [2]}


def test_state_dict_is_a_copy_and_load_state_dict_copies():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(3)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"][:] = 99.0
    sd["param_groups"][0]["lr"] = 5.0
    assert opt.param_groups[0]["lr"] == 0.1 and not (opt.state[p]["exp_avg"] == 99.0).any()
    opt.load_state_dict(sd)
    sd["state"][0]["exp_avg"][:] = -1.0
    assert (opt.state[p]["exp_avg"] == 99.0).all()  # copied in at load, not shared with sd
    assert opt.param_groups[0]["lr"] == 5.0


def test_load_state_dict_refuses_what_does_not_fit_and_changes_nothing():
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt.step()
    good = opt.state_dict()

    def edited(edit) -> dict:
        sd = opt.state_dict()
        edit(sd)
        return sd

    cases = [
        ([1, 2], "expected the dict of opt.state_dict"),
        ({"state": {}}, "expected the dict of opt.state_dict"),
        (edited(lambda sd: sd["param_groups"].pop()), "the state dict has 1 parameter groups, this optimizer 2"),
        (
            edited(lambda sd: sd["param_groups"][0].update(params=[0, 5])),
            "parameter group 0 has 2 parameters in the state dict, 1 in this optimizer",
        ),
        (
            edited(lambda sd: sd["state"][1].update(exp_avg=np.zeros(7))),
            r"state 'exp_avg' of parameter 1 has shape \(7,\), the parameter has shape \(2,\)",
        ),
        (edited(lambda sd: sd["state"].update({7: {"step": 1}})), "state for parameter 7, which no parameter group"),
        (edited(lambda sd: sd["param_groups"][1].update(lr=-1.0)), "Adam: lr must be >= 0"),
        (
            edited(lambda sd: [g.pop("betas") for g in sd["param_groups"]]),
            r"parameter group 0 has no betas \(is it the state of another kind of optimizer\?\)",
        ),
    ]
    sgd = optim.SGD([Tensor(np.ones(3), requires_grad=True)], lr=0.1).state_dict()
    sgd["param_groups"].append({**sgd["param_groups"][0], "params": [1]})
    cases.append((sgd, "parameter group 0 has no betas, eps, amsgrad, decoupled_weight_decay"))
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(bad)
        now = opt.state_dict()
        assert now["param_groups"] == good["param_groups"]
        for k, s in good["state"].items():
            for name, v in s.items():
                np.testing.assert_array_equal(now["state"][k][name], v)


@needs_torch
@pytest.mark.parametrize(
    "config", ["sgd_nesterov", "adam_amsgrad", "adamw", "adagrad_all", "rmsprop_all", "adam_groups", "sgd_groups"]
)
def test_state_dict_from_pytorch_loads_and_continues_as_pytorch(config):
    problem = ref.make_problem()
    theirs = {n: torch.tensor(problem[n], requires_grad=True) for n in ref.PARAM_NAMES}
    their_opt = ref.make_optimizer(torch.optim, config, theirs)
    x, target = torch.tensor(problem["x"]), torch.tensor(problem["target"])
    for _ in ref.run(their_opt, theirs, x, target, range(5)):
        pass
    their_sd = their_opt.state_dict()
    ours, opt = fresh(config, {n: p.detach().numpy().copy() for n, p in theirs.items()})
    opt.load_state_dict(their_sd)  # PyTorch's tensors become arrays, copied
    assert all(isinstance(v, np.ndarray | int) for s in opt.state for v in s.values())
    # It reads the same as PyTorch's: the same numbers, state names and hyperparameters.
    sd = opt.state_dict()
    assert {k: list(s) for k, s in sd["state"].items()} == {k: list(s) for k, s in their_sd["state"].items()}
    for ours_group, their_group in zip(sd["param_groups"], their_sd["param_groups"], strict=True):
        assert ours_group == their_group  # with the kernel switches PyTorch stores, carried along
    train(config, opt, ours, problem, range(5, 10))
    for _ in ref.run(their_opt, theirs, x, target, range(5, 10)):
        pass
    for n in ref.PARAM_NAMES:
        np.testing.assert_allclose(ours[n].data, theirs[n].detach().numpy(), rtol=RTOL, atol=0, err_msg=n)


@needs_torch
@pytest.mark.parametrize("config", ["sgd_groups", "adam_groups", "adamw_groups", "adagrad_groups", "rmsprop_groups"])
def test_our_state_dict_matches_pytorchs_after_the_same_steps(config):
    problem = ref.make_problem()
    theirs = {n: torch.tensor(problem[n], requires_grad=True) for n in ref.PARAM_NAMES}
    their_opt = ref.make_optimizer(torch.optim, config, theirs)
    x, target = torch.tensor(problem["x"]), torch.tensor(problem["target"])
    for _ in ref.run(their_opt, theirs, x, target, range(7)):
        pass
    ours, opt = fresh(config, problem)
    train(config, opt, ours, problem, range(7))
    sd, their_sd = opt.state_dict(), their_opt.state_dict()
    assert sd["state"].keys() == their_sd["state"].keys()
    for k, s in sd["state"].items():
        assert list(s) == list(their_sd["state"][k])
        for name, v in s.items():
            np.testing.assert_allclose(v, their_sd["state"][k][name].numpy(), rtol=RTOL, atol=0, err_msg=name)
    for group, their_group in zip(sd["param_groups"], their_sd["param_groups"], strict=True):
        assert group == {k: v for k, v in their_group.items() if k not in TORCH_KERNEL_SWITCHES}
