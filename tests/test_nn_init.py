"""PyTorch's in-place initialisers (tinygrad_rnn/nn/init.py), checked against torch.nn.init.

The gains and fans must equal PyTorch's exactly. The random fills cannot give PyTorch's numbers (another
generator), so large tensors with fixed seeds check their ranges and standard deviations against the formulas,
and (when PyTorch is installed) the formulas against what torch.nn.init draws. Then orthogonality, exact
constants, in-place writes that keep the dtype, seeding, and clear errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.nn import Parameter, init

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")


# -- gains and fans: exactly PyTorch's --------------------------------------------------------------

GAINS = [
    ("linear", None, 1.0),
    ("conv1d", None, 1.0),
    ("conv2d", None, 1.0),
    ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0),
    ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0),
    ("sigmoid", None, 1.0),
    ("tanh", None, 5.0 / 3),
    ("relu", None, math.sqrt(2.0)),
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2.0 / (1 + 0.2**2))),
    ("leaky_relu", 1, 1.0),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ("selu", None, 0.75),
]


@pytest.mark.parametrize(("nonlinearity", "param", "want"), GAINS)
def test_calculate_gain(nonlinearity, param, want):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(want, rel=1e-15)
    if torch is not None:
        assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'; it knows linear, conv1d"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope 'a' is not a number"):
        init.calculate_gain("leaky_relu", "a")
    with pytest.raises(ValueError, match="negative_slope True is not a number"):
        init.calculate_gain("leaky_relu", True)


FAN_SHAPES = [(3, 4), (4, 3), (1, 1), (5, 2, 3), (4, 3, 2, 2), (7, 1, 5, 1, 2), (6, 0), (0, 2, 3)]


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans_are_pytorchs(shape):
    out, inp, receptive = shape[0], shape[1], math.prod(shape[2:])
    assert init._calculate_fan_in_and_fan_out(Tensor(np.zeros(shape))) == (inp * receptive, out * receptive)
    if torch is not None:
        want = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
        assert init._calculate_fan_in_and_fan_out(Tensor(np.zeros(shape))) == want


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fans_of_fewer_than_two_dimensions_are_an_error_as_in_pytorch(shape):
    if torch is not None:
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    for fill in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.raises(ValueError, match=rf"{fill.__name__}: fan in and fan out .* fewer than 2 dimensions"):
            fill(Tensor(np.zeros(shape)))
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        init.orthogonal_(Tensor(np.zeros(shape)))


# -- random fills: the right range and spread -------------------------------------------------------

SHAPE = (300, 200, 2)  # fan_in 400, fan_out 600; 120,000 values: a sample std is within 0.3% of the true one
FAN_IN, FAN_OUT = 400, 600

# name -> (fill, kwargs, bound of a uniform fill or None for a normal one, the std)
FILLS = {
    "xavier_uniform": (init.xavier_uniform_, {}, math.sqrt(6 / 1000), math.sqrt(2 / 1000)),
    "xavier_uniform_gain": (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / 1000), 2 * math.sqrt(2 / 1000)),
    "xavier_normal": (init.xavier_normal_, {"gain": 0.5}, None, 0.5 * math.sqrt(2 / 1000)),
    "kaiming_uniform": (init.kaiming_uniform_, {}, math.sqrt(6 / FAN_IN), math.sqrt(2 / FAN_IN)),
    "kaiming_uniform_fan_out_relu": (
        init.kaiming_uniform_,
        {"mode": "fan_out", "nonlinearity": "relu"},
        math.sqrt(6 / FAN_OUT),
        math.sqrt(2 / FAN_OUT),
    ),
    # PyTorch's Linear and convolutions: kaiming_uniform_(w, a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    "kaiming_uniform_linear_default": (
        init.kaiming_uniform_,
        {"a": math.sqrt(5)},
        1 / math.sqrt(FAN_IN),
        1 / math.sqrt(3 * FAN_IN),
    ),
    "kaiming_normal_tanh": (init.kaiming_normal_, {"nonlinearity": "tanh"}, None, 5 / 3 / math.sqrt(FAN_IN)),
    "uniform": (init.uniform_, {"a": -0.3, "b": 0.3}, 0.3, 0.3 / math.sqrt(3)),
    "normal": (init.normal_, {"std": 0.02}, None, 0.02),
}


def check_spread(values: np.ndarray, bound: float | None, std: float) -> None:
    assert abs(values.mean()) < 0.01 * std
    assert values.std() == pytest.approx(std, rel=0.01)
    if bound is not None:  # a uniform fill: inside the bound and reaching (almost) to it
        assert -bound <= values.min() < -0.999 * bound
        assert 0.999 * bound < values.max() <= bound
    else:  # a normal fill: tails as a Gaussian's (4 sigma: about 8 of 120,000 values)
        assert 0 < np.sum(np.abs(values) > 4 * std) < 40


@pytest.mark.parametrize("fill", FILLS)
def test_random_fill_has_the_right_range_and_std(fill):
    function, kwargs, bound, std = FILLS[fill]
    t = Tensor(np.zeros(SHAPE))
    assert function(t, **kwargs, rng=np.random.default_rng(0)) is t
    check_spread(t.data, bound, std)


@needs_torch
@pytest.mark.parametrize("fill", FILLS)
def test_the_formulas_are_what_pytorch_draws(fill):
    function, kwargs, bound, std = FILLS[fill]
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, function.__name__)(torch.zeros(SHAPE, dtype=torch.float64), **kwargs)
    check_spread(theirs.numpy(), bound, std)


def test_uniform_and_normal_take_pytorchs_defaults():
    t = init.uniform_(Tensor(np.zeros(100_000)), rng=np.random.default_rng(1))  # U(0, 1)
    assert 0.0 <= t.data.min() < 1e-3 and 1 - 1e-3 < t.data.max() < 1.0
    t = init.normal_(Tensor(np.zeros(100_000)), mean=3.0, rng=np.random.default_rng(1))  # N(3, 1)
    assert t.data.mean() == pytest.approx(3.0, abs=0.02) and t.data.std() == pytest.approx(1.0, rel=0.01)


# -- orthogonal_ ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 6), (6, 1), (2, 3, 4), (8, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, dtype):
    t = Tensor(np.zeros(shape, dtype=dtype))
    assert init.orthogonal_(t, gain=2.0, rng=np.random.default_rng(3)) is t
    assert t.data.dtype == dtype and t.shape == shape
    w = t.data.reshape(shape[0], -1).astype(np.float64)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w  # W W^T = gain^2 I for a wide W, W^T W for a tall one
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=atol)


def test_orthogonal_matrices_are_spread_over_all_rotations():
    # With R's signs fixed, Q is uniformly (Haar) distributed: its entries average 0, the diagonal too.
    diagonals = [
        init.orthogonal_(Tensor(np.zeros((3, 3))), rng=np.random.default_rng(s)).data[0, 0] for s in range(400)
    ]
    assert abs(np.mean(diagonals)) < 0.1


@needs_torch
def test_orthogonal_is_pytorchs_matrix_for_the_same_gaussian():
    # Give PyTorch's algorithm the Gaussian we draw: the matrices agree.
    for shape in [(3, 5), (5, 3), (2, 3, 4)]:
        ours = init.orthogonal_(Tensor(np.zeros(shape)), gain=1.5, rng=np.random.default_rng(7)).data
        rows, cols = shape[0], math.prod(shape[1:])
        gaussian = torch.tensor(np.random.default_rng(7).standard_normal((rows, cols)))
        flat = gaussian.T if rows < cols else gaussian
        q, r = torch.linalg.qr(flat)
        q *= torch.diag(r).sign()
        theirs = 1.5 * (q.T if rows < cols else q).reshape(shape)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-14)


# -- constants, in place, dtype, seeding --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_constants_are_exact_and_keep_the_dtype(dtype):
    t = Tensor(np.arange(6, dtype=dtype).reshape(2, 3))
    data = t.data
    assert init.zeros_(t) is t and t.data is data
    np.testing.assert_array_equal(t.data, np.zeros((2, 3)))
    assert init.ones_(t) is t
    np.testing.assert_array_equal(t.data, np.ones((2, 3)))
    assert init.constant_(t, 7) is t
    np.testing.assert_array_equal(t.data, np.full((2, 3), 7))
    assert t.data is data and t.data.dtype == dtype


@pytest.mark.parametrize(
    "fill",
    [
        init.uniform_,
        init.normal_,
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
        init.orthogonal_,
    ],
)
def test_random_fills_write_in_place_into_parameters_and_keep_float32(fill):
    p = Parameter(np.zeros((4, 6), dtype=np.float32))
    data = p.data
    assert fill(p) is p
    assert p.data is data and p.data.dtype == np.float32 and p.requires_grad
    assert np.all(p.data != 0)
    empty = Tensor(np.zeros((0, 3)))
    assert fill(empty) is empty  # nothing to fill (PyTorch warns about some and does nothing)


def test_the_default_generator_follows_manual_seed_and_rng_is_its_own_stream():
    def draw(**kwargs) -> np.ndarray:
        return init.xavier_uniform_(Tensor(np.zeros((3, 4))), **kwargs).data

    tg.manual_seed(5)
    first, second = draw(), draw()
    tg.manual_seed(5)
    np.testing.assert_array_equal(draw(), first)
    np.testing.assert_array_equal(draw(rng=np.random.default_rng(9)), draw(rng=np.random.default_rng(9)))
    np.testing.assert_array_equal(draw(), second)  # an explicit rng leaves the default stream alone
    assert not np.array_equal(first, second)


def test_exposed_as_tg_nn_init():
    for name in [
        "calculate_gain",
        "uniform_",
        "normal_",
        "constant_",
        "zeros_",
        "ones_",
        "xavier_uniform_",
        "xavier_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "orthogonal_",
    ]:
        assert getattr(tg.nn.init, name) is getattr(init, name)
        if torch is not None:
            assert hasattr(torch.nn.init, name)


# -- errors ---------------------------------------------------------------------------------------


def test_errors_say_what_to_write():
    t = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="xavier_uniform_: expected a Tensor .* got ndarray; .* tg.Tensor"):
        init.xavier_uniform_(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="zeros_: expected a Tensor"):
        init.zeros_([0.0, 1.0])
    with pytest.raises(TypeError, match="generator= takes a torch.Generator .* pass a numpy Generator as rng="):
        init.normal_(t, generator=object())
    with pytest.raises(TypeError, match="uniform_: random values need a floating-point tensor, got int64"):
        init.uniform_(Tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match="kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.kaiming_normal_(t, nonlinearity="swish")
    # PyTorch's old names without the underscore fill a tensor; here they make arrays for the layers.
    with pytest.raises(TypeError, match=r"to fill a tensor in place, .* write init.uniform_\(t, a, b\)"):
        init.uniform(t, -0.1, 0.1)
    with pytest.raises(TypeError, match=r"write init.normal_\(t, mean, std\)"):
        init.normal(t, 0.0, 0.02)
