"""Module, Parameter, Linear, Embedding and the functional losses."""

from __future__ import annotations

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


class Model(nn.Module):
    def __init__(self):
        self.embed = nn.Embedding(10, 4)
        self.rnn = nn.GRU(4, 6, num_layers=2)
        self.heads = [nn.Linear(6, 3), nn.Linear(6, 2, bias=False)]

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        return self.heads[0](out)


def test_named_parameters_are_dotted_and_ordered():
    names = [n for n, _ in Model().named_parameters()]
    assert names[:3] == ["embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0"]
    assert names[-3:] == ["heads.0.weight", "heads.0.bias", "heads.1.weight"]
    assert len(list(Model().parameters())) == len(names)


def test_state_dict_round_trip_and_snapshot():
    nn.manual_seed(0)
    a = Model()
    nn.manual_seed(1)
    b = Model()
    sd = a.state_dict()
    b.load_state_dict(sd)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    a.embed.weight.data[...] = 0  # the state_dict is a copy: later training does not change it
    assert np.any(sd["embed.weight"] != 0)


def test_load_state_dict_names_every_problem():
    m = Model()
    sd = m.state_dict()
    del sd["rnn.bias_hh_l1"]
    sd["extra.weight"] = np.zeros(3)
    sd["heads.0.bias"] = np.zeros(4)
    before = m.embed.weight.data.copy()
    sd["embed.weight"] = np.ones((10, 4))
    with pytest.raises(KeyError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "missing keys: rnn.bias_hh_l1" in msg and "unexpected keys: extra.weight" in msg
    assert "heads.0.bias: expected (3,), got (4,)" in msg
    np.testing.assert_array_equal(m.embed.weight.data, before)  # nothing changed
    sd["heads.0.bias"] = np.zeros(3)
    m.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(m.embed.weight.data, 1.0)


def test_zero_grad_train_eval_and_scope():
    m = Model()
    logits = m(np.array([[1, 2], [3, 3]]))
    assert logits.scope == ("model", "linear")
    logits.sum().backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if not n.startswith("heads.1"))
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.eval()
    assert not m.training and not m.rnn.cells[1].training
    m.train()
    assert m.heads[1].training


def test_embedding_repeated_tokens_accumulate_and_bad_index():
    emb = nn.Embedding(5, 2)
    emb(np.array([1, 1, 4])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0, 2, 0, 0, 1])
    with pytest.raises(tg.OpError, match="out of range for 5 embeddings"):
        emb(np.array([5]))
    with pytest.raises(tg.OpError, match="integers"):
        emb(np.array([0.5]))


@needs_torch
def test_linear_and_losses_match_pytorch():
    rng = np.random.default_rng(0)
    lin, ref = nn.Linear(4, 3).double(), torch.nn.Linear(4, 3).double()
    lin.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = rng.standard_normal((5, 4))
    target = np.array([0, 2, 1, 1, 0])
    for reduction in ("mean", "sum", "none"):
        ours = F.cross_entropy(lin(tg.Tensor(x)), target, reduction=reduction)
        theirs = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(target), reduction=reduction)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), atol=1e-12)
    lin.zero_grad()
    ref.zero_grad()
    F.cross_entropy(lin(tg.Tensor(x)), target).backward()
    torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(target)).backward()
    np.testing.assert_allclose(lin.weight.grad, ref.weight.grad.numpy(), atol=1e-12)
    y = rng.standard_normal((5, 3))
    np.testing.assert_allclose(
        F.mse_loss(lin(tg.Tensor(x)), y).data,
        torch.nn.functional.mse_loss(ref(torch.tensor(x)), torch.tensor(y)).detach().numpy(),
        atol=1e-12,
    )


def test_cross_entropy_stable_and_checked():
    logits = tg.Tensor(np.array([[1000.0, -1000.0, 0.0]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1]))
    loss.backward()
    assert np.isfinite(loss.data) and loss.item() == pytest.approx(2000.0)
    assert np.isfinite(logits.grad).all()
    with pytest.raises(tg.OpError, match="target 3 is out of range for 3 classes"):
        F.cross_entropy(logits, np.array([3]))
    with pytest.raises(tg.OpError, match="do not match"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(tg.OpError, match="same shape"):
        F.mse_loss(logits, np.zeros(3))
    assert tg.gradcheck(
        lambda z: F.cross_entropy(z, np.array([2, 0])), [tg.Tensor(np.random.randn(2, 3), requires_grad=True)]
    )


def test_shared_parameter_listed_once_for_optimizers():
    m = Model()
    m.heads[1] = nn.Linear(6, 3, bias=False)
    m.heads[1].weight = m.heads[0].weight  # tie two heads
    params = list(m.parameters())
    assert len(params) == len({id(p) for p in params})
    tg.optim.SGD(m.parameters(), lr=0.1)  # no duplicate-parameter error


def test_public_names():
    assert tg.nn.utils.clip_grad_norm_ is tg.nn.clip_grad_norm_
    assert callable(tg.save) and callable(tg.load) and callable(tg.manual_seed)
    assert {"SGD", "Adam", "Adagrad"} <= set(dir(tg.optim))
