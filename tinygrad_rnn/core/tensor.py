"""Tensor: a numpy array that remembers how it was made, and the backward pass over that memory.

Read it in this order: `Tensor` (what a tensor holds) and its `backward` (the chain rule at every
node, in topological order); the ops a tensor offers, its methods, each one call of `_apply` or
built from other ops (subtraction, mean, softmax, chunk, ...); then `_apply` (the one path every op
takes: run it, record a node) and `topological_order` (Kahn's algorithm). `cat`, `stack`, `zeros`
and `ones` close the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from weakref import ref

import numpy as np

from . import dtypes, ops
from .api import TensorAPI
from .modes import AnomalyError, BackwardError, OpError, in_scope, state


class Tensor(TensorAPI):
    """An n-dimensional array with an optional gradient and a link to the op that made it.

    `data` is the numpy array, `grad` its gradient after backward (same shape), `name` an optional
    label and `scope` the scope stack in force when it was made. A tensor made by an op (a
    `_Result`) has `_ctx`, the graph node (an ops.Function) that made it, and `_k`, which of the
    node's outputs it is (0 unless the op has several); a leaf, a tensor you made, has `_ctx` None.
    PyTorch's other names and composite ops (size, view, max(dim), where, ...) come from api.py.
    """

    __slots__ = ("data", "grad", "_requires_grad", "name", "scope", "_cut", "_hooks", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__
    _ctx: ops.Function | None = None  # a leaf: no op made it
    _k = 0

    def __init__(self, data, requires_grad: bool = False, name: str | None = None, dtype=None) -> None:
        self.data = dtypes.array(data.data if isinstance(data, Tensor) else data, dtype)  # a copy, dtype checked
        self.grad, self.requires_grad = None, requires_grad
        self.name, self.scope, self._cut, self._hooks = name, state.scope, None, None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad=True needs a floating-point dtype, got {self.dtype}: only floating-point tensors "
                "can require gradients (use dtype=np.float32, or .float() first)"
            )
        self._requires_grad = bool(value)

    @staticmethod
    def _leaf(data: np.ndarray) -> Tensor:
        """A leaf around an array, without copying or checking it (an op's output with no graph)."""
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t._requires_grad, t.name, t.scope, t._cut = data, None, False, None, state.scope, None
        t._hooks = None
        return t

    # -- backward --------------------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None, *, retain_grads=False):
        """Add d(self)/d(leaf) into `.grad` of every leaf that requires grad (PyTorch's arguments).

        `gradient` is dL/d(self); it may be omitted only for a one-element tensor (then it is 1).
        Saved arrays are released afterwards unless `retain_graph=True`; `retain_grads=True`
        also keeps the gradient of every intermediate tensor (its `.grad`).
        """
        _no_higher_order(create_graph)
        if inputs is not None:
            raise BackwardError("backward: inputs= is not supported; tg.grad(loss, inputs) returns those gradients")
        grads = {_key(self): self._seed(gradient)}  # dL/d(tensor), for every tensor reached so far
        _backprop(topological_order(self), grads, retain_graph, retain_grads)
        for leaf, dx in grads.items():  # every node has taken its own: what is left is the leaves'
            leaf._accumulate(_run_hooks(leaf._hooks, _dense(dx)) if leaf._hooks else dx)

    def _seed(self, grad) -> np.ndarray:
        """dL/d(self) to start backward from: `grad`, checked, or 1 for a one-element tensor."""
        if not self.requires_grad:
            raise BackwardError(
                f"backward: tensor {_describe(self)} does not require grad and has no graph "
                "(was it made under no_grad(), detached, or from inputs without requires_grad=True?)"
            )
        if grad is None and self.data.size != 1:
            raise BackwardError(
                f"backward: grad can be omitted only for a one-element output, this one has shape "
                f"{self.shape}; pass grad= an array of that shape (or call .sum() first)"
            )
        if grad is None:
            return np.ones(self.shape, self.dtype)
        try:
            g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        except (ValueError, TypeError) as err:
            raise BackwardError(f"backward: grad must be numbers of shape {self.shape}: {err}") from None
        if g.shape != self.shape:
            raise BackwardError(f"backward: grad has shape {g.shape} but the tensor has shape {self.shape}")
        return g

    def _accumulate(self, dx) -> None:
        """self.grad += dx, into an array of the leaf's own (dx may be shared, read-only, or lazy)."""
        if not self.requires_grad:
            return
        if self.grad is None:
            self.grad = np.array(_dense(dx), dtype=self.dtype, order="C")  # a copy in row order (dx may be a view)
        else:
            self.grad += _dense(dx)

    # -- what a tensor is ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, this one has shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> Tensor:
        """The same values, cut from the graph: no gradient flows back through it. It remembers
        where it was cut (weakly: the old graph is still freed), for drawings of truncated BPTT."""
        t = Tensor._leaf(self.data)
        t.name = self.name
        t._cut = self._cut if self._ctx is None else (ref(self._ctx), self._k, self.name)
        return t

    def astype(self, dtype) -> Tensor:
        """A leaf copy in another dtype (not differentiable: use it on inputs)."""
        return Tensor(self.data.astype(dtype), name=self.name)

    def to(self, dtype) -> Tensor:
        """The values in another dtype: between floats a differentiable op (`Cast`); self if nothing changes;
        to bool or an integer a leaf, with no gradient (as in PyTorch)."""
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps"):
            return self.cpu() if dtype == "cpu" else self.cuda()
        dtype = dtypes.checked(np.empty(0, dtype), "to").dtype
        if dtype == self.dtype:
            return self
        return _apply(ops.Cast, self, dtype=dtype) if dtype.kind == "f" else Tensor._leaf(self.data.astype(dtype))

    def where(self, condition, other) -> Tensor:
        """self where condition (a bool array or tensor) is True, other elsewhere: PyTorch's x.where(cond, y)."""
        cond = np.array(condition.data if isinstance(condition, Tensor) else condition)  # a copy: backward reads it
        if cond.dtype != bool:
            raise TypeError(f"where: condition must be bool, got {cond.dtype} (write x > 0, or cond.bool())")
        return _apply(ops.Where, *self._with(other, "where"), cond=cond)

    def _float(self) -> Tensor:
        """self, or for integers and bools (which have no gradient) a float32 copy: for exp, log, ..."""
        return self if self.dtype.kind == "f" else Tensor._leaf(self.data.astype(dtypes.FLOAT))

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name else ""
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # -- operators -------------------------------------------------------------------------------

    def _with(self, other, op: str) -> tuple[Tensor, Tensor]:
        """self and the other operand as tensors of one kind (dtypes.py: PyTorch's rules). An array
        operand is copied, so changing it after the forward pass cannot change the gradient."""
        if not isinstance(other, Tensor):
            other = Tensor._leaf(dtypes.operand(other, self.dtype, op))
        if other.data.dtype == self.data.dtype:
            return self, other
        dtype = dtypes.promote(self.dtype, other.dtype)  # a cast below is of an integer: it has no gradient
        a, b = (t if t.dtype.kind == dtype.kind else Tensor._leaf(t.data.astype(dtype)) for t in (self, other))
        return a, b

    def __add__(self, other) -> Tensor:
        return _apply(ops.Add, *self._with(other, "add"))

    def __radd__(self, other) -> Tensor:
        a, b = self._with(other, "add")
        return _apply(ops.Add, b, a)

    def __sub__(self, other) -> Tensor:
        a, b = self._with(other, "sub")
        return a + (-b)

    def __rsub__(self, other) -> Tensor:
        a, b = self._with(other, "sub")
        return b + (-a)

    def __mul__(self, other) -> Tensor:
        return _apply(ops.Mul, *self._with(other, "mul"))

    def __rmul__(self, other) -> Tensor:
        a, b = self._with(other, "mul")
        return _apply(ops.Mul, b, a)

    def __truediv__(self, other) -> Tensor:  # integers divide as float32, as in PyTorch
        a, b = self._with(other, "div")
        return _apply(ops.Div, a._float(), b._float())

    def __rtruediv__(self, other) -> Tensor:
        a, b = self._with(other, "div")
        return _apply(ops.Div, b._float(), a._float())

    def __neg__(self) -> Tensor:
        return _apply(ops.Neg, self)

    def __pow__(self, p) -> Tensor:
        if not isinstance(p, int | float | np.integer | np.floating):
            raise TypeError(
                f"pow: the exponent must be a number, got {type(p).__name__}; "
                "for a tensor exponent write (b * a.log()).exp()"
            )
        return _apply(ops.Pow, self._float(), p=float(p))

    def __rpow__(self, base) -> Tensor:
        """base ** x = exp(x * log(base)) for a positive number base."""
        if not isinstance(base, int | float | np.integer | np.floating) or not base > 0:
            raise OpError(
                f"pow: base ** tensor is computed as exp(tensor * log(base)), which needs a positive number "
                f"base, got {base!r}; for integer exponents of a negative base write sign * abs(base) ** x"
            )
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other) -> Tensor:
        return _apply(ops.MatMul, *self._with(other, "matmul"))

    def __rmatmul__(self, other) -> Tensor:
        a, b = self._with(other, "matmul")
        return _apply(ops.MatMul, b, a)

    def __getitem__(self, idx) -> Tensor:
        """x[idx] as numpy indexes; an index array is copied (backward reads it: it must not change)."""
        out = _apply(ops.GetItem, self, idx=_index(idx))
        if out._ctx is None and self._cut is not None:  # for drawings only (see detach): the recurrent
            out._cut = self._cut  # layers slice their detached initial state, which was cut in the same place
        return out

    def __setitem__(self, idx, value) -> None:
        raise TypeError(
            "Tensor does not support item assignment: in-place changes would corrupt the recorded "
            "graph. Build a new tensor instead (tg.cat, tg.stack, or arithmetic with a mask)."
        )

    def __iter__(self) -> Iterator[Tensor]:
        """The slices along the first axis, made by one op (`unbind`), as in PyTorch."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    # -- elementwise functions and reductions ----------------------------------------------------

    def exp(self) -> Tensor:
        return _apply(ops.Exp, self._float())

    def log(self) -> Tensor:
        return _apply(ops.Log, self._float())

    def tanh(self) -> Tensor:
        return _apply(ops.Tanh, self._float())

    def sigmoid(self) -> Tensor:
        return _apply(ops.Sigmoid, self._float())

    def relu(self) -> Tensor:
        return _apply(ops.Relu, self)

    def sqrt(self) -> Tensor:
        return self**0.5

    # Reductions and shape ops take PyTorch's dim= and keepdim= or numpy's axis= and keepdims=.

    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False) -> Tensor:
        return _apply(ops.Sum, self, axis=self._axes("sum", _dim(dim, axis)), keepdims=keepdim or keepdims)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False) -> Tensor:
        axis = self._axes("mean", _dim(dim, axis))
        count = int(np.prod(self.shape if axis is None else [self.shape[a] for a in np.atleast_1d(axis)]))
        return self.sum(axis, keepdim or keepdims) * (1.0 / count if count else float("nan"))  # empty: nan

    def amax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False) -> Tensor:
        """The largest values along dim (all of them by default); ties share the gradient."""
        return _apply(ops.Max, self, axis=self._axes("amax", _dim(dim, axis)), keepdims=keepdim or keepdims)

    def amin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims: bool = False) -> Tensor:
        dim, keepdim = _dim(dim, axis), keepdim or keepdims
        if self.dtype.kind != "f":  # no gradient; ~x = -1 - x reverses the order and, unlike -x, never wraps
            return Tensor._leaf(~Tensor._leaf(~self.data).amax(dim, keepdim).data)
        return -((-self).amax(dim, keepdim))

    def softmax(self, dim: int | None = None, *, axis=None) -> Tensor:
        """exp(x - max) / sum(exp(x - max)): shifting by the (constant) max keeps exp finite."""
        x, dim = self._float(), self._axes("softmax", _dim(dim, axis, self._last("softmax", dim, axis)))
        e = (x - x.data.max(axis=dim, keepdims=True, initial=-np.inf)).exp()
        return e / e.sum(dim, keepdim=True)

    def log_softmax(self, dim: int | None = None, *, axis=None) -> Tensor:
        """x - max - log(sum(exp(x - max))): finite even for logits of +-1000."""
        x, dim = self._float(), self._axes("log_softmax", _dim(dim, axis, self._last("log_softmax", dim, axis)))
        shifted = x - x.data.max(axis=dim, keepdims=True, initial=-np.inf)
        return shifted - shifted.exp().sum(dim, keepdim=True).log()

    def _last(self, op: str, dim, axis) -> int:
        """softmax's default dim, the last: PyTorch's implicit choice too, up to 2-D; above, say which."""
        if dim is None and axis is None and self.ndim > 2:
            implicit = 0 if self.ndim == 3 else 1  # PyTorch's legacy choice, which it warns about
            raise TypeError(f"{op}: give dim= for a {self.ndim}-D tensor (PyTorch's implicit choice is dim {implicit})")
        return -1

    # -- shapes ----------------------------------------------------------------------------------

    def reshape(self, *shape) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _apply(ops.Reshape, self, shape=tuple(shape))

    def permute(self, *dims) -> Tensor:
        """The axes in a new order: y.shape[i] = x.shape[dims[i]] (numpy's transpose(*axes))."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], tuple | list) else dims
        dims = tuple(self._axis("permute", d) for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise OpError(f"permute: {dims} is not an order of the {self.ndim} axes of {self.shape}")
        return _apply(ops.Transpose, self, axes=dims)

    def transpose(self, *dims) -> Tensor:
        """Swap two axes, as PyTorch's x.transpose(0, 1) does."""
        if len(dims) != 2:
            raise TypeError(
                f"transpose: swaps two axes, as in PyTorch (x.transpose(0, 1)), got {len(dims)} arguments; "
                "for numpy's transpose(*axes) write x.permute(*axes); x.T reverses all axes"
            )
        order = list(range(self.ndim))
        a, b = self._axis("transpose", dims[0]), self._axis("transpose", dims[1])
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> Tensor:
        """All axes reversed (for a matrix, its transpose)."""
        return _apply(ops.Transpose, self, axes=None)

    def unsqueeze(self, dim: int | None = None, *, axis=None) -> Tensor:
        """Insert an axis of length 1 at `dim` (negative counts from the end of the new shape)."""
        dim, n = _dim(dim, axis), self.ndim + 1
        if not _is_int(dim) or not -n <= dim < n:
            raise OpError(f"unsqueeze: dim {dim!r} is out of range for a {n - 1}-D tensor{in_scope(state.scope)}")
        return self.reshape(self.shape[: dim % n] + (1,) + self.shape[dim % n :])

    def squeeze(self, dim=None, *, axis=None) -> Tensor:
        """Drop axes of length 1 (all of them, or the given ones; a given axis longer than 1 stays, as in PyTorch)."""
        dim = self._axes("squeeze", _dim(dim, axis))
        if dim is not None:
            dim = tuple(d for d in np.atleast_1d(dim) if self.shape[d] == 1)
        try:
            return self.reshape(np.squeeze(self.data, dim).shape)
        except ValueError as err:
            raise OpError(f"squeeze: {err} (shape {self.shape}, dim {dim}){in_scope(state.scope)}") from None

    def split(self, split_size_or_sections, dim: int | None = None, *, axis=None) -> tuple[Tensor, ...]:
        """Pieces of `split_size` along `dim` (the last may be smaller), or of the listed sizes:
        one op makes all the pieces (a graph node with several outputs, as PyTorch's split)."""
        dim, size = self._axis("split", _dim(dim, axis, 0)), split_size_or_sections
        n = self.shape[dim]
        if _is_int(size):
            if size <= 0:
                raise OpError(f"split: split_size must be positive, got {size} (tensor of shape {self.shape})")
            sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
        elif isinstance(size, list | tuple) and all(map(_is_int, size)):
            sizes = [int(s) for s in size]
        else:
            raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got {size!r}")
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise OpError(f"split: sizes {sizes} must be at least 0 and add up to the {n} of dim {dim}, {self.shape}")
        return _apply(ops.Split, self, sizes=tuple(sizes), axis=dim)

    def chunk(self, chunks: int, dim: int | None = None, *, axis=None) -> tuple[Tensor, ...]:
        """`chunks` pieces of equal size along `dim` (the last smaller if it does not divide)."""
        if not _is_int(chunks) or chunks <= 0:
            raise OpError(f"chunk: chunks must be a positive integer, got {chunks!r}")
        dim = self._axis("chunk", _dim(dim, axis, 0))
        return self.split(max(-(-self.shape[dim] // chunks), 1), dim)

    def unbind(self, dim: int | None = None, *, axis=None) -> tuple[Tensor, ...]:
        """The slices along `dim`, each with that axis removed: [x[0], x[1], ...], made by one op."""
        dim = self._axis("unbind", _dim(dim, axis, 0))
        return _apply(ops.Unbind, self, axis=dim) if self.shape[dim] else ()  # no slices: no node

    def _axis(self, op: str, axis: int) -> int:
        """axis, checked and counted from 0 (negative counts from the end)."""
        if not _is_int(axis):
            raise OpError(f"{op}: axis must be an integer, got {axis!r}")
        if not -self.ndim <= axis < self.ndim:
            where = in_scope(state.scope)
            raise OpError(f"{op}: axis {axis!r} is out of range for a tensor of shape {self.shape}{where}")
        return int(axis) % self.ndim

    def _axes(self, op: str, axis):
        """The axis (or tuple of axes, or None: all) of a reduction, checked and counted from 0.
        A 0-d tensor takes axis 0 and -1, as in PyTorch (it has one element either way)."""
        if (
            axis is None
            or (self.ndim == 0 and axis in (0, -1, (0,), (-1,)))
            or (isinstance(axis, tuple | list) and not axis)
        ):
            # (an empty list of axes reduces all of them, as in PyTorch)
            return None
        axes = tuple(self._axis(op, a) for a in (axis if isinstance(axis, tuple | list) else (axis,)))
        if len(set(axes)) < len(axes):
            raise OpError(f"{op}: axis {axis!r} names an axis twice")
        return axes if isinstance(axis, tuple | list) else axes[0]


def _backprop(order: list[ops.Function], grads: dict, retain_graph: bool, retain_grads: bool = False) -> None:
    """The chain rule at every node of `order`: `grads` maps what stands for a tensor (`_key`) to dL/d(tensor);
    each node takes its outputs' gradients and adds what it sends back to its inputs'. Afterwards `grads`
    holds the gradients of the leaves the nodes reached."""
    for node in _unreleased(order):  # each node after every node that used its outputs
        dys = _arrived(node, grads, retain_grads)  # dL/dy for each of its outputs: all arrived by now
        dxs = node.backward(*dys)  # the chain rule at one node: dL/dx = dL/dy · dy/dx
        if state.anomaly:
            _check_finite(node, dxs, "backward", node.parents)
        if not retain_graph:
            node.saved = None  # free the saved arrays; the graph's shape stays, for drawings
        for parent, dx in zip(node.parents, dxs):  # noqa: B905 (tg.apply checks Functions of your own)
            if dx is not None:  # contributions from several consumers add up
                total = grads.get(parent)
                grads[parent] = dx if total is None else total + dx


def _no_higher_order(create_graph: bool) -> None:
    if create_graph:
        raise BackwardError("create_graph=True (gradients of gradients) is not supported: backward records no graph")


def _arrived(node: ops.Function, grads: dict, retain_grads: bool) -> list:
    """The gradients that arrived at node's outputs (None where none did), taken out of `grads`,
    after the outputs' hooks have seen them; kept on the node with retain_grads."""
    dys = [_dense(grads.pop((node, k), None)) for k in range(len(node.shapes))]
    if node.hooks:  # register_hook or retain_grad on one of its outputs
        dys = [
            _run_hooks(hooks, dy) if hooks and dy is not None else dy for hooks, dy in zip(node.hooks, dys, strict=True)
        ]
    if retain_grads or node.retained:  # kept after the hooks, as PyTorch's retain_grad
        _retain(node, dys, None if retain_grads else node.retained)
    return dys


def _run_hooks(hooks: tuple, g: np.ndarray) -> np.ndarray:
    """A tensor's hooks, in order, on its gradient g: one that returns a tensor or an array replaces it."""
    for hook in hooks:
        new = hook(Tensor._leaf(g))
        if new is not None:
            new = np.asarray(new.data if isinstance(new, Tensor) else new)
            if new.shape != g.shape:
                raise BackwardError(f"a hook returned a gradient of shape {new.shape}, expected {g.shape}")
            g = new
    return g


class _Result(Tensor):
    """A tensor made by an op. Its name, scope and (after backward(retain_grads=True)) gradient
    live in its node's slot for it (`_ctx.names[_k]`, ...): the node outlives the tensor, so
    drawings still have them after the tensor is freed."""

    __slots__ = ("_ctx", "_k")
    requires_grad = True  # always: an op records a node only when some input requires grad
    _cut = None

    def __init__(self, data: np.ndarray, node: ops.Function, k: int) -> None:
        self.data, self._ctx, self._k = data, node, k

    @property
    def name(self) -> str | None:
        return self._ctx.names[self._k]

    @name.setter
    def name(self, value: str | None) -> None:
        self._ctx.names[self._k] = value

    @property
    def grad(self) -> np.ndarray | None:
        return None if self._ctx.grads is None else self._ctx.grads[self._k]

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        if self._ctx.grads is None:
            self._ctx.grads = [None] * len(self._ctx.shapes)
        self._ctx.grads[self._k] = value

    @property
    def scope(self) -> tuple[str, ...]:
        return self._ctx.scope

    @property
    def _hooks(self) -> tuple | None:
        return None if self._ctx.hooks is None else self._ctx.hooks[self._k]

    @_hooks.setter
    def _hooks(self, value: tuple | None) -> None:
        if self._ctx.hooks is None:
            self._ctx.hooks = [None] * len(self._ctx.shapes)
        self._ctx.hooks[self._k] = value


def _apply(op: type[ops.Function], *inputs: Tensor, **options) -> Tensor | tuple[Tensor, ...]:
    """Run one primitive on tensors: its forward on their arrays, and, if a gradient is wanted,
    a graph node linking its outputs to where its inputs came from. Every op takes this path.

    `state.faster` may hold a faster way to run the op (tinygrad_rnn/speed: the same numbers, sooner).
    """
    faster = state.faster.get(op)
    if faster is not None:
        return faster(*inputs, **options)
    fn = op()
    arrays = [t.data for t in inputs]
    try:
        out = fn.forward(*arrays, **options)
    except (ValueError, IndexError, TypeError) as err:
        raise OpError(fn.explain_error(tuple(arrays), err) + in_scope(state.scope)) from None
    outs = out if type(out) is tuple else (out,)  # an op with several outputs returns a tuple
    if state.anomaly:
        _check_finite(fn, outs, "forward", inputs)
    fn.needs_input_grad = tuple([t.requires_grad for t in inputs])
    if state.grad_enabled and True in fn.needs_input_grad:
        results = _record(fn, inputs, outs)
    else:
        results = [Tensor._leaf(y) for y in outs]  # no graph: plain leaves
    return tuple(results) if type(out) is tuple else results[0]


def _record(fn: ops.Function, inputs: tuple[Tensor, ...], outs: tuple[np.ndarray, ...]) -> list[_Result]:
    """Make fn the graph node of its outputs: it links to where its inputs came from and keeps what
    drawings need; each output is a _Result that points back to it."""
    fn.parents = tuple([_key(t) for t in inputs])  # a leaf itself, or (node, k) of the op that made it
    fn.scope, fn.dtype, fn.shapes = state.scope, outs[0].dtype, tuple([y.shape for y in outs])
    fn.names = [None] * len(outs)
    if state.keep_values:
        fn.values = outs
    return [_Result(y, fn, k) for k, y in enumerate(outs)]


def topological_order(*tensors: Tensor) -> list[ops.Function]:
    """The graph nodes below the given tensors, in the order backward runs them.

    Each node comes after every node that consumed one of its outputs, so when backward reaches
    it, all the gradient it will ever receive has arrived. Kahn's algorithm: count the edges into
    each node, then take nodes whose count has dropped to zero from a stack, starting with the
    tensors' own nodes. Iterative, so 100,000-op chains are fine.
    """
    roots = []
    for t in tensors:
        if t._ctx is not None and t._ctx not in roots:
            roots.append(t._ctx)
    consumers: dict[ops.Function, int] = {}  # node -> edges into it from nodes not yet in the order
    stack = roots.copy()
    while stack:
        for parent in stack.pop().parents:
            if type(parent) is tuple:  # (node, k) made by an op; a leaf has nothing below it
                node = parent[0]
                if node in consumers:
                    consumers[node] += 1
                else:
                    consumers[node] = 1
                    stack.append(node)
    order = []
    ready = [node for node in roots if node not in consumers]  # nothing above them consumes them
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in node.parents:
            if type(parent) is tuple:
                left = consumers[parent[0]] - 1
                consumers[parent[0]] = left
                if left == 0:
                    ready.append(parent[0])
    return order


def _dim(dim, axis, default=None):
    """PyTorch's dim= or numpy's axis=, whichever was given (else the default)."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"give dim= or axis=, not both (got dim={dim!r}, axis={axis!r})")
    return axis


def _is_int(n) -> bool:
    return isinstance(n, int | np.integer) and not isinstance(n, bool)


def _index(idx):
    """An index as numpy takes it, each tensor or array in it an array of our own (a copy); the forms
    PyTorch and numpy read differently are refused."""
    if isinstance(idx, list) and any(isinstance(i, list | Tensor | np.ndarray) for i in idx):
        raise TypeError(  # PyTorch reads it as a tuple of indices (deprecated), numpy as one array of indices
            "getitem: a list of index lists is read two ways (PyTorch: x[tuple(seq)], numpy: x[array(seq)]); "
            "write x[tuple(seq)] or x[np.array(seq)]"
        )
    return tuple(map(_index_part, idx)) if isinstance(idx, tuple) else _index_part(idx)


def _index_part(i):
    if not isinstance(i, Tensor | np.ndarray | list):
        return i
    arr = np.array(i.data if isinstance(i, Tensor) else i)
    if arr.dtype == np.uint8:
        raise TypeError(
            "getitem: a uint8 index is a mask in PyTorch and indices in numpy; write idx.bool() or idx.long()"
        )
    return arr


def _key(t: Tensor):
    """What stands for a tensor in the graph: a leaf itself, or (node, k) for output k of the op that made it."""
    return t if t._ctx is None else (t._ctx, t._k)


def _unreleased(order: list[ops.Function]) -> list[ops.Function]:
    """The nodes, if none was released by an earlier backward (which freed the arrays it saved)."""
    for node in order:
        if node.released:
            raise BackwardError(
                f"backward: trying to go through {node.name} a second time, but its saved arrays were released by "
                "the previous backward. Pass retain_graph=True to the first backward if you need to run it twice."
            )
    return order


class Lazy:
    """A gradient kept in a cheaper form than an array until it is needed (see tinygrad_rnn/speed).

    The engine only ever adds it to another gradient (`+`) and asks for its array (`dense()`).
    """

    __array_ufunc__ = None  # so that ndarray + Lazy calls Lazy.__radd__

    def dense(self) -> np.ndarray:
        raise NotImplementedError


def _dense(g):
    """A gradient as an array (or None): a lazy one is made dense here."""
    return g.dense() if isinstance(g, Lazy) else g


def _retain(node: ops.Function, dys: list, which: frozenset[int] | None = None) -> None:
    """Keep each output's gradient (or those of the outputs `which` names) on the node, its tensor's
    .grad, adding up across backward calls."""
    if node.grads is None:
        node.grads = [None] * len(dys)
    for k, dy in enumerate(dys):
        if dy is not None and (which is None or k in which):
            kept = node.grads[k]
            node.grads[k] = np.array(dy, dtype=node.dtype) if kept is None else kept + dy


def _describe(t) -> str:
    """'name' (shape) of a tensor or of a parent entry ((node, k) for an op's output)."""
    name, shape = (t[0].names[t[1]], t[0].shapes[t[1]]) if type(t) is tuple else (t.name, t.shape)
    return f"'{name}' {shape}" if name else f"{shape}"


def _check_finite(fn: ops.Function, arrays, where: str, inputs) -> None:
    """detect_anomaly(): raise if any of the arrays an op made holds nan or inf. In backward, array k
    is the gradient for input k: the error names that input and where it was made (its scope)."""
    for k, a in enumerate(map(_dense, arrays)):
        if a is not None and a.dtype.kind == "f" and not np.isfinite(a).all():
            names = ", ".join(_describe(t) for t in inputs)
            scope = in_scope(fn.scope or state.scope)
            culprit = ""
            if where == "backward":
                made_in = inputs[k][0].scope if type(inputs[k]) is tuple else inputs[k].scope
                culprit = f", in the gradient for {_describe(inputs[k])}{in_scope(made_in)}"
            raise AnomalyError(f"{fn.name}: {where} produced nan or inf{scope}{culprit}; inputs: {names}")


# -- functions of several tensors -----------------------------------------------------------------


def _tensors(op: str, tensors: Sequence[Tensor]) -> list[Tensor]:
    """The list of tensors cat and stack join, checked, integers among floats made floats (dtypes.py)."""
    tensors = list(tensors)
    if not tensors:
        raise OpError(f"{op}: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__} at position {i}; wrap it: tg.Tensor(x)")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = dtypes.promote(dtype, t.dtype)
    return [t if t.dtype.kind == dtype.kind else Tensor._leaf(t.data.astype(dtype)) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int | None = None, *, axis=None) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = _tensors("cat", tensors)
    return _apply(ops.Cat, *tensors, axis=tensors[0]._axis("cat", _dim(dim, axis, 0)))


def stack(tensors: Sequence[Tensor], dim: int | None = None, *, axis=None) -> Tensor:
    """Join tensors of the same shape along a new axis."""
    tensors = _tensors("stack", tensors)
    if len({t.shape for t in tensors}) > 1:
        shapes = sorted({t.shape for t in tensors})
        raise OpError(f"stack: all tensors need the same shape, got {shapes}{in_scope(state.scope)}")
    return _apply(ops.Stack, *tensors, axis=_dim(dim, axis, 0))


def _shape(op: str, shape: tuple) -> tuple[int, ...]:
    """zeros(2, 3), zeros((2, 3)): the shape, checked."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
    if not all(_is_int(n) and n >= 0 for n in shape):
        raise TypeError(f"{op}: a shape is integers >= 0, got {shape!r}")
    return shape


def zeros(*shape, requires_grad: bool = False, dtype=np.float32, name: str | None = None) -> Tensor:
    return Tensor(np.zeros(_shape("zeros", shape), dtype=dtype), requires_grad=requires_grad, name=name)


def ones(*shape, requires_grad: bool = False, dtype=np.float32, name: str | None = None) -> Tensor:
    return Tensor(np.ones(_shape("ones", shape), dtype=dtype), requires_grad=requires_grad, name=name)
