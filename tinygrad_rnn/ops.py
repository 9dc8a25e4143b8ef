"""The primitive operations: one `Function` per op, forward and backward side by side.

This file owns the maths of the engine (and `quiet_overflow`, the one mode an op reads). It works
on numpy arrays only and never imports `tensor.py`: a Function receives arrays in `forward`, saves
what `backward` will need with `save_for_backward`, and in `backward` turns the gradient of its
output into one gradient per input (`None` for an input that does not need one). `tensor.py` wires
Functions into a graph.

Each docstring states the op and its derivative; `g` is the gradient flowing in from the output
(dL/dy) and `dx` the gradient going out to an input (dL/dx).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import accumulate, pairwise

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` back down to `shape`: the adjoint of broadcasting is summation.

    If forward stretched an input of shape (3, 1) to (2, 3, 4), each input element fed 2 * 4
    outputs, so its gradient is the sum of the gradients of those outputs.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """A node of the graph: the op that made a tensor, where its inputs came from, what it saved.

    tensor.py records, for the tensor this op produced: `parents` (for each input, the Function
    that made it, or the input itself if it is a leaf tensor), `needs_input_grad`, and what a
    drawing needs: `label` (the tensor's name), `scope`, `shape`, `dtype`, and after a backward
    with retain_grads=True its `grad`. A Function never holds its output Tensor, nor the inputs'
    arrays unless its backward needs them (`save_for_backward`): a tensor nobody holds any more
    is freed during the forward pass, as in PyTorch, and a finished graph is freed by reference
    counting alone. `release()` drops the saved arrays after backward; the rest stays, so the
    graph can still be drawn. (A Function with several outputs also records `shapes`, and each
    of its tensors points to an ops.Part, which keeps that tensor's name and grad.)
    """

    parents: tuple  # per input: a Function, a leaf Tensor, or a Part (a piece of a split); set by tensor.py
    is_leaf_node = False  # whether backward leaves it unscheduled: True for a leaf Tensor and for a Part
    needs_input_grad: tuple[bool, ...] = ()  # likewise: which inputs want a gradient
    saved: tuple[np.ndarray, ...] | None = ()  # set by save_for_backward; None once released
    scope: tuple[str, ...] = ()  # the output tensor's scope, shape and dtype (set by tensor.py)
    shape: tuple[int, ...] = ()
    dtype: np.dtype | None = None
    label: str | None = None  # the output tensor's name, if it was given one
    grad: np.ndarray | None = None  # the output tensor's gradient, kept by backward(retain_grads=True)
    value: np.ndarray | None = None  # the output tensor's value, kept inside tg.keep_values()
    shapes: tuple[tuple[int, ...], ...] | None = None  # several outputs (Split, Unbind): each one's shape

    @property
    def name(self) -> str:
        """The op's name as shown in errors and drawings, e.g. 'matmul'."""
        return type(self).__name__.lower()

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        self.saved = arrays

    def release(self) -> None:
        """Free the saved arrays (after backward); parents stay, so the graph can still be drawn."""
        self.saved = None

    @property
    def released(self) -> bool:
        return self.saved is None

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        """The output array. (The built-in Split and Unbind return a list of arrays, one per
        output: tensor.py runs them with `_apply_parts`. `tg.apply` runs Functions of one output.)"""
        raise NotImplementedError

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """dL/d(inputs) from g = dL/d(output). The built-in ops compute new arrays from g and never
        write into it: g may be a read-only view (a large sum's gradient is a broadcast of one
        number) or an array another op also received. (A Function of your own, run through
        tg.apply, is handed a copy it may write into.) A Function with several outputs gets a
        list, one gradient per output (None for an output no gradient reached)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Arguments that are not tensors (axis, exponent, ...), for labels. Empty by default."""
        return ""

    def explain_error(self, arrays: tuple[np.ndarray, ...], err: Exception) -> str:
        """A sentence for an error numpy raised in forward, naming the op and its inputs."""
        inputs = ", ".join(f"{a.shape} {a.dtype}" for a in arrays)
        return f"{self.name}: {err} (inputs: {inputs})"


class _Binary(Function):
    """Elementwise op of two inputs whose shapes broadcast together."""

    def explain_error(self, arrays, err):
        a, b = arrays
        return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


# ---------------------------------------------------------------------------------------------
# Elementwise arithmetic
# ---------------------------------------------------------------------------------------------


class Add(_Binary):
    """y = a + b;  da = g,  db = g  (each summed back to its input's shape)."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, g):
        da = db = None
        if self.needs_input_grad[0]:
            da = g if g.shape == self.a_shape else unbroadcast(g, self.a_shape)
        if self.needs_input_grad[1]:
            db = g if g.shape == self.b_shape else unbroadcast(g, self.b_shape)
        return da, db


class Mul(_Binary):
    """y = a * b;  da = g * b,  db = g * a."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        da = db = None
        if self.needs_input_grad[0]:
            da = g * b
            if da.shape != a.shape:
                da = unbroadcast(da, a.shape)
        if self.needs_input_grad[1]:
            db = g * a
            if db.shape != b.shape:
                db = unbroadcast(db, b.shape)
        return da, db


class Div(_Binary):
    """y = a / b;  da = g / b,  db = -g * a / b**2 = -g * y / b."""

    def forward(self, a, b):
        y = a / b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, g):
        a, b, y = self.saved
        da = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-g * y / b, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x;  dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """y = x ** p for a constant number p;  dx = g * p * x ** (p - 1)."""

    def forward(self, x, p: float):
        self.p = p
        self.save_for_backward(x)
        return x**p

    def backward(self, g):
        (x,) = self.saved
        if self.p == 0:  # y = 1 everywhere: dx = 0, also at x = 0 (where x ** -1 would make 0 * inf = nan)
            return (np.zeros_like(g),)
        return (g * self.p * x ** (self.p - 1),)

    def describe(self):
        return f"p={self.p:g}"


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------


class Exp(Function):
    """y = exp(x);  dx = g * y."""

    def forward(self, x):
        y = np.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (g * y,)


class Log(Function):
    """y = log(x);  dx = g / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, g):
        (x,) = self.saved
        return (g / x,)


class Tanh(Function):
    """y = tanh(x);  dx = g * (1 - y**2)."""

    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        dx = np.multiply(y, y, out=np.empty_like(y))  # then in place: one new array instead of three
        np.subtract(1, dx, out=dx)
        dx *= g
        return (dx,)


# True inside quiet_overflow(). A context variable, as numpy's own error state is: per thread.
_quiet: ContextVar[bool] = ContextVar("quiet_overflow", default=False)


@contextmanager
def quiet_overflow() -> Iterator[None]:
    """Inside this block numpy does not warn about overflow, and Sigmoid does not enter np.errstate
    to silence its own exp: a recurrent layer runs all its time steps inside one.

    Entering and leaving np.errstate costs about 1-2 µs, as much as the exp of a gate's (32, 128)
    array, and an LSTM step has three sigmoids: 0.3-0.5 ms of a 20 ms training step at H=128.
    Other ops inside do not warn about overflow either, as in PyTorch (`tg.detect_anomaly()` still
    stops at the first inf). If you have asked numpy for something else than its default warning
    (np.seterr(over="raise"), say), the block changes nothing and each sigmoid silences itself.
    """
    if np.geterr()["over"] != "warn":
        yield
        return
    token = _quiet.set(True)
    try:
        with np.errstate(over="ignore"):
            yield
    finally:
        _quiet.reset(token)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = g * y * (1 - y).

    For x below about -88 (float32), exp(-x) overflows to inf and 1 / (1 + inf) is exactly 0, the
    right answer: the overflow is expected, so its warning is silenced (by the recurrent layer's
    quiet_overflow block, or here). Every step works in place on one array (sigmoid runs three
    times per LSTM step).
    """

    def forward(self, x):
        y = np.negative(x, out=np.empty(x.shape, x.dtype if x.dtype.kind == "f" else np.float64))
        if _quiet.get():  # a recurrent layer's quiet_overflow block has silenced it already
            np.exp(y, out=y)
        else:
            with np.errstate(over="ignore"):
                np.exp(y, out=y)
        y += 1
        np.divide(1, y, out=y)  # measured quicker than np.reciprocal for float32
        self.save_for_backward(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        dx = np.subtract(1, y, out=np.empty_like(y))  # then in place: one new array instead of three
        dx *= y
        dx *= g
        return (dx,)


class Relu(Function):
    """y = max(x, 0);  dx = g where x > 0, else 0."""

    def forward(self, x):
        y = np.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (g * (y > 0),)


# ---------------------------------------------------------------------------------------------
# Matrix product
# ---------------------------------------------------------------------------------------------


def _rows_by_transposed_weight(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether MatMul computes a @ b as (b.T @ a.T).T, the same product in another layout.

    An RNN step multiplies a few rows by a transposed weight, h @ W.T with W.T a view of W. For
    float32 OpenBLAS runs that up to 1.5-1.9x slower than W @ h.T transposed back into rows; for
    float64, one row, or a narrow result it is no quicker. The limits were measured on this
    project's machine (docs/benchmarks.md, "Matmul layout"); elsewhere they may be less than best,
    never wrong.
    """
    return (
        b.dtype == np.float32
        and a.ndim == 2
        and b.ndim == 2
        and 8 <= a.shape[0] <= 48
        and b.shape[1] >= 256
        and b.flags.f_contiguous
        and not b.flags.c_contiguous
    )


class MatMul(Function):
    """y = a @ b (numpy's rules: 1-D vectors, 2-D matrices, stacks of matrices that broadcast);
    da = g @ b.T,  db = a.T @ g  (transposing the last two axes; broadcast batch axes summed).
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if a.ndim > 2 and b.ndim == 2:  # (T, B, I) @ (I, O) as one (T*B, I) @ (I, O): one big BLAS call
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
        if _rows_by_transposed_weight(a, b):  # h @ W.T, the recurrent step: quicker as (W @ h.T).T
            return np.ascontiguousarray((b.T @ a.T).T)
        return a @ b

    def backward(self, g):
        a, b = self.saved
        if a.ndim == 2 and b.ndim == 2:  # the common case, kept fast and obvious
            da = g @ b.T if self.needs_input_grad[0] else None
            # db = a.T @ g, kept as its two factors: a weight shared by T steps gets T of these,
            # and the engine sums them as one product (see MatmulGrad below)
            db = MatmulGrad(a, g) if self.needs_input_grad[1] else None
            return da, db
        if a.ndim > 2 and b.ndim == 2:  # (T, B, I) @ (I, O): the same as one (T*B, I) @ (I, O)
            a2, g2 = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            da = (g2 @ b.T).reshape(a.shape) if self.needs_input_grad[0] else None
            db = a2.T @ g2 if self.needs_input_grad[1] else None
            return da, db
        # A vector is a matrix with one row (on the left) or one column (on the right).
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))  # put back the axes a vector lost
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return da, db

    def explain_error(self, arrays, err):
        a, b = arrays
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: needs at least 1-D inputs, got shapes {a.shape} and {b.shape}"
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            return f"matmul: shapes {a.shape} and {b.shape} do not align ({a.shape[-1]} columns against {inner_b} rows)"
        return f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast together"


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------


def _normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise np.exceptions.AxisError(ax, ndim)
        out.append(int(ax) % max(ndim, 1))
    return tuple(out)


class Sum(Function):
    """y = x.sum(axis, keepdims);  dx = g broadcast back to x's shape (every x_i feeds the sum once)."""

    axis = None

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape, self.in_size = x.shape, x.size
        if axis is None and not keepdims:  # the loss at the end of every graph: keep it quick
            return np.asarray(np.add.reduce(x, None))
        self.axis = axis
        axes = _normalize_axis(axis, x.ndim)
        self.kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    def backward(self, g):
        if g.ndim == 0 and self.in_size > 4096:
            # A large sum of everything (the loss of a long sequence): a read-only broadcast of the
            # one number, no memory (PyTorch's sum backward is an expand too). Gradients are never
            # written into, and copies of it come out in plain row order.
            return (np.broadcast_to(g, self.in_shape),)
        dx = np.empty(self.in_shape, dtype=g.dtype)
        if g.ndim == 0:
            dx.fill(g)  # a small sum of everything: filling is quickest
        else:
            dx[...] = g.reshape(self.kept_shape)
        return (dx,)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Max(Function):
    """y = x.max(axis, keepdims);  dx = g at the position of the maximum, 0 elsewhere.

    When several elements tie for the maximum, the gradient is shared equally between them
    (as torch.amax does), so the result does not depend on which one numpy happens to pick.
    """

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        axes = _normalize_axis(axis, x.ndim)
        if x.size == 0:
            raise ValueError("max of an empty array has no value")
        y = x.max(axis=axes, keepdims=True)
        self.kept_shape = y.shape
        self.save_for_backward(x, y)
        return y if keepdims else np.asarray(y.reshape([n for i, n in enumerate(x.shape) if i not in axes]))

    def backward(self, g):
        x, y = self.saved
        mask = x == y
        ties = mask.sum(axis=_normalize_axis(self.axis, x.ndim), keepdims=True).astype(g.dtype)  # keeps float32
        return (mask * (g.reshape(self.kept_shape) / ties),)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


# ---------------------------------------------------------------------------------------------
# Shape ops: they move numbers around, so their backward moves gradients back
# ---------------------------------------------------------------------------------------------


class Reshape(Function):
    """y = x.reshape(shape);  dx = g.reshape(x.shape)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.in_shape),)

    def explain_error(self, arrays, err):
        return f"reshape: cannot reshape {arrays[0].shape} ({arrays[0].size} elements): {err}"


class Transpose(Function):
    """y = x.transpose(axes);  dx = g.transpose(inverse of axes)."""

    def forward(self, x, axes=None):
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return x.transpose(self.axes)

    def backward(self, g):
        return (g.transpose(np.argsort(self.axes)),)

    def describe(self):
        return f"axes={self.axes}"


def _has_advanced_index(idx) -> bool:
    """Whether idx holds an integer array (numpy's "advanced" indexing: elements may repeat)."""
    if type(idx) is tuple:
        for i in idx:
            if isinstance(i, (list, np.ndarray)):
                return True
        return False
    return isinstance(idx, (list, np.ndarray))


class IndexedGrad:
    """The gradient of x[idx]: g at idx and zero everywhere else, kept in that sparse form.

    An RNN layer slices one tensor T times (one slice per time step). Materialising T full-size
    arrays of zeros would cost O(T^2); the engine instead adds each g into one buffer at idx.
    """

    __slots__ = ("shape", "dtype", "idx", "advanced", "g")

    def __init__(self, shape, dtype, idx, advanced: bool, g) -> None:
        self.shape, self.dtype, self.idx, self.advanced, self.g = shape, dtype, idx, advanced, g

    def add_to(self, dense: np.ndarray) -> None:
        if self.advanced:
            np.add.at(dense, self.idx, self.g)  # repeated indices each add their gradient
        else:
            dense[self.idx] += self.g  # basic indexing never repeats an element

    def dense(self, dtype=None) -> np.ndarray:
        out = np.zeros(self.shape, dtype=dtype or self.dtype)
        if self.advanced:
            np.add.at(out, self.idx, self.g)
        else:
            out[self.idx] = self.g  # into zeros: writing is adding, without reading first
        return out


class MatmulGrad:
    """The gradient a.T @ g of a matmul's right operand, kept as its two factors until needed.

    A weight shared by T time steps (h @ W_hh^T at every step) receives T such products, each of
    a thin (B, H) and (B, 4H) pair: T small matrix products that BLAS runs far below its speed.
    Kept as factors, they are summed as one product of the stacked factors,
    concat(a_1..a_T).T @ concat(g_1..g_T), which is the same sum (the inner dimension is just
    longer) and about twice as fast. At most CHUNK pairs are held before they are multiplied out,
    which bounds the memory they keep alive.
    """

    __slots__ = ("shape", "dtype", "a", "g", "acc")
    CHUNK = 64

    def __init__(self, a: np.ndarray, g: np.ndarray) -> None:
        self.shape, self.dtype = (a.shape[1], g.shape[1]), np.result_type(a, g)
        self.a, self.g, self.acc = [a], [g], None

    def joined(self, other: MatmulGrad) -> MatmulGrad:
        """A new MatmulGrad holding the sum of both (neither is changed)."""
        out = MatmulGrad.__new__(MatmulGrad)
        out.shape, out.dtype, out.a, out.g = self.shape, self.dtype, list(self.a), list(self.g)
        out.acc = None if self.acc is None else self.acc.copy()
        out.merge(other)
        return out

    def merge(self, other: MatmulGrad) -> None:
        """Add other into this one (in place)."""
        self.a += other.a
        self.g += other.g
        if other.acc is not None:
            self.acc = other.acc.copy() if self.acc is None else np.add(self.acc, other.acc, out=self.acc)
        if len(self.a) >= self.CHUNK:
            self._multiply_out()

    def _multiply_out(self) -> None:
        if not self.a:
            return
        a = self.a[0] if len(self.a) == 1 else np.concatenate(self.a)
        g = self.g[0] if len(self.g) == 1 else np.concatenate(self.g)
        product = a.T * g if a.shape[0] == 1 else a.T @ g  # one row: broadcasting beats BLAS
        self.acc = product if self.acc is None else np.add(self.acc, product, out=self.acc)
        self.a, self.g = [], []

    def dense(self, dtype=None) -> np.ndarray:
        """The sum as an array (owned by the caller from then on: this object is not used again)."""
        self._multiply_out()
        return self.acc if dtype is None or self.acc.dtype == dtype else self.acc.astype(dtype)

    def add_to(self, dense: np.ndarray) -> None:
        dense += self.dense()


class GetItem(Function):
    """y = x[idx];  dx = zeros like x with g added at idx (returned sparse, as an IndexedGrad).

    Integer-array indexing may pick the same element several times (an embedding lookup of a
    repeated token); every copy's gradient is then added, not just the last one's.
    """

    def forward(self, x, idx):
        self.in_shape, self.dtype, self.idx = x.shape, x.dtype, idx
        self.advanced = _has_advanced_index(idx)
        return x[idx]

    def backward(self, g):
        return (IndexedGrad(self.in_shape, self.dtype, self.idx, self.advanced, g),)

    def describe(self):
        return f"[{_format_index(self.idx)}]"

    def explain_error(self, arrays, err):
        return f"getitem: index [{_format_index(self.idx)}] is invalid for shape {arrays[0].shape}: {err}"


def _format_index(idx) -> str:
    items = idx if isinstance(idx, tuple) else (idx,)
    parts = []
    for i in items:
        if isinstance(i, slice):
            start = "" if i.start is None else i.start
            stop = "" if i.stop is None else i.stop
            parts.append(f"{start}:{stop}" + ("" if i.step is None else f":{i.step}"))
        elif i is None:
            parts.append("None")
        elif i is Ellipsis:
            parts.append("...")
        elif isinstance(i, (list, np.ndarray)):
            parts.append(f"<indices {np.shape(i)}>")
        else:
            parts.append(str(i))
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Ops with several outputs: one graph node, one tensor per piece
# ---------------------------------------------------------------------------------------------


class Part:
    """Output k of a graph node that makes several tensors (Split, Unbind): what such a tensor's
    `_ctx` is, as a one-output tensor's is its Function. (PyTorch calls k the output number.)

    Backward never runs a Part: the gradient that reaches it goes into slot k of its node's list,
    and the node runs once, with the whole list, after every consumer of every piece has sent its
    gradient. A Part records what a drawing needs of its tensor (`label`, and `grad` after
    backward(retain_grads=True)); scope, shape and dtype are its node's. It holds its node, never
    the other way round, so a finished graph is still freed by reference counting alone.
    """

    __slots__ = ("node", "k", "label", "grad", "__weakref__")
    # Read by backward, where a Part takes the path of the leaves (which backward does not schedule
    # either) and, needing no .grad of its own, passes its gradient on to its node.
    is_leaf_node = True
    requires_grad = False

    def __init__(self, node: Function, k: int) -> None:
        self.node, self.k, self.label, self.grad = node, k, None, None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def scope(self) -> tuple[str, ...]:
        return self.node.scope

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shapes[self.k]

    @property
    def dtype(self) -> np.dtype:
        return self.node.dtype


class _Pieces(Function):
    """A Function whose outputs are pieces of its one input (Split, Unbind), as views.

    Each says where piece k comes from (`pick`, and `piece` as text for drawings) and how pieces
    are put back together (`join`, the inverse of forward). Backward is that join, of the pieces'
    gradients (`join_grads`): tensor.py hands it one per output, None for a piece no gradient
    reached. tensor.py passes `axis` already checked and counted from 0.
    """

    def backward(self, gs):
        return (self.join_grads(gs),)

    def join_grads(self, gs: list[np.ndarray | None]) -> np.ndarray:
        """The pieces' gradients joined into the input's gradient; a piece with None gets zeros."""
        if any(g is None for g in gs):  # a piece nobody used: its gradient is zeros
            gs = [np.zeros(shape, self.dtype) if g is None else g for g, shape in zip(gs, self.shapes, strict=True)]
        return self.join(gs)

    def explain_error(self, arrays, err):
        return f"{self.name}: {err} (tensor of shape {arrays[0].shape})"


class Split(_Pieces):
    """ys = the pieces of x along `axis`, of the given sizes (views: nothing is copied);
    dx = the pieces' gradients joined back together: concatenate(g_0, g_1, ...).

    One node for all the pieces, as PyTorch's chunk is: an LSTM step splits its gate
    pre-activations into i, f, g, o with one op, and backward joins their four gradients in one
    concatenate instead of adding four slices into a buffer of zeros.
    """

    def forward(self, x, sizes, axis):
        self.axis = axis
        self.bounds = tuple(accumulate(sizes, initial=0))  # piece k is bounds[k]:bounds[k + 1]
        return [self.pick(x, k) for k in range(len(sizes))]

    def pick(self, x: np.ndarray, k: int) -> np.ndarray:
        """Piece k of x (a view)."""
        return x[(slice(None),) * self.axis + (slice(self.bounds[k], self.bounds[k + 1]),)]

    def join(self, pieces: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(pieces, axis=self.axis)

    def piece(self, k: int) -> str:
        """Where output k comes from in the input, as an index ('..., 4:8')."""
        span = f"{self.bounds[k]}:{self.bounds[k + 1]}"
        return ", ".join([":"] * self.axis + [span]) if self.axis < len(self.shape) - 1 else f"..., {span}"

    def describe(self):
        return f"sizes={[b - a for a, b in pairwise(self.bounds)]}, axis={self.axis}"


class Unbind(_Pieces):
    """ys = x[0], x[1], ... along `axis` (views, one axis fewer); dx = stack(g_0, g_1, ...).

    A recurrent layer projects the input of all T steps in one matmul and hands step t its piece:
    one node for the T pieces, and one stack of their gradients in backward.
    """

    def forward(self, x, axis=0):
        self.axis = axis
        return list(np.moveaxis(x, axis, 0))  # iterating gives views

    def pick(self, x: np.ndarray, k: int) -> np.ndarray:
        """Piece k of x (a view)."""
        return np.moveaxis(x, self.axis, 0)[k]

    def join(self, pieces: list[np.ndarray]) -> np.ndarray:
        return np.stack(pieces, axis=self.axis)

    def piece(self, k: int) -> str:
        """Where output k comes from in the input, as an index ('3' or ':, 3')."""
        return ", ".join([":"] * self.axis + [str(k)])

    def describe(self):
        return f"axis={self.axis}"


class Stack(Function):
    """y = stack(xs, axis): the tensors, of one shape, side by side along a new axis;
    dx_k = slice k of g along that axis (a view of g: nothing is copied)."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g):
        parts = np.moveaxis(g, self.axis, 0)
        return tuple([parts[k, ...] for k in range(len(parts))])  # [k, ...]: a 0-d array, never a scalar

    def describe(self):
        return f"axis={self.axis}"

    def explain_error(self, arrays, err):
        n = arrays[0].ndim + 1  # the result's dimensions
        if isinstance(err, np.exceptions.AxisError):
            return f"stack: axis {self.axis} is out of range for stacking {n - 1}-D tensors (valid: {-n} to {n - 1})"
        return f"stack: {err} (axis {self.axis!r}, {len(arrays)} tensors of shape {arrays[0].shape})"


class Cat(Function):
    """y = concatenate(xs, axis);  dx_k = the slice of g that x_k filled."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))

    def describe(self):
        return f"axis={self.axis}"

    def explain_error(self, arrays, err):
        shapes = ", ".join(str(a.shape) for a in arrays)
        return f"cat: cannot join shapes {shapes} along axis {self.axis}: {err}"
