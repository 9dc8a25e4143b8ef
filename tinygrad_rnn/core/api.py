"""The rest of PyTorch's Tensor API: other spellings of tensor.py's ops, and ops built from them.

Not on the reading path (docs/autograd.md reads modes.py, ops.py and tensor.py): each method here is
a few lines over the ops a tensor already has, so none brings a derivative of its own. `Tensor`
inherits them. Where PyTorch and numpy disagree, PyTorch's meaning wins: `x.max(1)` gives
(values, indices), `x.transpose(0, 1)` swaps two axes (numpy's `transpose(*axes)` is `permute`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .modes import BackwardError, OpError


class ValuesIndices(NamedTuple):
    """What x.max(dim) and x.min(dim) return, as in PyTorch: `values, indices = x.max(1)`."""

    values: object
    indices: object


def _dim(dim, axis):
    from .tensor import _dim as pick  # one rule for dim= and axis=, in tensor.py

    return pick(dim, axis)


class _Handle:
    """What register_hook returns: remove() takes the hook off the tensor, as PyTorch's handle does."""

    def __init__(self, tensor, hook) -> None:
        self.tensor, self.hook = tensor, hook

    def remove(self) -> None:
        self.tensor._hooks = tuple(h for h in self.tensor._hooks or () if h is not self.hook) or None


class TensorAPI:
    """PyTorch's other names and composite ops, for `Tensor`."""

    __slots__ = ()

    # -- other names for what tensor.py has ---------------------------------------------------------

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[self._axis("size", dim)]

    def dim(self) -> int:
        return self.ndim

    def view(self, *shape):
        """reshape: numpy arrays have no strides to share here, so a view is a reshape (a new node)."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        a, b = self._axis("flatten", start_dim), self._axis("flatten", end_dim)
        if a > b:
            raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        return self.reshape(self.shape[:a] + (int(np.prod(self.shape[a : b + 1])),) + self.shape[b + 1 :])

    def tolist(self):
        return self.data.tolist()

    def float(self):
        """float32, as a differentiable op (self if it is float32 already)."""
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def add(self, other, *, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, *, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return self @ other

    def pow(self, exponent):
        return self**exponent

    def neg(self):
        return -self

    # -- built from other ops ---------------------------------------------------------------------

    def abs(self):
        """|x| = x * sign(x): the gradient is sign(x), 0 at 0 (as in PyTorch)."""
        if self.dtype == bool:
            raise TypeError("abs: not defined for bool tensors (as in PyTorch); write x.long().abs()")
        return self * self._leaf(np.sign(self.data).astype(self.dtype))

    __abs__ = abs

    def clamp(self, min=None, max=None):  # noqa: A002 (PyTorch's names)
        """x limited to [min, max] (numbers or tensors, broadcast): the gradient goes to x where it is
        inside, to the bound where it was clamped (as in PyTorch)."""
        if min is None and max is None:
            raise TypeError("clamp: give min=, max= or both")
        y = self
        if min is not None:
            y = y.where(~(y.data < getattr(min, "data", min)), min)
        if max is not None:
            y = y.where(~(y.data > getattr(max, "data", max)), max)
        return y

    def masked_fill(self, mask, value):
        """value where mask is True, x elsewhere (mask: bool, broadcast to x's shape); a number takes x's
        dtype, as in PyTorch."""
        mask = np.asarray(getattr(mask, "data", mask))
        if mask.dtype != bool:
            raise TypeError(f"masked_fill: mask must be bool, got {mask.dtype} (write mask > 0 or mask.bool())")
        if isinstance(value, int | float | np.number):
            value = self._leaf(np.asarray(value).astype(self.dtype))
        return self.where(~mask, value)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
        """sum((x - mean)^2) / (N - correction), PyTorch's arguments: correction 1 (unbiased) unless told."""
        if unbiased is not None and correction is not None:
            raise TypeError("var: give unbiased= or correction=, not both")
        correction = int(bool(unbiased)) if unbiased is not None else (1 if correction is None else correction)
        dim, keepdim = self._axes("var", _dim(dim, axis)), keepdim or keepdims
        n = self.numel() if dim is None else int(np.prod([self.shape[a] for a in np.atleast_1d(dim)]))
        centred = self - self.mean(dim, keepdim=True)
        with np.errstate(divide="ignore"):  # N <= correction: inf (or nan for a zero sum), as PyTorch
            scale = np.float64(1.0) / max(n - correction, 0)
        return (centred * centred).sum(dim, keepdim) * float(scale)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
        """sqrt(var); where the variance is 0 the gradient is 0 (the square root's slope there is infinite)."""
        v = self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
        positive = v.data > 0
        return v.where(positive, 1.0).sqrt().where(positive, 0.0)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False):
        """The largest element; along a dim, (values, indices) as in PyTorch (amax gives values only).
        Each value takes its gradient at its index, as PyTorch's max(dim) does."""
        return self._extreme("max", np.argmax, dim, keepdim or keepdims, axis)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False):
        return self._extreme("min", np.argmin, dim, keepdim or keepdims, axis)

    def _extreme(self, op, arg, dim, keepdim, axis):
        dim = _dim(dim, axis)
        if dim is None:
            return self.amax() if op == "max" else self.amin()
        if isinstance(dim, TensorAPI):
            raise TypeError(
                f"{op}: the second argument is a dim; for the elementwise {op}imum write tg.where(a > b, a, b)"
            )
        if isinstance(dim, tuple | list):
            raise TypeError(f"{op}: takes one dim, as in PyTorch; for several write x.a{op}(dim=(0, 1))")
        dim = self._axes(op, dim)
        if dim is None:  # a 0-d tensor
            return ValuesIndices(self, self._leaf(np.zeros((), np.int64)))
        if self.shape[dim] == 0:
            raise OpError(f"{op}: dim {dim} of shape {self.shape} is empty: it has no {op}imum")
        indices = np.expand_dims(arg(self.data, axis=dim), dim)
        where = tuple(
            indices if k == dim else np.arange(n).reshape((-1,) + (1,) * (self.ndim - 1 - k))
            for k, n in enumerate(indices.shape)
        )
        values = self[where]
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return ValuesIndices(values, self._leaf(indices.astype(np.int64)))

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None):
        """The index of the largest element (of the flattened tensor if no dim): int64, no gradient."""
        return self._arg("argmax", np.argmax, _dim(dim, axis), keepdim)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None):
        return self._arg("argmin", np.argmin, _dim(dim, axis), keepdim)

    def _arg(self, op, arg, dim, keepdim):
        if self.numel() == 0:
            raise OpError(f"{op}: an empty tensor {self.shape} has no {op[3:]}imum")
        dim = self._axes(op, dim)
        out = arg(self.data, axis=dim, keepdims=keepdim)
        return self._leaf(np.asarray(out, np.int64))

    # -- comparisons: bool tensors without gradient ----------------------------------------------

    def _compare(self, other, fn):
        a, b = self._with(other.data if isinstance(other, TensorAPI) else other, "compare")
        return self._leaf(np.asarray(fn(a.data, b.data)))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # elementwise, as in PyTorch; `is` compares identity
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__  # tensors stay usable as dict keys (by identity), as in PyTorch

    def __invert__(self):
        if self.dtype != bool:
            raise TypeError(f"~: only bool tensors can be inverted, got {self.dtype}")
        return self._leaf(~self.data)

    def __and__(self, other):  # bitwise on integers, logical on bools, as in PyTorch
        return self._bitwise(other, np.bitwise_and, "&")

    def __or__(self, other):
        return self._bitwise(other, np.bitwise_or, "|")

    def _bitwise(self, other, fn, op: str):
        a, b = self._with(other, op)
        if a.dtype.kind == "f":
            raise TypeError(f"{op}: needs bool or integer tensors, got {a.dtype}")
        return self._leaf(fn(a.data, b.data))

    def bool(self):
        return self._leaf(self.data.astype(bool))

    def long(self):
        return self._leaf(self.data.astype(np.int64))

    def int(self):
        return self._leaf(self.data.astype(np.int32))

    # -- in-place operators: PyTorch changes the tensor itself, which every other name for it sees

    def _in_place(self, op: str):
        raise TypeError(
            f"{op}: tensors are not changed in place here (PyTorch would change this tensor for every name "
            f"that refers to it); write x = x {op[0]} y"
        )

    def __iadd__(self, other):
        self._in_place("+=")

    def __isub__(self, other):
        self._in_place("-=")

    def __imul__(self, other):
        self._in_place("*=")

    def __itruediv__(self, other):
        self._in_place("/=")

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): the array, for a tensor without gradient (numpy would drop the graph)."""
        if self.requires_grad:
            raise TypeError(
                "numpy: this tensor requires grad, and numpy would drop its graph; write t.detach().numpy()"
            )
        return self.data if dtype is None else self.data.astype(dtype)

    def cpu(self):
        return self  # numpy arrays live in main memory

    def cuda(self, *args, **kwargs):
        raise TypeError("cuda: tinygrad_rnn computes with numpy on the CPU; leave out .cuda() / .to('cuda')")

    # -- autograd conveniences --------------------------------------------------------------------

    def register_hook(self, hook) -> _Handle:
        """Call hook(grad) when backward computes this tensor's gradient (a tensor without gradient);
        if it returns a tensor or an array, that replaces the gradient, as in PyTorch. Backward runs
        them (tensor.py's _run_hooks). Returns a handle whose remove() takes the hook off again."""
        if not self.requires_grad:
            raise BackwardError("register_hook: the tensor does not require grad, so no gradient will reach it")
        self._hooks = (self._hooks or ()) + (hook,)
        return _Handle(self, hook)

    def retain_grad(self) -> None:
        """Keep this intermediate tensor's gradient in `.grad` after backward (a leaf keeps it anyway)."""
        if self._ctx is not None:
            self._ctx.retained = self._ctx.retained | {self._k}

    def requires_grad_(self, requires_grad: bool = True):
        """Switch gradient tracking of a leaf on or off, in place (returns self)."""
        if self._ctx is not None:
            raise TypeError("requires_grad_: only a leaf (a tensor you made) can change it; use .detach() to cut one")
        self.requires_grad = requires_grad  # (checked there: only floating-point tensors)
        return self


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, create_graph=False, allow_unused=False):
    """The gradients of outputs with respect to inputs, returned, as torch.autograd.grad does: no
    `.grad` is touched. The same chain rule as backward (tensor.py's `_backprop`); `grad_outputs` gives
    dL/d(output) (left out: 1, for one-element outputs); an input the outputs do not depend on is an
    error unless `allow_unused=True` (then its gradient is None)."""
    from .tensor import Tensor, _describe, _no_higher_order

    _no_higher_order(create_graph)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    seeds = [None] * len(outputs) if grad_outputs is None else list(grad_outputs)
    if len(seeds) != len(outputs) or not all(isinstance(t, Tensor) for t in outputs + inputs):
        raise TypeError("grad: outputs and inputs must be Tensors (or lists of them), with one grad_output per output")
    found = _gradients(outputs, seeds, inputs, retain_graph)
    unused = [_describe(t) for t, g in zip(inputs, found, strict=True) if g is None]
    if unused and not allow_unused:
        raise BackwardError(f"grad: the outputs do not depend on input {unused[0]}; pass allow_unused=True")
    return tuple(None if g is None else Tensor._leaf(np.array(g, t.dtype)) for t, g in zip(inputs, found, strict=True))


def _gradients(outputs: list, seeds: list, inputs: list, retain_graph: bool) -> list:
    """dL/d(input) for each input (None if none reached it): a leaf's is what backprop leaves over, an
    intermediate tensor's is caught by a hook as it passes."""
    from .tensor import _backprop, _key, topological_order

    grads: dict = {}
    for out, seed in zip(outputs, seeds, strict=True):
        grads[_key(out)] = out._seed(seed) + grads.get(_key(out), 0)
    caught: dict = {}  # caught after the tensor's own hooks, as torch.autograd.grad returns it
    handles = [t.register_hook(lambda g, t=t: caught.__setitem__(id(t), g.data)) for t in inputs if t._ctx is not None]
    try:
        _backprop(topological_order(*outputs), grads, retain_graph)
    finally:
        for handle in handles:
            handle.remove()
    return [caught.get(id(t)) if t._ctx is not None else _leaf_gradient(t, grads.get(t)) for t in inputs]


def _leaf_gradient(t, g):
    """What backprop left for a leaf, after the leaf's own hooks (as backward would accumulate it)."""
    from .tensor import _dense, _run_hooks

    g = _dense(g)
    return _run_hooks(t._hooks, g) if g is not None and t._hooks else g
