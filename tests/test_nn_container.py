"""Sequential and ModuleList: PyTorch's names for their children, so torch state_dicts load unchanged."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")


def _numpy(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _compare_grads(ref, ours, atol=1e-12):
    ref_params = dict(ref.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(ref_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, ref_params[name].grad.numpy(), atol=atol, err_msg=name)


@needs_torch
def test_sequential_matches_pytorch():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2), torch.nn.Sigmoid()).double()  # fmt: skip
    ours = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid())
    ours.double().load_state_dict(_numpy(ref))  # unchanged: "0.weight", "0.bias", "2.weight", ...
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                                                 "4.weight", "4.bias"]  # fmt: skip
    x = np.random.default_rng(0).standard_normal((7, 3))
    xo, xr = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yr = ours(xo), ref(xr)
    np.testing.assert_allclose(yo.data, yr.detach().numpy(), atol=1e-14)
    yo.sum().backward()
    yr.sum().backward()
    np.testing.assert_allclose(xo.grad, xr.grad.numpy(), atol=1e-14)
    _compare_grads(ref, ours)


class TorchModel(torch.nn.Module if torch else object):
    def __init__(self):
        super().__init__()
        self.rnns = torch.nn.ModuleList([torch.nn.LSTM(3, 4, bidirectional=True), torch.nn.GRU(8, 5)])
        self.head = torch.nn.Sequential(
            OrderedDict(
                fc=torch.nn.Linear(5, 6), act=torch.nn.ReLU(), drop=torch.nn.Dropout(0.3), out=torch.nn.Linear(6, 2)
            )
        )

    def forward(self, x):
        for rnn in self.rnns:
            x, _ = rnn(x)
        return self.head(x)


class Model(nn.Module):
    def __init__(self):
        self.rnns = nn.ModuleList([nn.LSTM(3, 4, bidirectional=True), nn.GRU(8, 5)])
        self.head = nn.Sequential(
            OrderedDict(fc=nn.Linear(5, 6), act=nn.ReLU(), drop=nn.Dropout(0.3), out=nn.Linear(6, 2))
        )

    def forward(self, x):
        for rnn in self.rnns:
            x, _ = rnn(x)
        return self.head(x)


@needs_torch
def test_model_with_module_list_and_named_sequential_loads_a_torch_state_dict_unchanged():
    torch.manual_seed(0)
    ref, ours = TorchModel().double().eval(), Model().double().eval()
    ours.load_state_dict(_numpy(ref))
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert "rnns.0.weight_hh_l0_reverse" in ours.state_dict() and "head.out.bias" in ours.state_dict()
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    xo, xr = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yr = ours(xo), ref(xr)
    np.testing.assert_allclose(yo.data, yr.detach().numpy(), atol=1e-12)
    w = np.random.default_rng(2).standard_normal(yo.shape)
    (yo * tg.Tensor(w)).sum().backward()
    (yr * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xr.grad.numpy(), atol=1e-12)
    _compare_grads(ref, ours)


def test_train_and_eval_reach_modules_inside_containers():
    model = Model()
    drop = model.head.drop
    assert drop is model.head[2] and drop.training
    model.eval()
    assert not drop.training and not model.rnns[1].training and not model.rnns[0].cells[1].training
    x = tg.Tensor(np.ones((2, 1, 3)))
    np.testing.assert_array_equal(model(x).data, model(x).data)  # no dropout in eval mode
    model.train()
    assert drop.training
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_sequential_indexing_slicing_and_append():
    a, b, c = nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    seq.append(c)
    assert seq[2] is c and [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c]
    assert [n for n, _ in head.named_children()] == ["1", "2"]  # slices keep their names, as in PyTorch
    x = tg.Tensor(np.ones((4, 2)))
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)
    seq[1] = nn.ReLU()
    assert isinstance(seq[1], nn.ReLU)
    assert nn.Sequential()(x) is x
    named = nn.Sequential(OrderedDict(first=a, second=c))
    assert named.first is a and named[1] is c
    assert list(named.state_dict()) == ["first.weight", "first.bias", "second.weight", "second.bias"]
    assert "(first): Linear(in_features=2" in repr(named)


def test_module_list_operations_and_names():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    assert len(layers) == 2 and [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    extra = nn.Linear(2, 2)
    layers.append(extra)
    layers.extend([nn.Tanh(), nn.Linear(2, 1)])
    layers.insert(0, nn.ReLU())
    layers += nn.ModuleList([nn.Sigmoid()])
    assert [type(m).__name__ for m in layers] == ["ReLU", "Linear", "Linear", "Linear", "Tanh", "Linear", "Sigmoid"]
    assert layers[3] is extra and layers[-1] is layers[6]
    assert [n for n, _ in layers.named_parameters()][-2:] == ["5.weight", "5.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers[0] = nn.Linear(2, 2)
    assert "0.weight" in layers.state_dict()
    model = nn.Module()
    model.blocks = layers
    assert next(iter(model.state_dict())) == "blocks.0.weight"
    assert "(blocks): ModuleList(\n    (0): Linear" in repr(model)


def test_container_errors():
    with pytest.raises(TypeError, match="Sequential: expected a Module, got int"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(TypeError, match="ModuleList: expected a Module, got str"):
        nn.ModuleList().append("relu")
    with pytest.raises(TypeError, match="ModuleList.extend: expected an iterable of Modules, got Linear"):
        nn.ModuleList().extend(nn.Linear(1, 1))
    with pytest.raises(IndexError, match="ModuleList: index 2 is out of range for 2 modules"):
        nn.ModuleList([nn.ReLU(), nn.ReLU()])[2]
    with pytest.raises(IndexError, match="Sequential: index -3 is out of range"):
        nn.Sequential(nn.ReLU(), nn.ReLU())[-3]
    with pytest.raises(KeyError, match="without '.'"):
        nn.Sequential(OrderedDict({"a.b": nn.ReLU()}))
    with pytest.raises(NotImplementedError, match="ModuleList has no forward.*for layer in self.layers"):
        nn.ModuleList([nn.ReLU()])(tg.Tensor(np.ones(2)))
    with pytest.raises(AttributeError, match="Sequential has no attribute or module 'fc'"):
        nn.Sequential(nn.ReLU()).fc
