"""gradcheck itself: it passes correct gradients, catches wrong ones, and explains what it found."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core


class WrongTanh(tg.ops.Tanh):
    """tanh with a derivative that forgets to square: dx = g * (1 - y)."""

    def backward(self, g):
        (y,) = self.saved
        return (g * (1 - y),)


class DoubleWithOneBadElement(tg.Function):
    """y = 2x, whose backward is right everywhere except at index (1, 2)."""

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        dx = 2 * g
        dx[1, 2] += 0.5
        return (dx,)


class Cube(tg.Function):
    """y = x**3; dx = 3 x**2 g: a correct user-defined op."""

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, g):
        (x,) = self.saved
        return (3 * x * x * g,)


def rand(shape, seed=0, **kw):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True, **kw)


def test_passes_correct_gradients():
    assert tg.gradcheck(lambda a, b: (a @ b).tanh(), [rand((3, 4)), rand((4, 2), 1)]) is True
    assert tg.gradcheck(lambda x: tg.apply(Cube, x), [rand((5,))])


def test_catches_a_wrong_gradient_and_names_the_worst_element():
    x = rand((2, 3), name="h")
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: tg.apply(WrongTanh, x), [x])
    msg = str(info.value)
    assert "input 0 ('h', shape (2, 3))" in msg
    assert "analytic gradient:" in msg and "numeric gradient:" in msg
    with pytest.raises(tg.GradcheckError, match=r"wrong at index \(1, 2\)"):
        tg.gradcheck(lambda x: tg.apply(DoubleWithOneBadElement, x), [rand((3, 4))])


def test_only_checks_inputs_that_require_grad():
    x = rand((3,))
    const = tg.Tensor(np.ones(3))
    assert tg.gradcheck(lambda x, c: x * c, [x, const])


def test_works_in_float64_even_for_float32_inputs():
    x = tg.Tensor(np.random.default_rng(0).standard_normal(4).astype(np.float32), requires_grad=True)
    assert tg.gradcheck(lambda x: x.sigmoid() * x.exp(), [x])
    assert x.dtype == np.float32 and x.grad is None  # inputs are copied, not changed


def test_input_not_used_gets_zero_gradient():
    x, y = rand((2,)), rand((2,), 1)
    assert tg.gradcheck(lambda x, y: x * 2, [x, y])


def test_rejects_nan_and_inf_inputs():
    with pytest.raises(ValueError, match="input 0 .*nan or inf"):
        tg.gradcheck(lambda x: x * 2, [tg.Tensor(np.array([1.0, np.nan]), requires_grad=True)])
    with pytest.raises(ValueError, match="nan or inf"):
        tg.gradcheck(lambda x: x * 2, [tg.Tensor(np.array([np.inf]), requires_grad=True)])


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        tg.gradcheck(lambda x: x * 2, [tg.Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="not a Tensor"):
        tg.gradcheck(lambda x: x * 2, [np.ones(2)])
    with pytest.raises(TypeError, match="must return a Tensor"):
        tg.gradcheck(lambda x: 3.0, [rand((2,))])
