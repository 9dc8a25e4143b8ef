"""Every primitive and composite op, driven by one table.

Each row says how to draw inputs (hypothesis picks shapes, including broadcasting ones, and a seed
for the values) and how to compute the op with tinygrad_rnn and with PyTorch. Three checks run on
every row: float64 finite-difference gradcheck, agreement with PyTorch (forward and gradients)
when it is installed, and float32 in -> float32 out. Adding an op is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinygrad_rnn as tg

pytestmark = pytest.mark.usefixtures("engine")  # each test runs with the speed lessons and with the plain core

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional reference)")


# -- how inputs are drawn ------------------------------------------------------------------------

small_shape = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
matrix_shape = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)


def values(shape, seed, domain="real"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if domain == "positive":
        return np.abs(x) + 0.5
    if domain == "nonzero":
        return np.sign(x) * (np.abs(x) + 0.5) + (x == 0)
    if domain == "distinct":  # no two elements within 0.1: max/min are differentiable everywhere
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape) - 0.05 * n
    if domain == "away_from_zero":  # relu's kink at 0
        return np.sign(x) * (np.abs(x) + 0.1) + (x == 0)
    return x


@st.composite
def unary(draw, domain="real", shape=small_shape):
    return [values(draw(shape), draw(seeds), domain)]


@st.composite
def binary(draw, domain_b="real"):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)).input_shapes
    return [values(shapes[0], draw(seeds)), values(shapes[1], draw(seeds), domain_b)]


@st.composite
def matmul_pair(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["2d", "batched", "broadcast", "vec_mat", "mat_vec", "vec_vec"]))
    a_shape, b_shape = {
        "2d": ((n, k), (k, m)),
        "batched": ((3, n, k), (3, k, m)),
        "broadcast": ((2, 1, n, k), (3, k, m)),
        "vec_mat": ((k,), (2, k, m)),
        "mat_vec": ((2, n, k), (k,)),
        "vec_vec": ((k,), (k,)),
    }[kind]
    return [values(a_shape, draw(seeds)), values(b_shape, draw(seeds))]


@st.composite
def with_axis(draw, domain="real", keepdims=True):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keep = draw(st.booleans()) if keepdims else False
    return [values(shape, draw(seeds), domain)], {"axis": axis, "keepdims": keep}


@st.composite
def getitem_case(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = values(shape, draw(seeds))
    kind = draw(st.sampled_from(["int", "slice", "step", "repeat", "tuple", "mask", "ellipsis"]))
    n = shape[0]
    if kind == "int":
        idx = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        idx = slice(draw(st.integers(0, n - 1)), draw(st.integers(1, n)))
    elif kind == "step":
        idx = slice(None, None, draw(st.sampled_from([-1, 2, -2])))
    elif kind == "repeat":  # repeated indices must accumulate their gradients
        idx = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)))
    elif kind == "tuple":
        idx = (slice(None), *[draw(st.integers(0, s - 1)) for s in shape[1:2]])
    elif kind == "mask":
        idx = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    else:
        idx = (Ellipsis, 0)
    return [x], {"idx": idx}


@st.composite
def cat_case(draw):
    shape = list(draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    axis = draw(st.integers(0, len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        arrays.append(values(tuple(shape), draw(seeds)))
    return arrays, {"axis": axis}


@st.composite
def same_shapes(draw, count=3):
    shape = draw(small_shape)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))  # an axis of the result, negative ones too
    return [values(shape, draw(seeds)) for _ in range(count)], {"axis": axis}


# -- the table -----------------------------------------------------------------------------------


@dataclass
class Op:
    name: str
    draw: st.SearchStrategy  # gives a list of arrays, or (list of arrays, kwargs)
    tg_fn: Callable
    torch_fn: Callable | None = None  # defaults to tg_fn (when the same code works on both)


def _all_dims(x, axis):
    return tuple(range(x.dim())) if axis is None else axis


def torch_getitem(x, idx):
    if isinstance(idx, np.ndarray):
        idx = torch.as_tensor(idx)
    if isinstance(idx, slice) and idx.step is not None and idx.step < 0:  # torch has no negative steps
        return x.flip(0)[:: -idx.step]
    return x[idx]


OPS = [
    Op("add", binary(), lambda a, b: a + b),
    Op("sub", binary(), lambda a, b: a - b),
    Op("rsub_scalar", unary(), lambda a: 2.5 - a),
    Op("mul", binary(), lambda a, b: a * b),
    Op("mul_scalar", unary(), lambda a: a * 3.0),
    Op("div", binary(domain_b="nonzero"), lambda a, b: a / b),
    Op("rdiv_scalar", unary("nonzero"), lambda a: 2.0 / a),
    Op("neg", unary(), lambda a: -a),
    Op("pow_int", unary(), lambda a: a**3),
    Op("pow_frac", unary("positive"), lambda a: a**0.5),
    Op("pow_neg", unary("positive"), lambda a: a**-1.5),
    Op("rpow", unary(), lambda a: 2.0**a),
    Op("sqrt", unary("positive"), lambda a: a.sqrt()),
    Op("exp", unary(), lambda a: a.exp()),
    Op("log", unary("positive"), lambda a: a.log()),
    Op("tanh", unary(), lambda a: a.tanh()),
    Op("sigmoid", unary(), lambda a: a.sigmoid()),
    Op("relu", unary("away_from_zero"), lambda a: a.relu()),
    Op("matmul", matmul_pair(), lambda a, b: a @ b),
    Op(
        "sum",
        with_axis(),
        lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
        lambda x, axis, keepdims: x.sum(dim=_all_dims(x, axis), keepdim=keepdims),
    ),
    Op(
        "mean",
        with_axis(),
        lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
        lambda x, axis, keepdims: x.mean(dim=_all_dims(x, axis), keepdim=keepdims),
    ),
    Op(
        "max",
        with_axis("distinct"),
        lambda x, axis, keepdims: x.amax(axis=axis, keepdims=keepdims),
        lambda x, axis, keepdims: x.amax(dim=_all_dims(x, axis), keepdim=keepdims),
    ),
    Op(
        "min",
        with_axis("distinct"),
        lambda x, axis, keepdims: x.amin(dim=axis, keepdim=keepdims),
        lambda x, axis, keepdims: x.amin(dim=_all_dims(x, axis), keepdim=keepdims),
    ),
    Op(
        "max_dim",  # PyTorch's max(dim): (values, indices); the values take their gradient at the index
        with_axis("distinct").filter(lambda c: c[1]["axis"] is not None),
        lambda x, axis, keepdims: x.max(axis, keepdims).values * (x.max(axis, keepdims).indices + 1.0),
        lambda x, axis, keepdims: x.max(axis, keepdims).values * (x.max(axis, keepdims).indices + 1.0),
    ),
    Op(
        "where",
        unary(),
        lambda x: x.where(x.data > 0.1, x * x) + x.masked_fill(x.data < -0.5, 2.0),
        lambda x: torch.where(x > 0.1, x, x * x) + x.masked_fill(x < -0.5, 2.0),
    ),
    Op(
        "softmax",
        with_axis(keepdims=False).filter(lambda c: c[1]["axis"] is not None),
        lambda x, axis, keepdims: x.softmax(axis),
        lambda x, axis, keepdims: torch.softmax(x, dim=axis),
    ),
    Op(
        "log_softmax",
        with_axis(keepdims=False).filter(lambda c: c[1]["axis"] is not None),
        lambda x, axis, keepdims: x.log_softmax(axis),
        lambda x, axis, keepdims: torch.log_softmax(x, dim=axis),
    ),
    Op("reshape", unary(), lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    Op(
        "reshape_tuple",
        unary(shape=matrix_shape),
        lambda x: x.reshape((1, *x.shape)),
        lambda x: x.reshape((1, *x.shape)),
    ),
    Op(
        "transpose",
        unary(shape=array_shapes(min_dims=2, max_dims=4, max_side=3)),
        lambda x: x.transpose(0, -1),
        lambda x: x.transpose(0, -1),
    ),
    Op(
        "permute",
        unary(shape=array_shapes(min_dims=3, max_dims=3, max_side=3)),
        lambda x: x.permute(1, 2, 0),
        lambda x: x.permute(1, 2, 0),
    ),
    Op("T", unary(shape=array_shapes(min_dims=2, max_dims=2, max_side=4)), lambda x: x.T, lambda x: x.T),
    Op("getitem", getitem_case(), lambda x, idx: x[idx], torch_getitem),
    Op("cat", cat_case(), lambda *xs, axis: tg.cat(xs, axis=axis), lambda *xs, axis: torch.cat(xs, dim=axis)),
    Op("stack", same_shapes(), lambda *xs, axis: tg.stack(xs, axis=axis), lambda *xs, axis: torch.stack(xs, dim=axis)),
    Op(
        "split",
        unary(shape=matrix_shape),
        lambda x: tg.cat([p * (i + 1.0) for i, p in enumerate(x.split(2, axis=-1))], axis=-1),
        lambda x: torch.cat([p * (i + 1.0) for i, p in enumerate(x.split(2, dim=-1))], dim=-1),
    ),
    Op(
        "chunk",
        unary(shape=matrix_shape),
        lambda x: tg.cat([p.tanh() * (i + 1.0) for i, p in enumerate(x.chunk(2, axis=0))], axis=0),
        lambda x: torch.cat([p.tanh() * (i + 1.0) for i, p in enumerate(x.chunk(2, dim=0))], dim=0),
    ),
    Op(
        "split_sizes_some_unused",  # pieces of listed sizes; one piece unused, one used twice
        unary(shape=array_shapes(min_dims=2, max_dims=2, min_side=3, max_side=4)),
        lambda x: (lambda a, b, c: tg.cat([a * c, c.exp()], axis=0))(*x.split([1, 1, x.shape[0] - 2], axis=0)),
        lambda x: (lambda a, b, c: torch.cat([a * c, c.exp()], dim=0))(*x.split([1, 1, x.shape[0] - 2], dim=0)),
    ),
    Op(
        "unbind",
        unary(shape=array_shapes(min_dims=2, max_dims=3, max_side=3)),
        lambda x: tg.stack([p * (i + 1.0) for i, p in enumerate(x.unbind(1))], axis=0),
        lambda x: torch.stack([p * (i + 1.0) for i, p in enumerate(x.unbind(1))], dim=0),
    ),
    Op(
        "iterate",  # for row in x: one unbind; the last row not used
        unary(shape=array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4)),
        lambda x: tg.stack([row.tanh() for row in list(x)[:-1]], axis=0),
        lambda x: torch.stack([row.tanh() for row in list(x)[:-1]], dim=0),
    ),
    Op(
        "a_plus_a",  # the same tensor on both sides of an op, then the result twice again
        unary(),
        lambda a: (lambda b: b + b)(a + a) * a,
    ),
]

IDS = [op.name for op in OPS]


def _unpack(case):
    return case if isinstance(case, tuple) else (case, {})


@pytest.mark.parametrize("op", OPS, ids=IDS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_gradcheck(op, data):
    arrays, kwargs = _unpack(data.draw(op.draw))
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *xs: op.tg_fn(*xs, **kwargs), inputs)


@needs_torch
@pytest.mark.parametrize("op", OPS, ids=IDS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_matches_pytorch(op, data):
    arrays, kwargs = _unpack(data.draw(op.draw))
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = op.tg_fn(*ours, **kwargs)
    ref = (op.torch_fn or op.tg_fn)(*theirs, **kwargs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for k, (x, y) in enumerate(zip(ours, theirs, strict=True)):
        expected = np.zeros_like(arrays[k]) if y.grad is None else y.grad.numpy()
        np.testing.assert_allclose(x.grad, expected, rtol=1e-9, atol=1e-12, err_msg=f"{op.name}: input {k}")


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_float32_stays_float32(op):
    @settings(max_examples=3, deadline=None)
    @given(data=st.data())
    def check(data):
        arrays, kwargs = _unpack(data.draw(op.draw))
        inputs = [tg.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
        out = op.tg_fn(*inputs, **kwargs)
        assert out.dtype == np.float32
        out.backward(np.ones(out.shape, dtype=np.float32))
        for x in inputs:
            assert x.grad.dtype == np.float32 and x.grad.shape == x.shape

    check()


def test_every_primitive_has_a_row():
    """Each Function subclass in ops.py is exercised by at least one row of the table."""
    from tinygrad_rnn import ops

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    primitives = {c.__name__.lower() for c in subclasses(ops.Function) if c.__module__ == ops.__name__}
    primitives -= {"_binary", "_pieces"}  # bases shared by ops, not ops
    covered = {"add", "mul", "div", "neg", "pow", "exp", "log", "tanh", "sigmoid", "relu", "matmul", "sum", "max"}
    covered |= {"reshape", "transpose", "getitem", "cat", "stack", "split", "unbind", "where"}
    covered |= {"cast"}  # float32 <-> float64, in test_cast_between_floats_passes_the_gradient_back
    assert primitives <= covered, f"primitives without a table row: {primitives - covered}"
    assert {"pow_int", "getitem", "cat", "max", "sum"} <= set(IDS)


def test_cast_between_floats_passes_the_gradient_back():
    """float() and double() are ops (Cast): the gradient comes back in the input's dtype, as in PyTorch."""
    x = tg.Tensor(np.array([1.5, -2.0], np.float32), requires_grad=True)
    w = np.array([3.0, 0.25])
    y = x.double()
    assert y.dtype == np.float64 and y._ctx.name == "cast"
    (y * w).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 0.25]
    assert x.float() is x  # nothing to change: the tensor itself, as in PyTorch
    h = x.to(np.int64)
    assert h.dtype == np.int64 and not h.requires_grad  # to an integer: no gradient
    if torch is not None:
        tx = torch.tensor([1.5, -2.0], requires_grad=True)
        (tx.double() * torch.tensor(w)).sum().backward()
        assert tx.grad.tolist() == x.grad.tolist()
