"""nn.functional and the modules around it (activation.py, loss.py): dropout, activations, cross_entropy and
nll_loss with PyTorch's shapes, ignore_index and label_smoothing, and the PyTorch arguments that are refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import functional as F

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")


def rand(*shape, seed=0, requires_grad=True):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


# -- dropout -----------------------------------------------------------------------------------------


def test_dropout_in_eval_or_with_p_0_is_the_identity():
    x = rand(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x and not layer.training
    assert layer.train().training and layer(x) is not x


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_a_fraction_1_minus_p_and_scales_what_it_keeps(p):
    tg.manual_seed(0)
    x = tg.Tensor(np.random.default_rng(1).uniform(1, 2, (1000, 1000)), requires_grad=True)
    y = F.dropout(x, p)
    kept = y.data != 0
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)  # five standard deviations
    scale = 1.0 / (1 - p)  # the mask holds 0 or 1/(1 - p), as PyTorch's does
    np.testing.assert_array_equal(y.data[kept], x.data[kept] * scale)  # the exact rule, element by element
    assert y.dtype == np.float64
    grad = np.random.default_rng(2).standard_normal(x.shape)
    y.backward(grad)
    np.testing.assert_array_equal(x.grad, np.where(kept, grad * scale, 0.0))  # dx = dy * mask / (1 - p)


def test_dropout_keeps_float32_and_p_1_gives_zeros():
    x = rand(50, 20).float()
    y = F.dropout(x, 0.3)
    assert y.dtype == np.float32
    z = F.dropout(x, 1.0)
    np.testing.assert_array_equal(z.data, 0.0)
    x.retain_grad()
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, 0.0)


def test_dropout_is_reproducible_under_manual_seed():
    x = rand(20, 30)
    tg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    b = nn.Dropout(0.5)(x).data  # the next draw from the same stream: a different mask
    tg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, b)
    assert not np.array_equal(a != 0, b != 0)


@needs_torch
@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_dropout_gives_the_values_pytorch_gives(p):
    """The masks come from different generators; the values an element can take, and the rule, are the same."""
    x = np.random.default_rng(0).standard_normal((200, 50))
    ours = F.dropout(tg.Tensor(x), p).data
    theirs = torch.nn.functional.dropout(torch.tensor(x), p).numpy()
    for y in (ours, theirs):
        kept = y != 0
        np.testing.assert_array_equal(y[kept], x[kept] * (1.0 / (1 - p)) if p < 1 else [])
    if p in (0.0, 1.0):
        np.testing.assert_array_equal(ours, theirs)


def test_dropout_arguments_are_checked():
    x = rand(2, 2)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"dropout: p is a probability and must be in \[0, 1\]"):
            F.dropout(x, p)
        with pytest.raises(ValueError, match="Dropout: p"):
            nn.Dropout(p)
    with pytest.raises(TypeError, match="dropout: p must be a number"):
        F.dropout(x, "0.5")
    with pytest.raises(TypeError, match="dropout: inplace=True is not supported"):
        F.dropout(x, 0.5, inplace=True)
    with pytest.raises(TypeError, match="Dropout: inplace=True"):
        nn.Dropout(0.5, inplace=True)


# -- activations -------------------------------------------------------------------------------------

ACTIVATIONS = [
    ("relu", lambda x: F.relu(x), lambda t: torch.nn.functional.relu(t)),
    ("tanh", lambda x: F.tanh(x), lambda t: torch.tanh(t)),
    ("sigmoid", lambda x: F.sigmoid(x), lambda t: torch.sigmoid(t)),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda t: torch.softmax(t, dim=1)),
    ("log_softmax", lambda x: F.log_softmax(x, 0), lambda t: torch.log_softmax(t, 0)),
    ("ReLU", nn.ReLU(), lambda t: torch.nn.ReLU()(t)),
    ("Tanh", nn.Tanh(), lambda t: torch.nn.Tanh()(t)),
    ("Sigmoid", nn.Sigmoid(), lambda t: torch.nn.Sigmoid()(t)),
    ("Softmax", nn.Softmax(dim=-1), lambda t: torch.nn.Softmax(dim=-1)(t)),
    ("LogSoftmax", nn.LogSoftmax(1), lambda t: torch.nn.LogSoftmax(1)(t)),
]


@needs_torch
@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_match_pytorch(name, ours, theirs):
    x = np.random.default_rng(0).standard_normal((4, 5, 3)) * 3
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-13, atol=1e-15)
    w = np.random.default_rng(1).standard_normal(x.shape)
    (yo * tg.Tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@needs_torch
def test_softmax_without_dim():
    """Up to 2 dims the last axis, which is also PyTorch's implicit choice; beyond, dim= is asked for."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warning for the implicit dim
        theirs = torch.nn.functional.softmax(torch.tensor(x)).numpy()
        theirs_log = torch.nn.LogSoftmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(F.softmax(tg.Tensor(x)).data, theirs, rtol=1e-14)
    np.testing.assert_allclose(nn.LogSoftmax()(tg.Tensor(x)).data, theirs_log, rtol=1e-14)
    with pytest.raises(TypeError, match=r"^softmax: give dim= for a 3-D tensor"):
        F.softmax(rand(2, 3, 4))
    with pytest.raises(TypeError, match=r"^log_softmax: give dim= for a 4-D tensor"):
        nn.LogSoftmax()(rand(2, 3, 4, 5))
    assert F.softmax(rand(2, 3).float(), dim=1, dtype=np.float64).dtype == np.float64
    np.testing.assert_allclose(F.softmax(tg.Tensor(x), axis=0).data, torch.softmax(torch.tensor(x), 0).numpy())


def test_relu_inplace_is_refused_with_what_to_write():
    with pytest.raises(TypeError, match=r"ReLU: inplace=True is not supported.*use the result"):
        nn.ReLU(inplace=True)
    with pytest.raises(TypeError, match="relu: inplace=True"):
        F.relu(rand(2), inplace=True)


# -- every function and layer refuses what is not a Tensor, naming itself ---------------------------------

NOT_TENSORS = [
    ("relu", lambda a: F.relu(a)),
    ("tanh", lambda a: F.tanh(a)),
    ("sigmoid", lambda a: F.sigmoid(a)),
    ("softmax", lambda a: F.softmax(a, 1)),
    ("log_softmax", lambda a: F.log_softmax(a, 1)),
    ("dropout", lambda a: F.dropout(a)),
    ("cross_entropy", lambda a: F.cross_entropy(a, np.zeros(2, int))),
    ("nll_loss", lambda a: F.nll_loss(a, np.zeros(2, int))),
    ("mse_loss", lambda a: F.mse_loss(a, np.zeros((2, 3)))),
    ("ReLU", lambda a: nn.ReLU()(a)),
    ("Tanh", lambda a: nn.Tanh()(a)),
    ("Sigmoid", lambda a: nn.Sigmoid()(a)),
    ("Softmax", lambda a: nn.Softmax(1)(a)),
    ("LogSoftmax", lambda a: nn.LogSoftmax(1)(a)),
    ("Dropout", lambda a: nn.Dropout()(a)),
    ("Dropout", lambda a: nn.Dropout().eval()(a)),
    ("CrossEntropyLoss", lambda a: nn.CrossEntropyLoss()(a, np.zeros(2, int))),
    ("NLLLoss", lambda a: nn.NLLLoss()(a, np.zeros(2, int))),
    ("MSELoss", lambda a: nn.MSELoss()(a, np.zeros((2, 3)))),
    ("Linear", lambda a: nn.Linear(3, 2)(a)),
    ("Linear", lambda a: nn.Sequential(nn.Linear(3, 2), nn.ReLU())(a)),
    ("LSTMCell", lambda a: nn.LSTMCell(3, 2)(a)),
    ("GRUCell", lambda a: nn.GRUCell(3, 2)(a)),
    ("LSTM", lambda a: nn.LSTM(3, 2, bidirectional=True)(a)),
]


@pytest.mark.parametrize("who,call", NOT_TENSORS, ids=[f"{k}-{w}" for k, (w, _) in enumerate(NOT_TENSORS)])
@pytest.mark.parametrize("value", [np.ones((2, 3)), [[1.0, 2.0, 3.0]] * 2], ids=["ndarray", "list"])
def test_non_tensors_are_refused_by_name(who, call, value):
    with pytest.raises(TypeError, match=rf"^{who}: input must be a Tensor, got (ndarray|list); wrap it: tg.Tensor"):
        call(value)


def test_cell_states_that_are_not_tensors_are_refused():
    x = rand(2, 3)
    with pytest.raises(TypeError, match="^GRUCell: h must be a Tensor, got ndarray"):
        nn.GRUCell(3, 2)(x, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="^LSTMCell: c must be a Tensor, got ndarray"):
        nn.LSTMCell(3, 2)(x, (rand(2, 2), np.zeros((2, 2))))
    with pytest.raises(TypeError, match=r"^LSTMCell: the state must be a pair \(h, c\)"):
        nn.LSTMCell(3, 2)(x, rand(2, 2))


# -- cross_entropy and nll_loss ----------------------------------------------------------------------------

SHAPES = [((5, 4), (5,)), ((3, 4, 6), (3, 6)), ((2, 4, 3, 2), (2, 3, 2)), ((4,), ())]  # input, target; C = 4


def _case(input_shape, target_shape, ignore_index, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape) * 2
    t = rng.integers(0, 4, target_shape)
    if t.size > 1:  # some targets ignored (and class 1 used, whether or not it is the one ignored)
        t.flat[0] = ignore_index
        t.flat[-1] = 1
    return x, t


@needs_torch
@pytest.mark.parametrize("shapes", SHAPES, ids=[str(s[0]) for s in SHAPES])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_matches_pytorch(shapes, reduction, ignore_index, label_smoothing):
    x, t = _case(*shapes, ignore_index)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = {"ignore_index": ignore_index, "reduction": reduction, "label_smoothing": label_smoothing}
    ours = F.cross_entropy(xo, t, **kw)
    theirs = torch.nn.functional.cross_entropy(xt, torch.tensor(t), **kw)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
    w = np.random.default_rng(3).standard_normal(ours.shape)
    (ours * tg.Tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    module = nn.CrossEntropyLoss(**kw)(tg.Tensor(x), t)
    np.testing.assert_allclose(module.data, ours.data, rtol=1e-15)


@needs_torch
@pytest.mark.parametrize("shapes", SHAPES, ids=[str(s[0]) for s in SHAPES])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_loss_matches_pytorch(shapes, reduction, ignore_index):
    x, t = _case(*shapes, ignore_index, seed=1)
    logp = torch.log_softmax(torch.tensor(x), dim=1 if x.ndim > 1 else 0).numpy()
    xo, xt = tg.Tensor(logp, requires_grad=True), torch.tensor(logp, requires_grad=True)
    ours = F.nll_loss(xo, t, ignore_index=ignore_index, reduction=reduction)
    theirs = torch.nn.functional.nll_loss(xt, torch.tensor(t), ignore_index=ignore_index, reduction=reduction)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
    w = np.random.default_rng(3).standard_normal(ours.shape)
    (ours * tg.Tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    module = nn.NLLLoss(ignore_index=ignore_index, reduction=reduction)(tg.Tensor(logp), t)
    np.testing.assert_allclose(module.data, ours.data, rtol=1e-15)


@needs_torch
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_all_targets_ignored_gives_nan_mean_and_zero_gradient_as_pytorch(label_smoothing):
    x, t = np.random.default_rng(0).standard_normal((3, 4, 2)), np.full((3, 2), -100)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = F.cross_entropy(xo, t, label_smoothing=label_smoothing)
    theirs = torch.nn.functional.cross_entropy(xt, torch.tensor(t), label_smoothing=label_smoothing)
    assert np.isnan(ours.item()) and np.isnan(theirs.item())
    ours.backward()
    theirs.backward()
    np.testing.assert_array_equal(xo.grad, xt.grad.numpy())
    assert F.cross_entropy(tg.Tensor(x), t, reduction="sum").item() == 0.0
    assert F.nll_loss(tg.Tensor(x[0, :, 0]), -100, reduction="none").item() == 0.0


@needs_torch
def test_positional_arguments_follow_pytorch_order():
    x, t = _case((5, 4), (5,), 3)
    xt = torch.tensor(x)
    ours = F.cross_entropy(tg.Tensor(x), t, None, None, 3, None, "sum", 0.1)
    theirs = torch.nn.functional.cross_entropy(xt, torch.tensor(t), None, None, 3, None, "sum", 0.1)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-14)
    ours = F.nll_loss(tg.Tensor(x), t, None, None, 3, None, "none")
    np.testing.assert_allclose(
        ours.data, torch.nn.functional.nll_loss(xt, torch.tensor(t), None, None, 3, None, "none").numpy()
    )


@needs_torch
def test_loss_modules_match_pytorch():
    x, t = _case((6, 4, 3), (6, 3), 0)
    y = np.random.default_rng(5).standard_normal(x.shape)
    pairs = [
        (
            nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.3),
            torch.nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.3),
            t,
        ),
        (nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"), np.where(t == 0, 1, t)),
        (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none"), y),
    ]
    for ours, theirs, target in pairs:
        np.testing.assert_allclose(
            ours(tg.Tensor(x), target).data, theirs(torch.tensor(x), torch.tensor(target)).numpy(), rtol=1e-13
        )


def test_cross_entropy_gradcheck_with_ignored_targets_and_smoothing():
    t = np.array([[0, 2, -100], [1, -100, 3]])
    x = rand(2, 4, 3)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, t, label_smoothing=0.1), [x])
    assert tg.gradcheck(lambda z: F.nll_loss(z, t, reduction="sum"), [x])


def test_refused_pytorch_arguments_say_what_to_write():
    x, t = rand(3, 4), np.array([0, 1, 2])
    for fn in (F.cross_entropy, F.nll_loss, nn.CrossEntropyLoss, nn.NLLLoss):
        with pytest.raises(
            TypeError, match=r"weight= \(one weight per class\) is not supported; with reduction='none'"
        ):
            fn(x, t, weight=np.ones(4)) if fn in (F.cross_entropy, F.nll_loss) else fn(weight=np.ones(4))
    with pytest.raises(TypeError, match=r"^mse_loss: weight= is not supported"):
        F.mse_loss(x, np.zeros((3, 4)), weight=np.ones((3, 4)))
    for kw in ({"size_average": True}, {"reduce": False}):
        with pytest.raises(TypeError, match=r"deprecated spellings of reduction=.*write reduction='mean'"):
            F.cross_entropy(x, t, **kw)
        with pytest.raises(TypeError, match="^MSELoss: size_average= and reduce="):
            nn.MSELoss(**kw)
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing is a probability"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.nll_loss(x, t, reduction="avg")
    with pytest.raises(tg.OpError, match=r"class probabilities as the target are not supported: for them write"):
        F.cross_entropy(x, np.full((3, 4), 0.25))
    with pytest.raises(tg.OpError, match=r"cross_entropy: input \(3, 4\) and target \(3, 1\) do not match"):
        F.cross_entropy(x, np.zeros((3, 1), int))
    with pytest.raises(tg.OpError, match=r"nll_loss: input \(2, 4, 3\) and target \(2, 4\) do not match.*axis 1"):
        F.nll_loss(rand(2, 4, 3), np.zeros((2, 4), int))  # the classes are on axis 1, as in PyTorch
    with pytest.raises(tg.OpError, match="target -1 is out of range for 4 classes"):
        F.cross_entropy(x, np.array([0, -1, -100]))
