"""The engine: graph recording, the backward pass and its classic bugs, grad mode, scopes, names,
anomaly detection, and the errors a learner gets for bad input."""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, topological_order

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core


def leaf(shape=(2, 3), seed=0, dtype=np.float64, name=None):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True, name=name)


# -- basics ----------------------------------------------------------------------------------------


def test_readme_example():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    y = (x * 2 + 1).tanh().sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(3.0) ** 2) * np.ones((2, 3)))
    assert x.grad.shape == x.shape and x.name == "x"


def test_attributes():
    t = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.dtype == np.float32 and not t.requires_grad
    assert t.grad is None and t.is_leaf and len(t) == 2 and t.numel() == 4
    assert isinstance(t.numpy(), np.ndarray)
    assert tg.Tensor(3.5).item() == 3.5
    assert "Tensor(" in repr(t)


def test_default_dtype_is_float32_and_float64_is_kept():
    assert tg.Tensor([1.0]).dtype == np.float32
    assert tg.Tensor(2.0).dtype == np.float32
    assert tg.Tensor(np.zeros(2)).dtype == np.float64
    assert tg.Tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32
    assert tg.Tensor([1, 2]).dtype.kind == "i"
    x = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert (x * 2.5 + 1).dtype == np.float32  # Python numbers do not promote
    assert (2.0 / x - 1).dtype == np.float32


def test_constructor_copies_its_input():
    a = np.zeros(3)
    t = tg.Tensor(a)
    a[0] = 5
    assert t.data[0] == 0


def test_no_graph_without_requires_grad():
    a = tg.Tensor(np.ones(3))
    b = (a * 2).exp()
    assert not b.requires_grad and b._ctx is None


def test_no_grad_records_nothing():
    x = leaf()
    with tg.no_grad():
        y = (x * 2).sum()
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            assert (x * 2)._ctx is not None
    assert tg.is_grad_enabled()
    assert y._ctx is None and not y.requires_grad


def test_detach_cuts_the_graph():
    x = leaf()
    h = (x * 3).detach()
    assert h._ctx is None and not h.requires_grad
    w = leaf(seed=1)
    (h * w).sum().backward()
    assert x.grad is None and w.grad is not None
    np.testing.assert_allclose(w.grad, h.data)


# -- classic autograd bugs ---------------------------------------------------------------------------


def test_a_plus_a_then_b_plus_b():
    a = tg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    b = a + a
    c = b + b
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0])


def test_no_aliasing_between_grads():
    """add hands the same array to both inputs; updating one grad in place must not touch the other."""
    a, b = leaf(seed=0), leaf(seed=1)
    (a + b).sum().backward()
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, np.ones_like(b.data))
    # and the seed gradient itself is never handed out as a leaf's grad
    s = leaf(shape=())
    s.backward()
    s.grad += 1
    t = leaf(shape=(), seed=2)
    t.backward()
    assert t.grad == 1.0


def test_weight_reused_over_many_steps():
    """h_t = tanh(w * h_{t-1} + x_t): the shared weight collects the gradient of every step."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(30)

    def run(w):
        h = tg.Tensor(np.zeros(1))
        for x in xs:
            h = (w * h + float(x)).tanh()
        return h.sum()

    w = tg.Tensor(np.array([0.7]), requires_grad=True)
    assert tg.gradcheck(run, [w])
    run(w).backward()
    eps = 1e-6
    with tg.no_grad():
        num = (run(tg.Tensor(np.array([0.7 + eps]))).item() - run(tg.Tensor(np.array([0.7 - eps]))).item()) / (2 * eps)
    np.testing.assert_allclose(w.grad[0], num, rtol=1e-6)


def test_grad_accumulates_across_backward_calls():
    x = leaf()
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, 5 * np.ones(x.shape))


def test_diamond_graph_runs_each_node_once():
    x = leaf(shape=(3,))
    y = x.exp()
    z = y * y.tanh() + y.sigmoid() * x  # y is consumed three times, x twice
    assert tg.gradcheck(lambda x: (lambda y: y * y.tanh() + y.sigmoid() * x)(x.exp()), [x])
    z.sum().backward()
    e = np.exp(x.data)
    sig = 1 / (1 + np.exp(-e))
    expected = e * np.tanh(e) + e * e * (1 - np.tanh(e) ** 2) + sig * (1 - sig) * e * x.data + sig
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_100k_op_chain_has_no_recursion_error():
    x = tg.Tensor(np.array([0.5]), requires_grad=True)
    w = tg.Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(50_000):
        y = (y * w).tanh()  # two ops a step: 100,000 ops
    y.sum().backward()
    assert np.isfinite(x.grad).all() and np.isfinite(w.grad).all()
    assert x.grad[0] > 0


def test_backward_twice_without_retain_graph_raises():
    x = leaf()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(tg.BackwardError, match="retain_graph=True"):
        y.backward()


def test_backward_twice_with_retain_graph():
    x = leaf()
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(tg.BackwardError):
        y.backward()


def test_released_graph_keeps_its_topology():
    x = leaf(name="x")
    with tg.scope("layer"):
        h = (x * 2).tanh()
    h.name = "h"
    y = h.sum()
    y.backward()
    assert h._ctx.released and h._ctx.saved is None
    mul, k = h._ctx.parents[0]  # tanh <- (mul, its output 0)
    assert k == 0 and mul.parents[0] is x  # mul <- x, a leaf: the tensor itself
    assert h.scope == ("layer",) and h.name == "h"
    assert h._ctx.names == ["h"] and h._ctx.scope == ("layer",) and h._ctx.shapes == (x.shape,)


def test_retain_grads_keeps_intermediate_grads():
    x = leaf()
    h = x * 2
    y = h.tanh().sum()
    y.backward(retain_grads=True)
    np.testing.assert_allclose(h.grad, 1 - np.tanh(h.data) ** 2)
    assert y.grad == 1.0
    x2 = leaf()
    h2 = x2 * 2
    h2.tanh().sum().backward()
    assert h2.grad is None  # only leaves keep grads by default


def test_no_reference_cycles():
    """A finished graph must be freed by reference counting alone, before and after backward."""
    gc.collect()
    gc.disable()
    try:
        for do_backward in (False, True):
            x = leaf()
            h = (x @ leaf(shape=(3, 4), seed=1)).tanh()
            y = (h * h.sigmoid()).sum()
            refs = [weakref.ref(h), weakref.ref(y), weakref.ref(y._ctx), weakref.ref(h._ctx)]
            if do_backward:
                y.backward(retain_graph=True)
            del h, y
            assert all(r() is None for r in refs), "the graph was not freed by reference counting"
    finally:
        gc.enable()


def test_broadcasting_gradients():
    a = tg.Tensor(np.ones((4, 1, 3)), requires_grad=True)
    b = tg.Tensor(np.ones((5, 1)), requires_grad=True)
    c = tg.Tensor(np.ones(()), requires_grad=True)
    ((a * b) + c).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (5, 1) and c.grad.shape == ()
    np.testing.assert_allclose(a.grad, 5.0)
    np.testing.assert_allclose(b.grad, 12.0)
    np.testing.assert_allclose(c.grad, 60.0)


@pytest.mark.parametrize("v", [1000.0, -1000.0])
def test_stable_at_plus_minus_1000(v):
    with tg.detect_anomaly():
        for fn in (lambda t: t.sigmoid(), lambda t: t.tanh(), lambda t: t.log_softmax(-1), lambda t: t.softmax(-1)):
            x = tg.Tensor(np.array([v, 0.0, -v]), requires_grad=True)
            y = fn(x)
            assert np.isfinite(y.data).all()
            (y * tg.Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
            assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(tg.Tensor(np.array([v])).sigmoid().data, [1.0 if v > 0 else 0.0])


def test_sigmoid_overflow_is_silent_alone_and_in_a_layer():
    """exp(-x) overflows for x < -88 (float32): expected, so each sigmoid silences numpy's warning for its own
    exp, and leaves numpy's error state as it found it."""
    x = np.full((4, 1, 3), -1000.0, dtype=np.float32)
    lstm = tg.nn.LSTM(3, 2)
    lstm.load_state_dict({k: np.ones(p.shape, dtype=np.float32) for k, p in lstm.named_parameters()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.Tensor(x).sigmoid().data.max() == 0
        output, _ = lstm(tg.Tensor(x))  # every gate's pre-activation is -3000 + ...: every exp overflows
        output.sum().backward()
    assert np.isfinite(output.data).all()
    assert np.geterr()["over"] == "warn"


def test_overflow_elsewhere_raises_if_you_asked_numpy_to():
    """Under np.errstate(over="raise") a layer's overflow raises as numpy's would; the sigmoid's own is still silent."""
    lstm = tg.nn.LSTM(3, 2)
    lstm.load_state_dict({k: np.full(p.shape, 1e30, dtype=np.float32) for k, p in lstm.named_parameters()})
    x = tg.Tensor(np.full((2, 1, 3), 1e10, dtype=np.float32))
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow"):
            lstm(x)
        assert tg.Tensor(np.array([-1000.0], dtype=np.float32)).sigmoid().data[0] == 0


def test_integer_indices_repeat_and_accumulate():
    emb = leaf(shape=(5, 2))
    idx = tg.Tensor(np.array([1, 3, 1, 1]))
    emb[idx].sum().backward()
    np.testing.assert_array_equal(emb.grad[:, 0], [0, 3, 0, 1, 0])


def test_split_chunk_stack_shapes():
    x = leaf(shape=(2, 8))
    assert [p.shape for p in x.chunk(4, axis=1)] == [(2, 2)] * 4
    assert [p.shape for p in x.split([3, 5], axis=1)] == [(2, 3), (2, 5)]
    assert [p.shape for p in x.split(3, axis=1)] == [(2, 3), (2, 3), (2, 2)]
    assert tg.stack([x, x], axis=1).shape == (2, 2, 8)
    assert x.reshape(4, 4).shape == x.reshape((4, 4)).shape == (4, 4)
    assert x.transpose(1, 0).shape == x.permute((1, 0)).shape == x.permute(1, 0).shape == x.T.shape == (8, 2)


# -- ops with several outputs: split, chunk, unbind --------------------------------------------------


def test_split_and_unbind_are_one_node_each():
    x = leaf(shape=(3, 8))
    pieces = x.chunk(4, axis=1)
    assert len({p._ctx for p in pieces}) == 1 and [p._k for p in pieces] == [0, 1, 2, 3]
    assert all(np.shares_memory(p.data, x.data) for p in pieces)  # views: nothing copied
    loss = tg.stack([p * (k + 1.0) for k, p in enumerate(pieces)]).sum()
    names = [fn.name for fn in topological_order(loss)]
    assert names.count("split") == 1 and "getitem" not in names
    rows = list(x)  # iterating is one unbind, as in PyTorch
    assert len({r._ctx for r in rows}) == 1 and rows[2].shape == (8,)
    assert [fn.name for fn in topological_order(rows[0].sum())] == ["sum", "unbind"]


def test_pieces_gradients_are_joined_with_zeros_for_unused_pieces():
    x = leaf(shape=(2, 6))
    a, b, c = x.split([1, 2, 3], axis=1)  # b unused, c used twice
    (a.sum() * 2.0 + (c * c).sum() + c.sum()).backward()
    expected = np.zeros((2, 6), dtype=x.dtype)
    expected[:, 0] = 2.0
    expected[:, 3:] = 2 * x.data[:, 3:] + 1
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6)
    y = leaf(shape=(3, 2))
    y.unbind(0)[1].sum().backward()  # backward from a piece itself
    np.testing.assert_array_equal(y.grad, [[0, 0], [1, 1], [0, 0]])


def test_pieces_retain_grads_and_graph_is_released_and_freed():
    x = leaf(shape=(2, 4))
    a, b = x.chunk(2, axis=1)
    loss = (a * 3.0).sum() + (b * b).sum()
    loss.backward(retain_grads=True)
    np.testing.assert_allclose(a.grad, np.full((2, 2), 3.0))
    np.testing.assert_allclose(b.grad, 2 * b.data)
    assert a.grad is a._ctx.grads[0] and b.grad is a._ctx.grads[1] and a.requires_grad and not a.is_leaf
    with pytest.raises(tg.BackwardError, match="second time"):
        loss.backward()
    gc.collect()
    gc.disable()
    try:
        x = leaf(shape=(2, 4))
        pieces = x.chunk(2, axis=1)
        y = (pieces[0] * pieces[1]).sum()
        refs = [weakref.ref(y._ctx), weakref.ref(pieces[0]._ctx)]
        y.backward()
        del pieces, y
        assert all(r() is None for r in refs), "a split's graph was not freed by reference counting"
    finally:
        gc.enable()


def test_a_piece_used_as_a_matmuls_weight_keeps_its_own_retained_grad():
    x, h = leaf(shape=(4, 6)), leaf(shape=(2, 4), seed=1)
    a, b = x.chunk(2, axis=1)
    loss = (h @ a).sum() + ((h @ a) * 2.0).sum() + b.sum()  # a gets two matmul gradients, kept lazily
    loss.backward(retain_grads=True)
    expected_a = 3 * h.data.T @ np.ones((2, 3))
    np.testing.assert_allclose(a.grad, expected_a, rtol=1e-6)
    np.testing.assert_allclose(x.grad, np.concatenate([expected_a, np.ones((4, 3))], axis=1), rtol=1e-6)
    assert not np.shares_memory(a.grad, x.grad)


def test_pieces_without_grad_are_plain_tensors_and_names_live_on_the_node():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    rows = x.unbind(0)
    assert all(r.is_leaf and not r.requires_grad for r in rows)
    with tg.no_grad():
        assert all(p.is_leaf for p in leaf(shape=(2, 4)).chunk(2, axis=1))
    with tg.scope("gates"):
        i, f = leaf(shape=(2, 4)).chunk(2, axis=1)
    i.name = "i_pre"
    assert (i.name, f.name, i.scope, i.shape) == ("i_pre", None, ("gates",), (2, 2))
    assert i._ctx.names == ["i_pre", None]  # the node's slot for each output
    assert "grad_fn=split" in repr(i)


def test_split_unbind_errors_name_the_op():
    x = leaf(shape=(2, 6))
    with pytest.raises(tg.OpError, match=r"split: sizes \[2, 2\] must .* add up to the 6"):
        x.split([2, 2], axis=1)
    with pytest.raises(tg.OpError, match="split: sizes"):
        x.split([8, -2], axis=1)
    with pytest.raises(tg.OpError, match="split: split_size must be positive"):
        x.split(0, axis=1)
    with pytest.raises(tg.OpError, match="chunk: chunks must be a positive integer, got 0"):
        x.chunk(0)
    for op in ("split", "chunk", "unbind"):
        args = {"split": (2,), "chunk": (2,), "unbind": ()}[op]
        with pytest.raises(tg.OpError, match=f"{op}: axis 2 is out of range for a tensor of shape \\(2, 6\\)"):
            getattr(x, op)(*args, axis=2)
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(1.0))


def test_a_failed_backward_from_a_piece_leaves_its_grad_alone():
    x = leaf(shape=(2, 4))
    a, b = x.chunk(2, axis=1)
    g = np.ones((2, 2), dtype=x.dtype)
    b.backward(g, retain_grads=True)
    np.testing.assert_array_equal(b.grad, g)
    with pytest.raises(tg.BackwardError, match="second time"):
        b.backward(g, retain_grads=True)
    np.testing.assert_array_equal(b.grad, g)  # unchanged, as a tensor's own grad would be


def test_empty_axis_and_bad_axis_types():
    x = leaf(shape=(0, 3))
    assert [p.shape for p in x.chunk(2, axis=0)] == [(0, 3)]  # one empty piece, as in PyTorch
    assert [p.shape for p in x.split(2, axis=0)] == [(0, 3)]
    with pytest.raises(tg.OpError, match="chunk: axis must be an integer, got 1.0"):
        x.chunk(2, axis=1.0)


class _TwoOutputs(tg.Function):
    def forward(self, x):
        return [x, x * 2]

    def backward(self, gs):
        return (gs[0] + 2 * gs[1],)


def test_apply_says_it_runs_functions_of_one_output():
    with pytest.raises(tg.OpError, match="_twooutputs.forward must return one numpy array .* a list of 2"):
        tg.apply(_TwoOutputs, leaf(shape=(3,)))


def test_keep_values_and_detach_of_a_piece():
    x = leaf(shape=(2, 4))
    with tg.keep_values():
        a, b = x.chunk(2, axis=1)
    node = a._ctx
    np.testing.assert_array_equal(node.values[0], a.data)  # each output's value, kept
    np.testing.assert_array_equal(node.join(list(node.values)), x.data)  # ... which join into the input's numbers
    cut = b.detach()
    assert cut._cut[0]() is node and cut._cut[1] == 1  # the node, and which of its outputs
    del a, b
    gc.collect()
    assert cut._cut[0]() is node  # the node lives as long as something holds it, not the piece


# -- scopes and names ---------------------------------------------------------------------------------


def test_scopes_nest_and_are_recorded():
    x = leaf()
    with tg.scope("lstm"):
        with tg.scope("t=3"):
            y = x * 2
            assert tg.current_scope() == ("lstm", "t=3")
        z = y + 1
    w = z.sum()
    assert y.scope == ("lstm", "t=3") and z.scope == ("lstm",) and w.scope == ()


def test_scope_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with tg.scope("a"):
            raise KeyError
    assert tg.current_scope() == ()


# -- anomaly detection ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_forward_names_op_scope_and_tensors():
    x = tg.Tensor(np.array([1.0, -1.0]), requires_grad=True, name="x")
    with tg.detect_anomaly(), tg.scope("t=7"):
        with pytest.raises(tg.AnomalyError, match=r"log: forward produced nan or inf \(in scope t=7\); inputs: 'x'"):
            x.log()
    x.log()  # outside, nan passes silently as in numpy (with numpy's warning)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_backward():
    x = tg.Tensor(np.array([0.0]), requires_grad=True, name="x")
    y = x**0.5  # finite forward, infinite derivative at 0
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError, match="pow: backward produced nan or inf"):
            y.sum().backward()


# -- errors for bad input ---------------------------------------------------------------------------


def test_matmul_shape_error_names_op_shapes_and_scope():
    a, b = tg.Tensor(np.ones((32, 64))), tg.Tensor(np.ones((65, 128)))
    with tg.scope("lstm"), tg.scope("t=3"):
        with pytest.raises(
            tg.OpError, match=r"matmul: shapes \(32, 64\) and \(65, 128\) do not align.*\(in scope lstm/t=3\)"
        ):
            a @ b


def test_broadcast_error():
    with pytest.raises(tg.OpError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast together"):
        tg.Tensor(np.ones((2, 3))) + tg.Tensor(np.ones(4))
    with pytest.raises(ValueError):  # OpError is a ValueError
        tg.Tensor(np.ones((2, 3))) * tg.Tensor(np.ones(4))


def test_backward_on_non_scalar_needs_grad():
    x = leaf()
    with pytest.raises(tg.BackwardError, match=r"one-element output.*shape \(2, 3\)"):
        (x * 2).backward()


def test_backward_with_wrong_grad_shape():
    x = leaf()
    with pytest.raises(tg.BackwardError, match=r"grad has shape \(3,\) but the tensor has shape \(2, 3\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_graph():
    with pytest.raises(tg.BackwardError, match="does not require grad"):
        tg.Tensor(np.ones(2)).sum().backward()


def test_requires_grad_on_integers():
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point dtype, got int64"):
        tg.Tensor(np.array([1, 2]), requires_grad=True)


def test_other_errors_are_clear():
    x = leaf(shape=(2, 3))
    with pytest.raises(tg.OpError, match=r"reshape: cannot reshape \(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(tg.OpError, match="getitem"):
        x[5]
    with pytest.raises(tg.OpError, match="cat"):
        tg.cat([x, leaf(shape=(3, 3))], axis=1)
    with pytest.raises(tg.OpError, match="transpose: axis 5 is out of range"):
        x.transpose(0, 5)
    with pytest.raises(TypeError, match=r"transpose: swaps two axes.*x.permute\(\*axes\)"):
        x.transpose(1, 0, 2)
    with pytest.raises(tg.OpError, match=r"permute: \(0, 0\) is not an order"):
        x.permute(0, 0)
    with pytest.raises(TypeError, match="item assignment"):
        x[0] = 1
    with pytest.raises(TypeError, match="exponent must be a number"):
        x**x
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    with pytest.raises(tg.OpError, match="sum"):
        x.sum(axis=2)


class Recorded(tg.Function):
    """y = x + 0 that notes when its backward runs, to observe the engine's order."""

    log: list = []

    def forward(self, x, label):
        self.label = label
        return x.copy()

    def backward(self, g):
        Recorded.log.append(self.label)
        return (g,)


def test_backward_runs_in_topological_order():
    """Each node runs once, after all its consumers, in the order topological_order() reports."""
    from tinygrad_rnn import topological_order

    x = leaf(shape=(3,))
    a = tg.apply(Recorded, x, label="a")
    b = tg.apply(Recorded, a * 2, label="b")
    c = tg.apply(Recorded, a.tanh() + b, label="c")
    d = tg.apply(Recorded, c * b + a, label="d")
    root = d.sum()
    order = [fn.label for fn in topological_order(root) if isinstance(fn, Recorded)]
    Recorded.log = []
    root.backward()
    assert Recorded.log == order
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("d") < order.index("c") < order.index("b") < order.index("a")


def test_scalar_tensors_accumulate():
    """0-d arithmetic gives numpy scalars, which cannot be added into: grads must still sum."""
    x = tg.Tensor(np.float64(0.5), requires_grad=True)
    h = x.tanh()
    (h * h + h * 3.0).backward()  # h has three contributions
    np.testing.assert_allclose(x.grad, (2 * np.tanh(0.5) + 3) * (1 - np.tanh(0.5) ** 2))
    (x * 2.0).backward()  # and a leaf's scalar grad accumulates across calls
    np.testing.assert_allclose(x.grad, (2 * np.tanh(0.5) + 3) * (1 - np.tanh(0.5) ** 2) + 2)
    assert isinstance(x.grad, np.ndarray)


def test_detach_remembers_its_source_weakly():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    d = b.detach()
    assert d._cut[0]() is b._ctx and d._cut[1] == 0  # the node, and which of its outputs
    assert a.detach()._cut is None  # a leaf has no graph to cut
    node = weakref.ref(b._ctx)
    del b
    gc.collect()
    assert node() is None  # the detached tensor does not keep the old graph alive
    assert d._cut[0]() is None


# -- the graph is made of Functions: what it keeps, and what it lets go --------------------------------


def test_graph_frees_intermediates_that_backward_does_not_need():
    x = leaf(shape=(3,))
    pre = x * 2.0  # Mul saves x and 2.0, not its output
    pre_data = weakref.ref(pre.data)
    h = pre.tanh()  # Tanh saves its output
    h_data = weakref.ref(h.data)
    loss = h.sum()
    del pre, h
    gc.collect()
    assert pre_data() is None  # nobody needs w * x any more: freed during the forward pass
    assert h_data() is not None  # tanh's backward needs its output
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(2 * x.data) ** 2))


def test_keep_values_keeps_every_intermediate_value():
    x = leaf(shape=(3,))
    with tg.keep_values():
        pre = x * 2.0
        loss = pre.tanh().sum()
    node = pre._ctx
    del pre
    gc.collect()
    np.testing.assert_array_equal(node.values[0], x.data * 2.0)
    tanh, _ = loss._ctx.parents[0]
    assert tanh.parents[0] == (node, 0)
    assert (x * 2.0)._ctx.values is None  # outside the block, nothing extra is kept


def test_names_scopes_and_retained_grads_live_on_the_node():
    x = leaf(shape=(3,))
    with tg.scope("cell"):
        h = x.tanh()
    h.name = "h"
    loss = (h * 3.0).sum()
    node = h._ctx
    assert (node.names, node.scope, node.shapes, node.dtype) == (["h"], ("cell",), ((3,),), x.dtype)
    loss.backward(retain_grads=True)
    np.testing.assert_allclose(h.grad, np.full(3, 3.0))
    assert h.grad is node.grads[0] and h.requires_grad and not h.is_leaf
    del h
    gc.collect()
    mul, _ = loss._ctx.parents[0]
    tanh, k = mul.parents[0]
    np.testing.assert_allclose(tanh.grads[k], np.full(3, 3.0))  # drawable afterwards


class _ReturnsArray(tg.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g):
        return g * 2  # a bare array, not a tuple of one gradient


class _ReturnsTwo(tg.Function):
    def forward(self, x):
        return x * 2

    def backward(self, g):
        return g * 2, g


class _WrongShape(tg.Function):
    def forward(self, x):
        return x.sum()

    def backward(self, g):
        return (np.asarray(g).reshape(1),)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_ReturnsArray, "must return a tuple of 1 gradient.*returned a ndarray"),
        (_ReturnsTwo, "must return a tuple of 1 gradient.*returned a tuple of 2"),
        (_WrongShape, r"gradient for input 0 has shape \(1,\), but that input has shape \(2, 3\)"),
    ],
)
def test_user_function_backward_is_checked(fn, message):
    x = leaf()
    y = tg.apply(fn, x)
    with pytest.raises(tg.BackwardError, match=message):
        y.sum().backward()


def test_checked_user_function_keeps_its_name():
    y = tg.apply(_ReturnsTwo, leaf())
    assert y._ctx.name == "_returnstwo" and isinstance(y._ctx, _ReturnsTwo)


# -- a shared weight's gradient (with the speed lessons, summed as one product: speed/weight_grads.py) ---


@pytest.mark.parametrize("steps", [1, 2, 63, 64, 65, 150])  # around Factors.CHUNK, where pairs are multiplied out
@pytest.mark.parametrize("transposed", [True, False], ids=["through W.T, a node", "W itself, a leaf"])
def test_weight_shared_by_many_matmuls_gets_the_summed_gradient(steps, transposed):
    rng = np.random.default_rng(steps)
    w = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    used = w.T if transposed else w  # W.T: one interior node used by every step, as a layer's weight_hh.T
    xs = [tg.Tensor(rng.standard_normal((2, 3) if transposed else (2, 4))) for _ in range(steps)]
    loss = sum(((x @ used) * float(k + 1)).sum() for k, x in enumerate(xs))
    (w * 0.5).sum().backward()  # an earlier backward's gradient, which the factors must add to
    loss.backward()
    out = 4 if transposed else 3
    expected = sum((k + 1) * x.data.T @ np.ones((2, out)) for k, x in enumerate(xs))
    np.testing.assert_allclose(w.grad, (expected.T if transposed else expected) + 0.5, rtol=1e-12)


def test_matmul_gradient_mixes_with_other_contributions():
    """A node that gets factors from matmuls and plain arrays from other ops sums them all."""
    rng = np.random.default_rng(0)
    w = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    m = w * 1.0  # an interior node: its gradient buffer is the engine's
    a, b = (tg.Tensor(rng.standard_normal((2, 3))) for _ in range(2))
    loss = (a @ m).sum() + (m * m).sum() + (b @ m).sum() + (m * 3.0).sum()
    assert tg.gradcheck(lambda w: (a @ w).sum() + (w * w).sum() + (b @ w).sum() + (w * 3.0).sum(), [w])
    loss.backward()
    expected = a.data.T @ np.ones((2, 4)) + 2 * w.data + b.data.T @ np.ones((2, 4)) + 3.0
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)


def test_batch_one_matmul_gradient_is_an_outer_product():
    rng = np.random.default_rng(1)
    w = tg.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    xs = [tg.Tensor(rng.standard_normal((1, 5))) for _ in range(3)]
    sum((x @ w).sum() for x in xs).backward()
    np.testing.assert_allclose(w.grad, sum(np.outer(x.data[0], np.ones(3)) for x in xs), rtol=1e-12)


def test_retained_grads_accumulate_across_backwards_like_leaf_grads():
    """Found in review: retain_grads overwrote an intermediate's grad where PyTorch's retain_grad adds."""
    x = tg.Tensor(np.array([0.0, 1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    y = (h * h).sum()
    y.backward(retain_graph=True, retain_grads=True)
    y.backward(retain_graph=True, retain_grads=True)
    np.testing.assert_allclose(h.grad, 2 * (2 * h.data))
    np.testing.assert_allclose(x.grad, 2 * (2 * h.data * 2.0))


def test_pow_zero_has_zero_gradient_everywhere():
    x = tg.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_squeeze_of_an_axis_longer_than_one_leaves_it_as_pytorch_does():
    assert leaf().squeeze(1).shape == (2, 3)
    assert leaf(shape=(2, 1, 3)).squeeze((0, 1)).shape == (2, 3)


def test_max_gradient_keeps_float32_and_mean_of_nothing_is_nan():
    x = tg.Tensor(np.array([[1.0, 3.0, 3.0]], dtype=np.float32), requires_grad=True)
    m = x.amax(axis=1)
    m.sum().backward(retain_grads=True)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5]])  # ties share (PyTorch's amax)
    x.grad = None
    values, indices = x.max(dim=1)  # PyTorch's max(dim): the value takes its gradient at its index
    values.sum().backward()
    assert indices.tolist() == [1] and x.grad.tolist() == [[0.0, 1.0, 0.0]]
    with np.errstate(invalid="ignore"):
        assert np.isnan(tg.Tensor(np.zeros((0,), dtype=np.float32)).mean().item())


# -- gradients that reach leaves -------------------------------------------------------------------


@pytest.mark.parametrize("rows", [2, 2000], ids=["small", "large"])
def test_gradient_of_a_sum_reaches_leaves_as_their_own_arrays(rows):
    """A leaf's grad is its own, writable array of its shape (whatever form the gradient reached it in),
    and a second backward adds into it."""
    x = tg.Tensor(np.arange(rows * 3.0).reshape(rows, 3), requires_grad=True)
    x.sum().backward()
    assert x.grad.flags.writeable and x.grad.shape == (rows, 3)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((rows, 3), 3.0))
    h = x * 1.0
    (h.sum(axis=0)).backward(np.array([1.0, 2.0, 3.0]), retain_grads=True)
    np.testing.assert_array_equal(h.grad, np.tile([1.0, 2.0, 3.0], (rows, 1)))
    assert h.grad.flags.writeable
    y = x * 1.0
    (y * y).sum().backward()  # the broadcast flows through an op into two inputs
    np.testing.assert_array_equal(x.grad, 3.0 + np.tile([1.0, 2.0, 3.0], (rows, 1)) + 2 * x.data)
    assert x.grad.flags.c_contiguous


@pytest.mark.parametrize("graph", ["sum of a sum along an axis", "sum of a transpose", "sum of a slice"])
def test_leaf_gradient_of_a_large_sum_is_in_row_order(graph):
    """Found in review: a sum along an axis handed on a broadcast with some zero strides, and the leaf's copy
    of it came out in Fortran order (an optimizer step on it was 3x slower)."""
    x = tg.Tensor(np.ones((300, 40), np.float32), requires_grad=True)
    if graph == "sum of a sum along an axis":
        y = x.sum(axis=0).sum()
    elif graph == "sum of a transpose":
        y = x.T.sum()
    else:
        y = x[:, 5:].sum()
    y.backward()
    assert x.grad.flags.c_contiguous and x.grad.flags.writeable


class _DoublesInPlace(tg.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        g *= 2  # writes into the gradient it was handed
        return (g,)


@pytest.mark.parametrize("size", [10, 5000], ids=["small sum", "large sum: a read-only broadcast"])
def test_a_function_of_your_own_may_write_into_its_gradient(size):
    x = tg.Tensor(np.ones(size), requires_grad=True)
    tg.apply(_DoublesInPlace, x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(size, 2.0))


class _DoublesIntoItself(tg.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        g[...] *= 2  # item assignment: needs an array, even a 0-d one
        return (g,)


def test_stacked_numbers_hand_a_function_of_your_own_an_array():
    """Stack's backward slices g into 0-d arrays (never numpy scalars), which a Function may write into."""
    xs = [tg.Tensor(np.float32(k), requires_grad=True) for k in range(3)]
    (tg.stack([tg.apply(_DoublesIntoItself, x) for x in xs]) * tg.Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    assert [float(x.grad) for x in xs] == [2.0, 4.0, 6.0]


def test_stack_errors_name_the_axis_range():
    x = tg.Tensor(np.ones((2, 3)))
    with pytest.raises(tg.OpError, match=r"axis 3 is out of range for stacking 2-D tensors \(valid: -3 to 2\)"):
        tg.stack([x, x], axis=3)
    with pytest.raises(tg.OpError, match="same shape"):
        tg.stack([x, tg.Tensor(np.ones((3, 2)))])
    with pytest.raises(tg.OpError, match="at least one"):
        tg.stack([])


@pytest.mark.parametrize(
    "axis, shape", [(0, (1, 2, 3)), (1, (2, 1, 3)), (2, (2, 3, 1)), (-1, (2, 3, 1)), (-3, (1, 2, 3))]
)
def test_unsqueeze_inserts_an_axis_like_numpy(axis, shape):
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    y = x.unsqueeze(axis)
    assert y.shape == shape == np.expand_dims(x.data, axis).shape
    y.sum().backward()
    assert x.grad.shape == (2, 3)


@pytest.mark.parametrize("axis", [3, -4])
def test_unsqueeze_out_of_range_names_the_op(axis):
    with pytest.raises(tg.OpError, match=f"unsqueeze: dim {axis} is out of range for a 2-D tensor"):
        tg.Tensor(np.ones((2, 3))).unsqueeze(axis)
