"""PyTorch habits carry over: the same code gives the same numbers here, or an error that says why.

Each test writes one piece of PyTorch code twice, against torch and against tinygrad_rnn, and
compares values, dtypes and gradients (float64, tight tolerances).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg

torch = pytest.importorskip("torch", reason="PyTorch is the reference")
pytestmark = pytest.mark.usefixtures("engine")  # with the speed lessons and with the plain core


def pair(*shape, seed=0, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape)
    return tg.Tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def same(ours, theirs, rtol=1e-12):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = ours.data if isinstance(ours, tg.Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-14)


# -- shapes and spellings ---------------------------------------------------------------------------


def test_transpose_swaps_two_axes_and_permute_reorders_them():
    x, tx = pair(2, 3, 4)
    for ours, theirs in [
        (x.transpose(0, 1), tx.transpose(0, 1)),
        (x.transpose(-1, 0), tx.transpose(-1, 0)),
        (x.transpose(1, 1), tx.transpose(1, 1)),
        (x.permute(2, 0, 1), tx.permute(2, 0, 1)),
        (x.permute((1, 2, 0)), tx.permute((1, 2, 0))),
    ]:
        same(ours, theirs)
    x2, tx2 = pair(2, 3)
    same(x2.transpose(0, 1), tx2.transpose(0, 1))  # on 2-D too: not numpy's identity permutation


def test_spellings():
    x, tx = pair(2, 3, 4)
    assert x.size() == tuple(tx.size()) and x.size(1) == tx.size(1) and x.size(-1) == tx.size(-1)
    assert x.dim() == tx.dim() == 3
    same(x.view(6, 4), tx.view(6, 4))
    same(x.view(-1), tx.view(-1))
    same(x.flatten(), tx.flatten())
    same(x.flatten(1), tx.flatten(1))
    same(x.flatten(0, 1), tx.flatten(0, 1))
    same(tg.Tensor(2.0).flatten(), torch.tensor(2.0).flatten())
    assert x.tolist() == tx.tolist()
    same(x.add(x, alpha=2), tx.add(tx, alpha=2))
    same(x.sub(1.5), tx.sub(1.5))
    same(x.mul(x).div(2), tx.mul(tx).div(2))
    same(x.pow(2), tx.pow(2))
    same(x.neg(), tx.neg())
    same(x[0].matmul(x[1].T), tx[0].matmul(tx[1].T))


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_and_keepdim_keywords(dim, keepdim):
    x, tx = pair(3, 4)
    if dim is None:  # PyTorch takes keepdim only with a dim
        same(x.sum(), tx.sum())
        same(x.mean(), tx.mean())
    else:
        same(x.sum(dim=dim, keepdim=keepdim), tx.sum(dim=dim, keepdim=keepdim))
        same(x.mean(dim=dim, keepdim=keepdim), tx.mean(dim=dim, keepdim=keepdim))
        same(x.amax(dim=dim, keepdim=keepdim), tx.amax(dim=dim, keepdim=keepdim))
        same(x.amin(dim=dim, keepdim=keepdim), tx.amin(dim=dim, keepdim=keepdim))
    with pytest.raises(TypeError, match="dim= or axis=, not both"):
        x.sum(dim=0, axis=0)


def test_dim_keyword_in_shape_ops_and_functions():
    x, tx = pair(4, 6)
    assert [p.shape for p in x.split(2, dim=1)] == [tuple(p.shape) for p in tx.split(2, dim=1)]
    assert [p.shape for p in x.chunk(3, dim=1)] == [tuple(p.shape) for p in tx.chunk(3, dim=1)]
    assert len(x.unbind(dim=1)) == len(tx.unbind(dim=1))
    same(x.unsqueeze(dim=1), tx.unsqueeze(dim=1))
    same(x.unsqueeze(1).squeeze(dim=1), tx.unsqueeze(1).squeeze(dim=1))
    same(tg.cat([x, x], dim=1), torch.cat([tx, tx], dim=1))
    same(tg.stack([x, x], dim=2), torch.stack([tx, tx], dim=2))
    same(x.softmax(dim=0), tx.softmax(dim=0))
    same(x.log_softmax(dim=1), tx.log_softmax(dim=1))


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_along_a_dim_give_values_and_indices(op, dim, keepdim):
    data = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, -1.0, 4.0], [2.0, 2.0, 2.0, 2.0]])  # ties included
    x, tx = tg.Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    values, indices = getattr(x, op)(dim, keepdim)
    tvalues, tindices = getattr(tx, op)(dim, keepdim)
    same(values, tvalues)
    assert indices.tolist() == tindices.tolist() and indices.dtype == np.int64
    ours = getattr(x, op)(dim=dim, keepdim=keepdim)
    assert ours.values.shape == values.shape and ours.indices.tolist() == indices.tolist()  # by name, too
    (values * values).sum().backward()
    (tvalues * tvalues).sum().backward()
    same(x.grad, tx.grad)  # the gradient goes to the chosen index, not shared between ties
    same(getattr(x, op)(), getattr(tx, op)())  # no dim: one value


def test_argmax_and_argmin():
    x, tx = pair(3, 5, requires_grad=False)
    assert x.argmax().item() == tx.argmax().item()
    for dim in (0, 1, -1):
        assert x.argmax(dim).tolist() == tx.argmax(dim).tolist()
        assert x.argmin(dim, keepdim=True).tolist() == tx.argmin(dim, keepdim=True).tolist()


# -- comparisons, masks, where ------------------------------------------------------------------------


def test_comparisons_give_bool_tensors_without_gradient():
    x, tx = pair(3, 4)
    for ours, theirs in [
        (x > 0, tx > 0),
        (x >= 0.5, tx >= 0.5),
        (x < x.T.T, tx < tx),
        (x <= 0, tx <= 0),
        (x == x, tx == tx),
        (x != 0, tx != 0),
        ((x > 0) & (x < 1), (tx > 0) & (tx < 1)),
        ((x > 1) | (x < -1), (tx > 1) | (tx < -1)),
        (~(x > 0), ~(tx > 0)),
    ]:
        assert ours.dtype == np.bool_ and not ours.requires_grad
        assert ours.tolist() == theirs.tolist()
    assert (x > 0).float().dtype == np.float32 and (x > 0).sum().item() == (tx > 0).sum().item()
    accuracy = (x.argmax(1) == tg.Tensor(np.array([0, 1, 2, 3])[:3])).float().mean()
    t_accuracy = (tx.argmax(1) == torch.tensor([0, 1, 2])).float().mean()
    assert accuracy.item() == pytest.approx(t_accuracy.item())


def test_tensors_still_work_as_dict_keys_and_in_sets():
    x = tg.Tensor([1.0, 2.0])
    y = tg.Tensor([1.0, 2.0])
    assert len({x, y}) == 2 and {x: 1}[x] == 1


def test_where_and_masked_fill_and_clamp():
    x, tx = pair(3, 4)
    y, ty = pair(3, 4, seed=1)
    cases = [
        (tg.where(x > 0, x, y), torch.where(tx > 0, tx, ty)),
        (tg.where(x > 0, x, 0.0), torch.where(tx > 0, tx, 0.0)),
        (tg.where(x > 0, 1.0, y), torch.where(tx > 0, 1.0, ty)),
        (x.where(x < 0.3, y), tx.where(tx < 0.3, ty)),
        (x.masked_fill(x > 0.5, -1.0), tx.masked_fill(tx > 0.5, -1.0)),
        (x.clamp(-0.5, 0.5), tx.clamp(-0.5, 0.5)),
        (x.clamp(min=0.0), tx.clamp(min=0.0)),
        (x.clamp(max=0.1), tx.clamp(max=0.1)),
        (x.abs(), tx.abs()),
    ]
    total = sum(((o * o).sum() for o, _ in cases), tg.Tensor(0.0, dtype=np.float64))
    t_total = sum((t * t).sum() for _, t in cases)
    for ours, theirs in cases:
        same(ours, theirs)
    total.backward()
    t_total.backward()
    same(x.grad, tx.grad)
    same(y.grad, ty.grad)


def test_where_refuses_a_condition_that_is_not_bool():
    x = tg.Tensor([1.0, -1.0])
    with pytest.raises(TypeError, match="where: condition must be bool"):
        x.where(x.data, 0.0)
    with pytest.raises(TypeError, match="masked_fill: mask must be bool"):
        x.masked_fill(np.array([1, 0]), 0.0)


@pytest.mark.parametrize("dim", [None, 0, 1])
@pytest.mark.parametrize("correction", [0, 1])
def test_var_and_std(dim, correction):
    x, tx = pair(4, 5)
    same(x.var(dim, correction=correction), tx.var(dim, correction=correction))
    s = x.std(dim, keepdim=True, correction=correction)
    ts = tx.std(dim, keepdim=True, correction=correction)
    same(s, ts)
    s.sum().backward()
    ts.sum().backward()
    same(x.grad, tx.grad)
    same(x.var(dim, unbiased=False), tx.var(dim, unbiased=False))


# -- autograd: tg.grad, hooks, retain_grad, requires_grad_ ---------------------------------------------


def test_grad_returns_gradients_and_touches_no_grad_attribute():
    x, tx = pair(3, 4)
    w, tw = pair(4, 2, seed=1)
    h, th = x @ w, tx @ tw
    y, ty = (h.tanh() ** 2).sum(), (th.tanh() ** 2).sum()
    gx, gh = tg.grad(y, [x, h], retain_graph=True)
    tgx, tgh = torch.autograd.grad(ty, [tx, th], retain_graph=True)
    same(gx, tgx)
    same(gh, tgh)
    assert x.grad is None and w.grad is None and not gx.requires_grad
    (gw,) = tg.grad([y], [w])
    same(gw, torch.autograd.grad(ty, tw)[0])


def test_grad_with_grad_outputs_and_unused_inputs():
    x, tx = pair(3)
    z, _ = pair(3, seed=5)
    y, ty = x * 2, tx * 2
    v = np.array([1.0, -1.0, 0.5])
    (gx,) = tg.grad(y, x, grad_outputs=[v], retain_graph=True)
    same(gx, torch.autograd.grad(ty, tx, grad_outputs=torch.tensor(v))[0])
    with pytest.raises(tg.BackwardError, match="do not depend on input"):
        tg.grad(y.sum(), [x, z], retain_graph=True)
    gx, gz = tg.grad(y.sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0, 2.0, 2.0]


def test_hooks_see_and_may_replace_the_gradient():
    x, tx = pair(4)
    seen, tseen = [], []
    h, th = x * 3, tx * 3
    h.register_hook(lambda g: seen.append(g.data.copy()))
    th.register_hook(lambda g: tseen.append(g.detach().numpy().copy()))
    h.register_hook(lambda g: g * 10)
    th.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    tx.register_hook(lambda g: g + 1)
    (h * h).sum().backward()
    (th * th).sum().backward()
    same(seen[0], tseen[0])
    same(x.grad, tx.grad)


def test_retain_grad_keeps_an_intermediate_gradient():
    x, tx = pair(3, 2)
    h, th = x.tanh(), tx.tanh()
    h.retain_grad()
    th.retain_grad()
    for _ in range(2):  # accumulates over backward calls, as .grad of a leaf does
        (h * h * h).sum().backward(retain_graph=True)
        (th * th * th).sum().backward(retain_graph=True)
    same(h.grad, th.grad)
    x.retain_grad()  # a leaf keeps its gradient anyway: nothing to do
    same(x.grad, tx.grad)


def test_requires_grad_():
    x = tg.Tensor(np.ones(3))
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="only a leaf"):
        (x * 2).requires_grad_(False)
    with pytest.raises(TypeError, match="floating-point"):
        tg.Tensor([1, 2]).requires_grad_()


def test_no_grad_as_a_decorator_like_pytorch():
    @tg.no_grad()
    def predict(x):
        return x * 2

    assert not predict(tg.Tensor([1.0], requires_grad=True)).requires_grad and tg.is_grad_enabled()


# -- functions and factories --------------------------------------------------------------------------


def test_functions_spelled_as_in_pytorch():
    x, tx = pair(3, 4)
    for name in ("exp", "tanh", "sigmoid", "relu", "abs"):
        same(getattr(tg, name)(x), getattr(torch, name)(tx))
    same(tg.log(x.abs()), torch.log(tx.abs()))
    same(tg.sqrt(x.abs()), torch.sqrt(tx.abs()))
    same(tg.matmul(x, x.T), torch.matmul(tx, tx.T))
    same(tg.sum(x, 1), torch.sum(tx, 1))
    same(tg.mean(x, dim=0, keepdim=True), torch.mean(tx, dim=0, keepdim=True))
    same(tg.softmax(x, 1), torch.softmax(tx, 1))
    same(tg.log_softmax(x, dim=0), torch.log_softmax(tx, dim=0))
    same(tg.clamp(x, -0.1, 0.2), torch.clamp(tx, -0.1, 0.2))
    same(tg.transpose(x, 0, 1), torch.transpose(tx, 0, 1))
    same(tg.permute(x, (1, 0)), torch.permute(tx, (1, 0)))
    same(tg.reshape(x, (4, 3)), torch.reshape(tx, (4, 3)))
    same(tg.flatten(x), torch.flatten(tx))
    same(tg.unsqueeze(x, 0), torch.unsqueeze(tx, 0))
    same(tg.squeeze(tg.unsqueeze(x, 0)), torch.squeeze(torch.unsqueeze(tx, 0)))
    values, indices = tg.max(x, 1)
    t_values, t_indices = torch.max(tx, 1)
    same(values, t_values)
    assert indices.tolist() == t_indices.tolist() and tg.argmax(x, 1).tolist() == torch.argmax(tx, 1).tolist()
    same(tg.min(x), torch.min(tx))
    assert [p.shape for p in tg.split(x, 2, 1)] == [tuple(p.shape) for p in torch.split(tx, 2, 1)]
    assert len(tg.chunk(x, 3)) == len(torch.chunk(tx, 3)) and len(tg.unbind(x, 1)) == 4
    with pytest.raises(TypeError, match="exp: expected a Tensor"):
        tg.exp(np.ones(3))


def test_factories_give_pytorchs_shapes_and_dtypes():
    cases = [
        (tg.arange(5), torch.arange(5)),
        (tg.arange(1, 7, 2), torch.arange(1, 7, 2)),
        (tg.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25)),
        (tg.eye(3), torch.eye(3)),
        (tg.eye(2, 4), torch.eye(2, 4)),
        (tg.full((2, 3), 1.5), torch.full((2, 3), 1.5)),
        (tg.full((2,), 7), torch.full((2,), 7)),
        (tg.full((2,), True), torch.full((2,), True)),
        (tg.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])),
        (tg.tensor([0.5]), torch.tensor([0.5])),
    ]
    x, tx = pair(2, 3)
    cases += [(tg.zeros_like(x), torch.zeros_like(tx)), (tg.ones_like(x), torch.ones_like(tx))]
    cases += [(tg.full_like(x, 2.0), torch.full_like(tx, 2.0))]
    for ours, theirs in cases:
        assert ours.tolist() == theirs.tolist()
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.").replace("bool", "bool")
    for make in (tg.randn, tg.rand):
        a = make(2, 3)
        assert a.shape == (2, 3) and a.dtype == np.float32 and not a.requires_grad
        assert make((4,), requires_grad=True).requires_grad
    tg.manual_seed(3)
    first = tg.randn(5).tolist()
    tg.manual_seed(3)
    assert tg.randn(5).tolist() == first  # seeded by tg.manual_seed, as torch.manual_seed seeds torch.randn
    u = tg.rand(10_000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.02
    with pytest.raises(TypeError, match="randn: a shape is integers"):
        tg.randn(2.5)


# -- what differs says so -----------------------------------------------------------------------------


def test_differences_from_pytorch_are_errors_that_say_what_to_write():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(TypeError, match=r"\+=: tensors are not changed in place.*x = x \+ y"):
        y += 1
    with pytest.raises(TypeError, match="cuda: .*numpy on the CPU"):
        x.cuda()
    with pytest.raises(TypeError, match="cuda"):
        x.to("cuda:0")
    assert x.cpu() is x and x.to("cpu") is x
    with pytest.raises(tg.BackwardError, match="create_graph=True"):
        y.sum().backward(create_graph=True)
    with pytest.raises(tg.BackwardError, match="create_graph=True"):
        tg.grad(y.sum(), x, create_graph=True)
    with pytest.raises(TypeError, match="softmax: give dim= for a 3-D tensor"):
        tg.Tensor(np.ones((2, 3, 4))).softmax()
    same(tg.Tensor(np.arange(6.0).reshape(2, 3)).softmax(), torch.arange(6.0).reshape(2, 3).double().softmax(-1))


def test_module_zero_grad_as_pytorch():
    layer = tg.nn.Linear(2, 3)
    layer(tg.Tensor(np.ones((1, 2)))).sum().backward()
    layer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in layer.parameters())
    layer.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


# -- what a review as a PyTorch user found --------------------------------------------------------------


def test_var_and_std_take_pytorchs_positional_arguments():
    data = [[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]]
    x, tx = tg.Tensor(data, dtype=np.float64), torch.tensor(data, dtype=torch.float64)
    same(x.var(1, False), tx.var(1, False))  # the second argument is unbiased, as in PyTorch
    same(x.var(1, True, True), tx.var(1, True, True))
    same(x.std(1, False, True), tx.std(1, False, True))


def test_std_of_equal_values_has_a_zero_gradient():
    b, tb = tg.Tensor(np.ones(3), requires_grad=True), torch.ones(3, dtype=torch.float64, requires_grad=True)
    b.std().backward()
    tb.std().backward()
    same(b.grad, tb.grad)


def test_clamp_with_tensor_bounds_and_integer_tensors():
    x, tx = pair(4)
    lo, tlo = pair(4, seed=3)
    (x.clamp(min=lo) * 2).sum().backward()
    (tx.clamp(min=tlo) * 2).sum().backward()
    same(x.grad, tx.grad)
    same(lo.grad, tlo.grad)
    ints, tints = tg.Tensor(np.array([1, 2, 3])), torch.tensor([1, 2, 3])
    same(ints.clamp(max=2.5), tints.clamp(max=2.5))
    same(ints.clamp(min=1.5), tints.clamp(min=1.5))


def test_and_or_are_bitwise_on_integers():
    a, ta = tg.Tensor(np.array([6, 4])), torch.tensor([6, 4])
    assert (a & tg.Tensor(np.array([3, 3]))).tolist() == (ta & torch.tensor([3, 3])).tolist()
    assert (a | 1).tolist() == (ta | 1).tolist()
    with pytest.raises(TypeError, match="&: needs bool or integer"):
        tg.Tensor([1.0]) & tg.Tensor([1.0])


def test_embedding_padding_idx_as_pytorch():
    emb = tg.nn.Embedding(5, 2, 0)
    assert emb.weight.data[0].tolist() == [0.0, 0.0]
    emb(np.array([0, 1, 0])).sum().backward()
    assert emb.weight.grad[0].tolist() == [0.0, 0.0] and emb.weight.grad[1].tolist() == [1.0, 1.0]
    assert emb(np.array([2], np.uint8)).shape == (1, 2)  # uint8 token ids are ids


def test_an_empty_dim_list_reduces_every_axis():
    x, tx = pair(2, 3)
    same(x.sum(dim=[]), tx.sum(dim=[]))
    same(x.mean(dim=[]), tx.mean(dim=[]))


def test_indexing_as_pytorch_reads_it():
    x, tx = pair(3, 2)
    same(x[([0, 1], [1, 0])], tx[([0, 1], [1, 0])])
    with pytest.raises(TypeError, match="list of index lists is read two ways"):
        x[[[0, 1], [1, 0]]]  # PyTorch: a tuple of indices (deprecated); numpy: one array of indices
    with pytest.raises(TypeError, match="uint8 index is a mask in PyTorch"):
        x[tg.Tensor(np.array([1, 0, 1], np.uint8))]


def test_grad_runs_hooks_as_pytorch_does():
    x, tx = pair(2)
    x.register_hook(lambda g: g * 10)
    tx.register_hook(lambda g: g * 10)
    same(tg.grad((x * x).sum(), x)[0], torch.autograd.grad((tx * tx).sum(), tx)[0])
    h, th = x * 3, tx * 3
    handle = h.register_hook(lambda g: g * 10)
    th.register_hook(lambda g: g * 10)
    same(tg.grad((h * h).sum(), [h])[0], torch.autograd.grad((th * th).sum(), [th])[0])
    handle.remove()
    assert h._hooks is None


def test_requires_grad_on_an_integer_tensor_is_refused_however_it_is_set():
    i = tg.Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        i.requires_grad = True


def test_dtypes_of_masked_fill_and_cat_as_pytorch():
    ints, tints = tg.Tensor(np.array([1, 2])), torch.tensor([1, 2])
    same(ints.masked_fill(ints.data == 1, 1.7), tints.masked_fill(tints == 1, 1.7))
    f, tf = tg.Tensor(np.ones(2, np.float32)), torch.ones(2)
    assert str(tg.cat([ints, f]).dtype) == str(torch.cat([tints, tf]).dtype).removeprefix("torch.")


def test_numpy_of_a_tensor():
    assert np.asarray(tg.Tensor([1.0, 2.0])).dtype == np.float32
    with pytest.raises(TypeError, match="requires grad.*detach"):
        np.asarray(tg.Tensor([1.0], requires_grad=True))


def test_a_tied_weight_is_in_the_state_dict_under_both_names():
    class Tied(tg.nn.Module):
        def __init__(self):
            self.emb = tg.nn.Embedding(5, 3)
            self.out = tg.nn.Linear(3, 5)
            self.out.weight = self.emb.weight

    model = Tied()
    assert list(model.state_dict()) == ["emb.weight", "out.weight", "out.bias"]
    model.load_state_dict(model.state_dict())
    assert [n for n, _ in model.named_parameters()] == ["emb.weight", "out.bias"]


def test_backward_takes_pytorchs_arguments():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(gradient=np.ones(2))
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(tg.BackwardError, match="create_graph"):
        (x * 3).backward(np.ones(2), True, True)  # PyTorch's third positional argument is create_graph
    with pytest.raises(tg.BackwardError, match="inputs="):
        (x * 3).sum().backward(inputs=[x])


def test_module_conveniences():
    layer = tg.nn.Linear(2, 2)
    assert layer.to("cpu") is layer and layer.cpu() is layer and list(layer.children()) == []
    layer.requires_grad_(False)
    assert not any(p.requires_grad for p in layer.parameters())
    assert layer.to(np.float64).weight.dtype == np.float64
    with pytest.raises(TypeError, match="cuda"):
        layer.to("cuda")
    assert [n for n, _ in tg.nn.Sequential(layer).named_parameters(recurse=False)] == []
    assert abs(tg.Tensor([-1.5])).tolist() == [1.5]
    with pytest.raises(TypeError, match="elementwise max"):
        tg.Tensor([1.0]).max(tg.Tensor([2.0]))
