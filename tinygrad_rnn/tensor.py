"""Tensor: a numpy array that remembers how it was made, and the backward pass over that memory.

This file owns graph recording (`_apply`), the backward engine (`Tensor.backward`), grad mode
(`no_grad`), scopes and names (used by the renderer), anomaly detection, and the composite ops
built from the primitives of `ops.py` (sub, mean, softmax, log_softmax, chunk, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from weakref import WeakKeyDictionary, ref

import numpy as np

from . import ops
from .ops import IndexedGrad, MatmulGrad, Part

_LAZY = (IndexedGrad, MatmulGrad)  # gradients kept in a cheaper form until needed as arrays
_NOT_ARRAY = (*_LAZY, list)  # ... and the gradients of a node with several outputs, one per output

# Engine state. Plain module globals: one graph recorder per process, read on every op.
_grad_enabled = True
_anomaly = False
_keep_values = False
_scope: tuple[str, ...] = ()
# detached tensor -> (weak reference to the graph node it was cut from, the tensor's label, and which
# output of the node it was: None, or k for a piece of a split). Only the renderer reads it, to draw
# truncated BPTT as a visible cut; weak, so a detach never keeps the old graph alive (the label
# still names the cut once the previous chunk's graph is gone).
_detached_from: WeakKeyDictionary = WeakKeyDictionary()

_FLOAT_KINDS = "f"


class OpError(ValueError):
    """Bad input to an op: names the op, the shapes and dtypes involved, and the scope."""


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op whose forward or backward gives nan/inf."""


class BackwardError(RuntimeError):
    """Misuse of backward: no graph, a released graph, a missing or wrongly shaped `grad`."""


def _scope_suffix(scope: tuple[str, ...]) -> str:
    return f" (in scope {'/'.join(scope)})" if scope else ""


class _GradMode:
    """Context manager that sets grad mode and restores it (a class: it runs on every time step)."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode: bool) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, self.mode

    def __exit__(self, *exc) -> None:
        global _grad_enabled
        _grad_enabled = self.prev


def no_grad() -> _GradMode:
    """Inside this block ops record no graph (evaluation, optimizer updates)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn graph recording back on inside a `no_grad` block."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    return _grad_enabled


class keep_values:
    """Inside this block, every op's graph node also keeps the value of the tensor it made, so a
    drawing can label intermediate tensors with their values (`tg.viz.draw` shows shapes only
    for values that were not kept). Off by default: it keeps every intermediate array alive, which
    is the memory a graph of Functions saves.
    """

    __slots__ = ("prev",)

    def __enter__(self) -> None:
        global _keep_values
        self.prev, _keep_values = _keep_values, True

    def __exit__(self, *exc) -> None:
        global _keep_values
        _keep_values = self.prev


class scope:
    """`with tg.scope("forget_gate"):` every tensor made inside records the scope stack,
    e.g. ('lstm', 'layer=0', 't=3', 'forget_gate'). The renderer groups nodes by it; errors
    mention it. (A class rather than a generator: cells enter several scopes per time step.)
    """

    __slots__ = ("name", "prev")

    def __init__(self, name: str) -> None:
        self.name = str(name)

    def __enter__(self) -> None:
        global _scope
        self.prev = _scope
        _scope = _scope + (self.name,)

    def __exit__(self, *exc) -> None:
        global _scope
        _scope = self.prev


def current_scope() -> tuple[str, ...]:
    return _scope


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose forward or backward produces nan or inf.

    The error names the op, its scope and the tensors involved, which is how to find the step
    where a recurrent net blew up. It costs a finiteness check per op, so it is off by default.
    """
    global _anomaly
    prev, _anomaly = _anomaly, True
    try:
        yield
    finally:
        _anomaly = prev


_ONES: dict[np.dtype, np.ndarray] = {}


def _one(dtype: np.dtype) -> np.ndarray:
    """A read-only 1 per dtype: the seed gradient dL/dL of every backward (never written to)."""
    try:
        return _ONES[dtype]
    except KeyError:
        one = _ONES[dtype] = np.ones((), dtype=dtype)
        one.flags.writeable = False
        return one


def _describe(t: Tensor | ops.Function) -> str:
    """'name' (shape) of a tensor, or of the tensor a graph node made."""
    name = t.name if isinstance(t, Tensor) else t.label
    return f"'{name}' {t.shape}" if name else f"{t.shape}"


def _check_finite(fn: ops.Function, arrays, where: str, scope_: tuple[str, ...], inputs) -> None:
    for a in arrays:
        if type(a) is IndexedGrad:
            a = a.g
        elif type(a) is MatmulGrad:  # check its factors: the sum is made later
            a = np.concatenate([x.ravel() for x in a.a + a.g] + ([a.acc.ravel()] if a.acc is not None else []))
        if a is not None and a.dtype.kind == "f" and not np.isfinite(a).all():
            names = ", ".join(_describe(t) for t in inputs)
            raise AnomalyError(f"{fn.name}: {where} produced nan or inf{_scope_suffix(scope_)}; inputs: {names}")


def _as_array(value, dtype: np.dtype) -> np.ndarray:
    """An operand that is not a Tensor, as an array; a Python number takes a float tensor's dtype."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float)) and dtype.kind == "f":
        return np.asarray(value, dtype=dtype)  # x * 2 stays float32, as in PyTorch
    return np.asarray(value)


_new_tensor = object.__new__


class Tensor:
    """An n-dimensional array with an optional gradient and a link to the op that made it.

    `data` is the numpy array, `grad` its gradient after backward (same shape), `_ctx` the
    ops.Function that produced it (None for a leaf; for one piece of a split, an ops.Part: the
    node and which of its outputs), `name` an optional label and `scope` the scope stack in force
    when it was made.

    The graph is made of the Functions, not of the tensors (see _OpTensor below): a tensor made
    by an op may be freed as soon as nobody holds it, and its node remembers what drawings need.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "scope", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__
    is_leaf_node = True  # in a node's parents, a Tensor is always a leaf (ops.Function says False)

    def __init__(self, data, requires_grad: bool = False, name: str | None = None, dtype=None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=dtype, copy=True)
        if dtype is None and arr.dtype.kind == "f" and not isinstance(data, np.ndarray | np.generic):
            arr = arr.astype(np.float32)  # Python floats default to float32, as in PyTorch
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: unsupported dtype {arr.dtype} (use float, int or bool data)")
        if requires_grad and arr.dtype.kind not in _FLOAT_KINDS:
            raise TypeError(
                f"Tensor: requires_grad=True needs a floating-point dtype, got {arr.dtype} "
                f"(use dtype=np.float32, or .astype a float first)"
            )
        self.data = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx: ops.Function | None = None
        self.name = name
        self.scope = _scope

    @classmethod
    def _make(cls, data: np.ndarray) -> Tensor:
        """Fast constructor of a leaf that needs no gradient (an op's output under no_grad, a detach)."""
        t = cls.__new__(cls)
        t.data, t.grad, t.requires_grad, t._ctx, t.name, t.scope = data, None, False, None, None, _scope
        return t

    # -- properties ------------------------------------------------------------------------------

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
        return len(self.data)

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, this one has shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> Tensor:
        """The same values, cut from the graph: no gradient flows back through it."""
        t = Tensor._make(self.data)
        t.name = self.name
        ctx = self._ctx
        if ctx is not None:  # remember the node it was cut from (and, for a piece, which output)
            node, k = (ctx.node, ctx.k) if type(ctx) is Part else (ctx, None)
            _detached_from[t] = (ref(node), ctx.label, k)
        return t

    def astype(self, dtype) -> Tensor:
        """A leaf copy in another dtype (not differentiable: use it on inputs)."""
        return Tensor(self.data.astype(dtype), name=self.name)

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name else ""
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # -- backward --------------------------------------------------------------------------------

    def backward(self, grad=None, retain_graph: bool = False, retain_grads: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `grad` is dL/d(self); it may be omitted only for a one-element tensor (then it is 1).
        The graph is walked once in reverse topological order: a node runs only after every
        node that consumed it has sent its gradient. Saved arrays are released afterwards unless
        `retain_graph=True`; `retain_grads=True` also stores `.grad` on intermediate tensors.
        """
        if not self.requires_grad:
            raise BackwardError(
                f"backward: tensor {_describe(self)} does not require grad and has no graph "
                "(was it made under no_grad(), detached, or from inputs without requires_grad=True?)"
            )
        data = self.data
        if grad is None:
            if data.size != 1:
                raise BackwardError(
                    f"backward: grad can be omitted only for a one-element output, this one has shape "
                    f"{self.shape}; pass grad= an array of that shape (or call .sum() first)"
                )
            g = _one(data.dtype)
            if data.ndim:
                g = g.reshape(data.shape)
        else:
            g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if g.shape != self.shape:
                raise BackwardError(f"backward: grad has shape {g.shape} but the tensor has shape {self.shape}")

        root = self._ctx
        if root is None:  # backward on a leaf: its gradient is grad itself
            if self.grad is None:
                self.grad = _fresh_copy(g, data.dtype)
            else:
                _add_into(self.grad, g)
            return
        piece = None
        if type(root) is Part:  # one piece of a split: start at its node, with g in the piece's slot
            piece, root = root, root.node
            slots = [None] * len(root.shapes)
            slots[piece.k] = g
            g = slots
        # Kahn's algorithm over the graph's nodes (the Functions), as in topological_order() below
        # but fused with the gradient work: a node is ready once every consumer has sent its gradient.
        consumers = _count_consumers(root)
        if piece is not None and retain_grads:  # (after the check that the graph is still there)
            slot = g[piece.k]
            piece.grad = _fresh_copy(slot, data.dtype) if piece.grad is None else _add_into(piece.grad, slot)
        # A node's gradient so far; for a node with several outputs, a list with one slot per output.
        grads: dict[ops.Function, Grad | list] = {root: g}
        summed: set = set()  # nodes (and Parts) whose gradient is a buffer this backward made
        weight_factors: dict[Tensor, MatmulGrad] = {}  # leaves used as a matmul's right operand
        ready = [root]
        while ready:
            fn = ready.pop()
            # No entry only if every consumer's Function returned None for it: no gradient reaches
            # it, but it still runs (with None everywhere) so that its parents' counts go down.
            g = grads.pop(fn, None)
            if type(g) in _NOT_ARRAY:  # one check on the common path: g is usually an array
                if type(g) is list:  # a node with several outputs: one gradient per output
                    g = [x.dense() if type(x) in _LAZY else x for x in g]
                else:
                    g = g.dense()  # gradients kept lazily (a slice's, a shared weight's) become arrays
            parents = fn.parents
            parent_grads = fn.backward(g) if g is not None else (None,) * len(parents)
            if retain_grads and g is not None and type(g) is not list:  # what the tensor's .grad reads
                if fn.grad is None:
                    fn.grad = np.array(g, dtype=fn.dtype)  # a copy of our own (0-d stays an array)
                else:
                    fn.grad += g  # accumulates across backward calls, as a leaf's grad does
            if _anomaly:
                _check_finite(fn, parent_grads, "backward", fn.scope, parents)
            if not retain_graph:
                fn.saved = None  # release the saved arrays; the topology stays for drawing
            # Built-in ops return one gradient per input; apply() checks that for Functions of your own.
            for p, pg in zip(parents, parent_grads):  # noqa: B905 (strict=True costs 0.1 us per node)
                if p.is_leaf_node:  # a leaf tensor: nothing runs after it, so accumulate right away
                    if pg is not None and p.requires_grad:
                        if type(pg) is MatmulGrad:  # a weight's factors: summed at the end, in one product
                            if p in weight_factors:
                                weight_factors[p].merge(pg)
                            else:
                                weight_factors[p] = pg
                        elif p.grad is None:  # the leaf owns its grad: a copy (in g's memory layout)
                            same = type(pg) is np.ndarray and pg.dtype is p.data.dtype
                            p.grad = pg.copy(order="K") if same else _fresh_copy(pg, p.data.dtype)
                        else:
                            _add_into(p.grad, pg)  # a leaf's grad is always an array, so it stays p.grad
                        continue
                    if type(p) is not Part:
                        continue
                    # Not a leaf: a piece of a split. Its gradient goes into its node's slot, and
                    # its node, not the piece, waits for its consumers below.
                    _into_slot(p, pg, grads, summed, retain_grads)
                    p = p.node
                elif pg is not None:
                    prev = grads.get(p)
                    if prev is None:
                        grads[p] = pg  # an op's array, maybe handed to two inputs (a + a): never written to
                    elif p in summed:
                        grads[p] = _add_into(prev, pg)
                    else:  # a second contribution: the sum goes into a new buffer of our own
                        grads[p] = _sum(prev, pg, p.dtype)
                        summed.add(p)
                n = consumers[p] - 1
                consumers[p] = n
                if n == 0:
                    ready.append(p)
        for p, factors in weight_factors.items():
            p.grad = factors.dense(p.data.dtype) if p.grad is None else _add_into(p.grad, factors)

    # -- operators -------------------------------------------------------------------------------

    def _other(self, other) -> Tensor:
        if isinstance(other, Tensor):
            return other
        return Tensor._make(_as_array(other, self.data.dtype))

    def __add__(self, other) -> Tensor:
        return _binary(ops.Add, self, other if isinstance(other, Tensor) else self._other(other))

    def __radd__(self, other) -> Tensor:
        return _binary(ops.Add, self._other(other), self)

    def __sub__(self, other) -> Tensor:
        return _binary(ops.Add, self, _unary(ops.Neg, self._other(other)))

    def __rsub__(self, other) -> Tensor:
        return _binary(ops.Add, self._other(other), _unary(ops.Neg, self))

    def __mul__(self, other) -> Tensor:
        return _binary(ops.Mul, self, other if isinstance(other, Tensor) else self._other(other))

    def __rmul__(self, other) -> Tensor:
        return _binary(ops.Mul, self._other(other), self)

    def __truediv__(self, other) -> Tensor:
        return _binary(ops.Div, self, self._other(other))

    def __rtruediv__(self, other) -> Tensor:
        return _binary(ops.Div, self._other(other), self)

    def __neg__(self) -> Tensor:
        return _unary(ops.Neg, self)

    def __pow__(self, p) -> Tensor:
        if isinstance(p, Tensor) or not np.isscalar(p):
            raise TypeError(
                f"pow: the exponent must be a number, got {type(p).__name__}; "
                "for a tensor exponent write (b * a.log()).exp()"
            )
        return _unary(ops.Pow, self, float(p))

    def __rpow__(self, base) -> Tensor:
        """base ** x = exp(x * log(base)) for a positive number base."""
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other) -> Tensor:
        return _binary(ops.MatMul, self, self._other(other))

    def __rmatmul__(self, other) -> Tensor:
        return _binary(ops.MatMul, self._other(other), self)

    def __getitem__(self, idx) -> Tensor:
        return _unary(ops.GetItem, self, _index_arrays(idx))

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

    # -- elementwise functions -------------------------------------------------------------------

    def exp(self) -> Tensor:
        return _unary(ops.Exp, self)

    def log(self) -> Tensor:
        return _unary(ops.Log, self)

    def tanh(self) -> Tensor:
        return _unary(ops.Tanh, self)

    def sigmoid(self) -> Tensor:
        return _unary(ops.Sigmoid, self)

    def relu(self) -> Tensor:
        return _unary(ops.Relu, self)

    def sqrt(self) -> Tensor:
        return self**0.5

    # -- reductions ------------------------------------------------------------------------------

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        if axis is None and not keepdims:
            return _unary(ops.Sum, self)
        return _unary(ops.Sum, self, axis, keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        axes = range(self.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count if count else float("nan"))  # empty: nan

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        return _unary(ops.Max, self, axis, keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        return -((-self).max(axis=axis, keepdims=keepdims))

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x - max) / sum(exp(x - max)): shifting by the (constant) max keeps exp finite."""
        e = (self - self.data.max(axis=axis, keepdims=True)).exp()
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - max - log(sum(exp(x - max))): finite even for logits of +-1000."""
        shifted = self - self.data.max(axis=axis, keepdims=True)
        return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()

    # -- shapes ----------------------------------------------------------------------------------

    def reshape(self, *shape) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _unary(ops.Reshape, self, tuple(shape))

    def transpose(self, *axes) -> Tensor:
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if axes and sorted(int(a) % max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise OpError(
                f"transpose: axes {tuple(axes)} are not a permutation of the {self.ndim} axes of {self.shape}"
            )
        return _unary(ops.Transpose, self, tuple(int(a) % self.ndim for a in axes) if axes else None)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of length 1 at `axis` (negative counts from the end of the new shape)."""
        n = self.data.ndim + 1
        if not -n <= axis < n:
            raise OpError(f"unsqueeze: axis {axis} is out of range for a {n - 1}-D tensor{_scope_suffix(_scope)}")
        axis %= n
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None) -> Tensor:
        """Drop axes of length 1 (all of them, or the given one, which must have length 1)."""
        try:
            shape = np.squeeze(self.data, axis).shape
        except ValueError as err:
            raise OpError(f"squeeze: {err} (shape {self.shape}, axis {axis}){_scope_suffix(_scope)}") from None
        return self.reshape(shape)

    def split(self, split_size_or_sections, axis: int = 0) -> list[Tensor]:
        """Pieces of `split_size` along `axis` (the last may be smaller), or of the listed sizes.

        One op makes all the pieces (a graph node with several outputs, as PyTorch's split);
        its backward joins the pieces' gradients back together.
        """
        dim = self._axis("split", axis)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections <= 0:
                raise OpError(
                    f"split: split_size must be positive, got {split_size_or_sections} "
                    f"(tensor of shape {self.shape}){_scope_suffix(_scope)}"
                )
            sizes = [min(split_size_or_sections, n - s) for s in range(0, n, split_size_or_sections)] or [0]
        else:
            sizes = [int(size) for size in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise OpError(
                    f"split: sizes {sizes} must be at least 0 and add up to the {n} of axis {axis} of {self.shape}"
                )
        return _apply_parts(ops.Split, self, tuple(sizes), dim)

    def chunk(self, chunks: int, axis: int = 0) -> list[Tensor]:
        """`chunks` pieces of equal size along `axis` (the last smaller if it does not divide)."""
        if chunks <= 0:
            raise OpError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[self._axis("chunk", axis)]
        return self.split(max(-(-n // chunks), 1), axis=axis)

    def unbind(self, axis: int = 0) -> list[Tensor]:
        """The slices along `axis`, each with that axis removed: x.unbind(0) is [x[0], x[1], ...],
        made by one op (one graph node), whose backward stacks the slices' gradients."""
        return _apply_parts(ops.Unbind, self, self._axis("unbind", axis))

    def _axis(self, op: str, axis: int) -> int:
        """axis, checked and counted from 0 (negative counts from the end)."""
        if not isinstance(axis, (int, np.integer)):
            raise OpError(f"{op}: axis must be an integer, got {axis!r}")
        if not -self.ndim <= axis < self.ndim:
            raise OpError(
                f"{op}: axis {axis!r} is out of range for a tensor of shape {self.shape}{_scope_suffix(_scope)}"
            )
        return int(axis) % self.ndim


class _OpTensor(Tensor):
    """A tensor made by an op. Its name, scope and (after backward(retain_grads=True)) gradient
    live on its graph node, the Function in `_ctx` (for a piece of a split, on the ops.Part there):
    the node outlives the tensor, so drawings and backward still have them after the tensor is
    freed, and the graph never holds an array that backward does not need. Reading or setting
    them here reads or sets the node's.
    """

    __slots__ = ()
    requires_grad = True  # always: an op records a node only when some input requires grad

    @property
    def grad(self) -> np.ndarray | None:
        return self._ctx.grad

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self._ctx.grad = value

    @property
    def name(self) -> str | None:
        return self._ctx.label

    @name.setter
    def name(self, value: str | None) -> None:
        self._ctx.label = value

    @property
    def scope(self) -> tuple[str, ...]:
        return self._ctx.scope


def _index_arrays(idx):
    """Tensors inside an index become their integer arrays (indices are never differentiated)."""
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    return idx


def _apply(fn_cls: type[ops.Function], *inputs: Tensor, **kwargs) -> Tensor:
    """Run one primitive: forward on the arrays, and record a graph node if a gradient is needed.

    This is the general path (any number of inputs, options by keyword: cat, stack, and Functions of
    your own through `apply`). Per-op overhead decides the speed of small recurrent models, so the
    built-in ops of one and two tensors take the same steps in `_unary` and `_binary` below,
    without the argument handling. The three end with the same few lines on purpose: moving them
    into a shared function costs a call per op, which measured 3% of the tiny-graph benchmark.
    """
    fn = fn_cls()
    try:
        out = fn.forward(*[t.data for t in inputs], **kwargs)
    except (ValueError, IndexError, TypeError) as err:
        arrays = tuple(t.data for t in inputs)
        raise OpError(fn.explain_error(arrays, err) + _scope_suffix(_scope)) from None
    if _anomaly:
        _check_finite(fn, (out,), "forward", _scope, inputs)
    needs = tuple([t.requires_grad for t in inputs])
    if not _grad_enabled or True not in needs:
        return Tensor._make(out)
    fn.needs_input_grad = needs
    # The node links to the nodes that made its inputs (or to the inputs, if leaves), not to the
    # input tensors: an intermediate tensor nobody holds is freed right away.
    fn.parents = tuple([t if t._ctx is None else t._ctx for t in inputs])
    fn.scope, fn.shape, fn.dtype = _scope, out.shape, out.dtype
    if _keep_values:
        fn.value = out
    t = _new_tensor(_OpTensor)
    t.data, t._ctx = out, fn
    return t


def _unary(fn_cls: type[ops.Function], a: Tensor, *args) -> Tensor:
    """`_apply` for an op of one tensor, whose options (an index, an axis, a shape) are passed by
    position: the same steps without the argument handling. With `_binary`, these are almost all
    the ops of a recurrent step."""
    fn = fn_cls()
    try:
        out = fn.forward(a.data, *args) if args else fn.forward(a.data)
    except (ValueError, IndexError, TypeError) as err:
        raise OpError(fn.explain_error((a.data,), err) + _scope_suffix(_scope)) from None
    if _anomaly:
        _check_finite(fn, (out,), "forward", _scope, (a,))
    if not (_grad_enabled and a.requires_grad):
        return Tensor._make(out)
    fn.needs_input_grad = (True,)
    fn.parents = (a if a._ctx is None else a._ctx,)
    fn.scope, fn.shape, fn.dtype = _scope, out.shape, out.dtype
    if _keep_values:
        fn.value = out
    t = _new_tensor(_OpTensor)
    t.data, t._ctx = out, fn
    return t


def _binary(fn_cls: type[ops.Function], a: Tensor, b: Tensor) -> Tensor:
    """`_unary`'s twin for an op of two tensors and no options (add, mul, div, matmul)."""
    fn = fn_cls()
    try:
        out = fn.forward(a.data, b.data)
    except (ValueError, IndexError, TypeError) as err:
        raise OpError(fn.explain_error((a.data, b.data), err) + _scope_suffix(_scope)) from None
    if _anomaly:
        _check_finite(fn, (out,), "forward", _scope, (a, b))
    if not (_grad_enabled and (a.requires_grad or b.requires_grad)):
        return Tensor._make(out)
    fn.needs_input_grad = (a.requires_grad, b.requires_grad)
    fn.parents = (a if a._ctx is None else a._ctx, b if b._ctx is None else b._ctx)
    fn.scope, fn.shape, fn.dtype = _scope, out.shape, out.dtype
    if _keep_values:
        fn.value = out
    t = _new_tensor(_OpTensor)
    t.data, t._ctx = out, fn
    return t


def _apply_parts(fn_cls: type[ops.Function], a: Tensor, *args) -> list[Tensor]:
    """`_unary` for an op with several outputs (split, unbind): one graph node, and one tensor per
    output, whose `_ctx` is an ops.Part saying which output of the node it is."""
    fn = fn_cls()
    try:
        outs = fn.forward(a.data, *args)
    except (ValueError, IndexError, TypeError) as err:
        raise OpError(fn.explain_error((a.data,), err) + _scope_suffix(_scope)) from None
    if _anomaly:
        _check_finite(fn, outs, "forward", _scope, (a,))
    if not (_grad_enabled and a.requires_grad):
        return [Tensor._make(out) for out in outs]
    fn.needs_input_grad = (True,)
    fn.parents = (a if a._ctx is None else a._ctx,)
    fn.scope, fn.shape, fn.dtype = _scope, a.data.shape, a.data.dtype  # the pieces hold x's numbers
    fn.shapes = tuple([out.shape for out in outs])
    if _keep_values:
        fn.value = a.data
    tensors = []
    for k, out in enumerate(outs):
        t = _new_tensor(_OpTensor)
        t.data, t._ctx = out, Part(fn, k)
        tensors.append(t)
    return tensors


Grad = np.ndarray | IndexedGrad | MatmulGrad  # a gradient, maybe kept lazily (see ops.py)


def _fresh_copy(g: Grad, dtype: np.dtype) -> np.ndarray:
    """A new dense array holding g, which its receiver may then add into in place.

    np.array, not astype: numpy arithmetic on 0-d arrays returns scalars, which cannot be added into.
    """
    if type(g) is np.ndarray and g.dtype == dtype:
        return g.copy(order="K")  # keep g's memory layout: adding a transposed g into a C-order buffer is slow
    if type(g) in _LAZY:
        return g.dense(dtype)  # a new array either way
    return np.array(g, dtype=dtype)


def _add_into(buf: np.ndarray | MatmulGrad, g: Grad) -> np.ndarray | MatmulGrad:
    """buf += g in place, for a buffer this backward owns; returns the buffer.

    g may be lazy (a slice's sparse gradient, a shared weight's factors). A buffer of factors
    (MatmulGrad) takes more factors in place; anything else turns it into an array first.
    """
    if type(buf) is MatmulGrad:
        if type(g) is MatmulGrad:
            buf.merge(g)
            return buf
        buf = buf.dense()
    if type(g) in _LAZY:
        g.add_to(buf)
    else:
        buf += g
    return buf


def _sum(a: Grad, b: Grad, dtype: np.dtype) -> np.ndarray | MatmulGrad:
    """a + b in a new buffer (one pass when both are dense), which its receiver may add into later."""
    if type(a) is MatmulGrad and type(b) is MatmulGrad:
        return a.joined(b)  # still factors: multiplied out once, when the node runs
    if type(a) in _LAZY:
        a, b = b, a
    if type(a) in _LAZY:  # both lazy
        out = a.dense(dtype)
    elif type(b) in _LAZY:
        out = _fresh_copy(a, dtype)
    else:
        return np.add(a, b, out=np.empty(np.shape(a), dtype))  # out=: a 0-d sum stays an array
    b.add_to(out)
    return out


def _into_slot(p: Part, pg: Grad | None, grads: dict, summed: set, retain_grads: bool) -> None:
    """Add pg, the gradient of one piece of a split, into its node's list of gradients."""
    if pg is None:
        return
    if retain_grads and type(pg) in _LAZY:
        pg = pg.dense()  # the piece keeps a copy of its gradient below, the slot this array
    node = p.node
    slots = grads.get(node)
    if slots is None:
        slots = grads[node] = [None] * len(node.shapes)
    prev = slots[p.k]
    if prev is None:
        slots[p.k] = pg
    elif p in summed:
        slots[p.k] = _add_into(prev, pg)
    else:
        slots[p.k] = _sum(prev, pg, node.dtype)
        summed.add(p)
    if retain_grads:  # what the piece's .grad reads (see _OpTensor): an array of its own
        p.grad = _fresh_copy(pg, node.dtype) if p.grad is None else _add_into(p.grad, pg)


def _count_consumers(root: ops.Function) -> dict[ops.Function, int]:
    """For every node below `root`: how many graph edges consume it (leaves are not counted).

    Backward runs a node once this count has dropped to zero, i.e. after every consumer has sent
    its gradient: Kahn's topological order, with an explicit stack instead of recursion. An edge
    into a piece of a split (a Part) counts for the split's node.
    """
    consumers: dict[ops.Function, int] = {}
    stack = [root]
    while stack:
        fn = stack.pop()
        if fn.saved is None:
            raise BackwardError(
                f"backward: trying to go through {fn.name} a second time, but its saved arrays "
                "were released by the previous backward. Pass retain_graph=True to the first "
                "backward if you need to run it twice."
            )
        for p in fn.parents:
            if p.is_leaf_node:  # leaves are not scheduled: they only accumulate
                if type(p) is not Part:
                    continue
                p = p.node  # a piece of a split: its node is counted once per edge into any piece
            if p in consumers:
                consumers[p] += 1
            else:
                consumers[p] = 1
                stack.append(p)
    return consumers


def topological_order(root: Tensor) -> list[ops.Function]:
    """The graph nodes (Functions) below `root`, in the order backward visits them.

    Each node comes after every node that consumed its output, so when backward reaches it, all
    the gradient it will ever receive has arrived (Kahn's algorithm: a node is ready once its
    count of unvisited consumers drops to zero). Iterative, so 100,000-op chains are fine.
    A node stands for the tensor its op made: `.label`, `.scope`, `.shape`, `.grad`, `.parents`
    (a node with several outputs, a split, stands for its input's numbers: the pieces' names and
    grads are on the ops.Part each piece points to, which is what its consumers list as a parent).
    """
    if root._ctx is None:
        return []
    start = root._ctx.node if type(root._ctx) is Part else root._ctx
    consumers = _count_consumers(start)
    order: list[ops.Function] = []
    ready = [start]
    while ready:
        fn = ready.pop()
        order.append(fn)
        for p in fn.parents:
            if type(p) is Part:
                p = p.node
            if not p.is_leaf_node:
                n = consumers[p] - 1
                consumers[p] = n
                if n == 0:
                    ready.append(p)
    return order


def cut_of(t: Tensor) -> tuple[ops.Function | None, str | None, int | None] | None:
    """If `t` came from `.detach()` of a tensor made by an op: (that tensor's graph node, or None
    once it has been freed, as in the usual truncated-BPTT loop; that tensor's name; which output
    of the node it was, for a piece of a split, else None). Else None."""
    cut = _detached_from.get(t)
    return None if cut is None else (cut[0](), cut[1], cut[2])


def carry_cut(source: Tensor, view: Tensor) -> Tensor:
    """Mark `view`, a slice of `source` taken without a graph, as detached too if `source` was.

    A layer slices its initial state per layer (hx[k]); when hx came from `.detach()`, the slice
    should still be drawn as the cut it is.
    """
    cut = _detached_from.get(source)
    if cut is not None:
        _detached_from[view] = cut
    return view


def apply(fn_cls: type[ops.Function], *inputs: Tensor, **kwargs) -> Tensor:
    """Run a Function of your own (a subclass of ops.Function) on tensors, recording it in the graph.

    This is how to add an op: write forward and backward on numpy arrays, then
    `y = tg.apply(MyOp, x)`; check it with `tg.gradcheck`.
    """
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"apply: input {k} of {fn_cls.__name__} is a {type(t).__name__}, not a Tensor")
    return _apply(_checked(fn_cls), *inputs, **kwargs)


_CHECKED: dict[type, type] = {}


def _checked(fn_cls: type[ops.Function]) -> type[ops.Function]:
    """fn_cls, with a backward that checks what it returns: one gradient (or None) per input, of
    that input's shape. The built-in ops skip this check (it would cost time on every node);
    a Function of your own gets it, so a slip gives an error instead of a silently wrong gradient.
    It also gets a g it may write into: the built-in ops never do, so they can share read-only ones.
    """
    checked = _CHECKED.get(fn_cls)
    if checked is None:

        def backward(self, g):
            if not g.flags.writeable:  # a large sum's gradient is a read-only view; yours may write into it
                g = g.copy()
            grads = fn_cls.backward(self, g)
            n = len(self.parents)
            if not isinstance(grads, tuple) or len(grads) != n:
                got = f"a tuple of {len(grads)}" if isinstance(grads, tuple) else f"a {type(grads).__name__}"
                raise BackwardError(
                    f"{self.name}.backward must return a tuple of {n} gradient(s), one per input "
                    f"(None for an input that needs none), but it returned {got}"
                )
            for k, (p, pg) in enumerate(zip(self.parents, grads, strict=True)):
                shape = pg.shape if type(pg) is IndexedGrad else np.shape(pg)
                if pg is not None and shape != p.shape:
                    raise BackwardError(
                        f"{self.name}.backward: the gradient for input {k} has shape {shape}, "
                        f"but that input has shape {p.shape}"
                    )
            return grads

        def forward(self, *arrays, **kwargs):
            out = fn_cls.forward(self, *arrays, **kwargs)
            if isinstance(out, (list, tuple)):
                raise TypeError(
                    f"{self.name}.forward must return one numpy array (tg.apply runs Functions with one "
                    f"output), but it returned a {type(out).__name__} of {len(out)}"
                )
            return out

        attrs = {"forward": forward, "backward": backward, "__doc__": fn_cls.__doc__, "__module__": fn_cls.__module__}
        checked = _CHECKED[fn_cls] = type(fn_cls.__name__, (fn_cls,), attrs)
    return checked


# -- functions on several tensors -------------------------------------------------------------------


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise OpError("cat: needs at least one tensor")
    return _apply(ops.Cat, *tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of the same shape along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise OpError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise OpError(f"stack: all tensors need the same shape, got {sorted(shapes)}{_scope_suffix(_scope)}")
    return _apply(ops.Stack, *tensors, axis=axis)


def zeros(*shape, requires_grad: bool = False, dtype=np.float32, name: str | None = None) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad, name=name)


def ones(*shape, requires_grad: bool = False, dtype=np.float32, name: str | None = None) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad, name=name)
