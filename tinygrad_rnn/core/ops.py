"""The primitive operations: one `Function` per op, forward and backward side by side.

This file owns the maths of the engine, on numpy arrays only (it never imports tensor.py, which
wires Functions into a graph). `forward` gets arrays, saves what backward will need and returns the
output; `backward` gets dy = dL/dy for the output and returns dL/dx = dy · dy/dx for each input (the
chain rule at one node), or None for an input that needs none. The first line of each op's
docstring is its rule, `y = ...;  dx = ...`, written once: drawings and demos/autograd_tour.py show it.
"""

from __future__ import annotations

from itertools import accumulate, pairwise

import numpy as np


def unbroadcast(dx: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `dx` back down to `shape`: the adjoint of broadcasting is summation.

    If forward stretched an input of shape (3, 1) to (2, 3, 4), each input element fed 2 * 4
    outputs, so its gradient is the sum of the gradients of those outputs.
    """
    if dx.shape == shape:
        return dx
    dx = dx.sum(axis=tuple(range(dx.ndim - len(shape))))  # axes broadcasting added in front
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and dx.shape[i] != 1)
    return dx.sum(axis=stretched, keepdims=True) if stretched else dx


class Function:
    """A node of the graph: the op that made a tensor, where its inputs came from, what it saved.

    tensor.py records on it `parents` (per input: the leaf Tensor itself, or (node, k) for output k
    of the node that made it), `needs_input_grad`, the outputs' `scope` and `dtype`, and per output
    its `shapes`, `names`, `grads` (with retain_grads) and `values` (inside tg.keep_values()); and
    what register_hook and retain_grad() ask of an output (`hooks`, `retained`). It
    never holds its output Tensors, nor its inputs' arrays unless backward needs them: a tensor
    nobody holds is freed during the forward pass, and a finished graph by reference counting alone.
    Backward drops the saved arrays (`saved = None`); the rest stays, for drawings.
    """

    parents: tuple = ()
    needs_input_grad: tuple[bool, ...] = ()
    scope: tuple[str, ...] = ()
    shapes: tuple[tuple[int, ...], ...] = ()
    dtype: np.dtype | None = None
    names: list[str | None] | None = None
    grads: list[np.ndarray | None] | None = None
    values: tuple[np.ndarray, ...] | None = None
    hooks: list[tuple | None] | None = None  # per output: register_hook's functions
    retained: frozenset[int] = frozenset()  # the outputs whose gradient retain_grad() keeps
    saved: tuple[np.ndarray, ...] | None = ()  # None once backward has released them

    @property
    def name(self) -> str:
        """The op's name as shown in errors and drawings, e.g. 'matmul'."""
        return type(self).__name__.lower()

    @classmethod
    def rule(cls) -> str:
        """The op's rule, the first line of its docstring when it reads `y = ...;  dx = ...` (a
        faster class from tinygrad_rnn/speed states the rule of the op it runs); '' if none does."""
        for c in cls.__mro__:
            first = (c.__doc__ or "").strip().split("\n")[0]
            if first.startswith(("y = ", "ys = ")):
                return first
        return ""

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        self.saved = arrays

    @property
    def released(self) -> bool:
        return self.saved is None

    def forward(self, *arrays: np.ndarray):
        """The output array (a tuple of arrays for an op with several outputs: split, unbind)."""
        raise NotImplementedError

    def backward(self, *dys: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """dL/d(each input) from one dy per output (None for an output no gradient reached). Never
        write into dy: it may be read-only or shared with another op."""
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
        if "broadcast" not in str(err):
            return super().explain_error(arrays, err)
        return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


# -- elementwise arithmetic ------------------------------------------------------------------------


class Add(_Binary):
    """y = a + b;  da = dy;  db = dy   (each summed back to its input's shape: `unbroadcast`)"""

    def forward(self, a, b):
        self.in_shapes = a.shape, b.shape
        return a + b

    def backward(self, dy):
        a_shape, b_shape = self.in_shapes
        da = unbroadcast(dy, a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dy, b_shape) if self.needs_input_grad[1] else None
        return da, db


class Mul(_Binary):
    """y = a * b;  da = dy * b;  db = dy * a"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, dy):
        a, b = self.saved
        da = unbroadcast(dy * b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(dy * a, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(_Binary):
    """y = a / b;  da = dy / b;  db = -dy * y / b   (-dy * a / b**2, with y = a / b)"""

    def forward(self, a, b):
        y = a / b
        self.in_shapes = a.shape, b.shape  # a itself is not needed: only its shape
        self.save_for_backward(b, y)
        return y

    def backward(self, dy):
        b, y = self.saved
        a_shape, b_shape = self.in_shapes
        da = unbroadcast(dy / b, a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-dy * y / b, b_shape) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x;  dx = -dy"""

    def forward(self, x):
        return -x

    def backward(self, dy):
        return (-dy,)


class Pow(Function):
    """y = x**p;  dx = dy * p * x**(p - 1)   (p a number; for p = 0, dx = 0, also at x = 0)"""

    def forward(self, x, p: float):
        self.p = p
        self.save_for_backward(x)
        return x**p

    def backward(self, dy):
        (x,) = self.saved
        if self.p == 0:
            return (np.zeros_like(dy),)
        return (dy * self.p * x ** (self.p - 1),)

    def describe(self):
        return f"p={self.p:g}"


# -- elementwise functions -------------------------------------------------------------------------


class Exp(Function):
    """y = exp(x);  dx = dy * y"""

    def forward(self, x):
        y = np.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved
        return (dy * y,)


class Log(Function):
    """y = log(x);  dx = dy / x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, dy):
        (x,) = self.saved
        return (dy / x,)


class Tanh(Function):
    """y = tanh(x);  dx = dy * (1 - y**2)"""

    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved
        return (dy * (1 - y**2),)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y)

    For x below about -88 (float32), exp(-x) overflows to inf and 1 / (1 + inf) is exactly 0, the
    right answer: that overflow is expected, so numpy is told not to warn about it.
    """

    def forward(self, x):
        with np.errstate(over="ignore"):
            y = 1 / (1 + np.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved
        return (dy * y * (1 - y),)


class Relu(Function):
    """y = max(x, 0);  dx = dy * (y > 0)"""

    def forward(self, x):
        y = np.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved
        return (dy * (y > 0),)


class Where(Function):
    """y = where(cond, a, b);  da = where(cond, dy, 0);  db = where(cond, 0, dy)   (cond: a bool array)"""

    def forward(self, a, b, cond):
        self.cond, self.in_shapes = cond, (a.shape, b.shape)
        return np.where(cond, a, b)

    def backward(self, dy):
        zero = np.zeros((), dy.dtype)
        da = unbroadcast(np.where(self.cond, dy, zero), self.in_shapes[0]) if self.needs_input_grad[0] else None
        db = unbroadcast(np.where(self.cond, zero, dy), self.in_shapes[1]) if self.needs_input_grad[1] else None
        return da, db


class Cast(Function):
    """y = x.astype(dtype);  dx = dy.astype(x.dtype)"""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, dy):
        return (dy.astype(self.in_dtype),)

    def describe(self):
        return f"{self.in_dtype} to {self.dtype}"


# -- matrix product --------------------------------------------------------------------------------


class MatMul(Function):
    """y = a @ b;  da = dy @ b.T;  db = a.T @ dy

    numpy's rules (vectors, matrices, stacks of matrices whose batch axes broadcast): `.T` swaps the
    last two axes, a vector is a matrix of one row (left) or column (right), broadcast axes are summed.
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, dy):
        a, b = self.saved
        a2 = a[None, :] if a.ndim == 1 else a  # a vector on the left is a row
        b2 = b[:, None] if b.ndim == 1 else b  # ... on the right, a column
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        dy2 = dy.reshape(batch + (a2.shape[-2], b2.shape[-1]))  # the axes a vector dropped, put back
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(dy2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ dy2, b2.shape).reshape(b.shape)
        return da, db

    def explain_error(self, arrays, err):
        a, b = arrays
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: needs at least 1-D inputs, got shapes {a.shape} and {b.shape}"
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            return f"matmul: shapes {a.shape} and {b.shape} do not align ({a.shape[-1]} columns against {inner_b} rows)"
        return f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast together"


# -- reductions ------------------------------------------------------------------------------------


class Sum(Function):
    """y = x.sum(axis);  dx = broadcast(dy, x.shape)   (each element of x gets the dy of its sum)"""

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.in_shape = axis, x.shape
        y = x.sum(axis=axis, keepdims=True)
        self.kept_shape = y.shape
        return y if keepdims else y.squeeze(axis)

    def backward(self, dy):
        dx = np.empty(self.in_shape, dy.dtype)
        dx[...] = dy.reshape(self.kept_shape)
        return (dx,)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


class Max(Function):
    """y = x.max(axis);  dx = dy where x == y, shared between ties, else 0

    Ties share the gradient equally (as torch.amax does): it does not depend on which one numpy picks.
    """

    def forward(self, x, axis=None, keepdims=False):
        if 0 in (x.shape if axis is None else np.take(x.shape, np.atleast_1d(axis))):
            raise ValueError(f"an axis of length 0 has no largest (or smallest) value (axis={axis})")
        self.axis = axis
        y = x.max(axis=axis, keepdims=True)
        self.save_for_backward(x, y)
        return y if keepdims else y.squeeze(axis)

    def backward(self, dy):
        x, y = self.saved
        at_max = x == y
        ties = at_max.sum(axis=self.axis, keepdims=True).astype(dy.dtype)  # (astype keeps float32)
        return (at_max * (dy.reshape(y.shape) / ties),)

    def describe(self):
        return "" if self.axis is None else f"axis={self.axis}"


# -- shape ops: they move numbers around, so backward moves the gradients back ---------------------


class Reshape(Function):
    """y = x.reshape(shape);  dx = dy.reshape(x.shape)"""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, dy):
        return (dy.reshape(self.in_shape),)

    def explain_error(self, arrays, err):
        return f"reshape: cannot reshape {arrays[0].shape} ({arrays[0].size} elements): {err}"


class Transpose(Function):
    """y = x.transpose(axes);  dx = dy.transpose(argsort(axes))"""

    def forward(self, x, axes=None):
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return x.transpose(self.axes)

    def backward(self, dy):
        return (dy.transpose(np.argsort(self.axes)),)

    def describe(self):
        return f"axes={self.axes}"


class GetItem(Function):
    """y = x[idx];  dx = zeros of x's shape, with dy added at idx

    An index of integer arrays may pick an element several times (a repeated token's embedding):
    np.add.at adds every copy's gradient, not just the last one's.
    """

    def forward(self, x, idx):
        self.in_shape, self.idx = x.shape, idx
        return x[idx]

    def backward(self, dy):
        dx = np.zeros(self.in_shape, dy.dtype)
        np.add.at(dx, self.idx, dy)
        return (dx,)

    def describe(self):
        return f"[{format_index(self.idx)}]"

    def explain_error(self, arrays, err):
        return f"getitem: index [{format_index(self.idx)}] is invalid for shape {arrays[0].shape}: {err}"


def format_index(idx) -> str:
    """An index as Python would write it: '..., 0:4', '3, :', '<indices (5,)>'."""

    def one(i) -> str:
        if isinstance(i, slice):
            return ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step)[: 3 if i.step else 2])
        if isinstance(i, (list, np.ndarray)):
            return f"<indices {np.shape(i)}>"
        return "..." if i is Ellipsis else str(i)

    return ", ".join(one(i) for i in (idx if isinstance(idx, tuple) else (idx,)))


class Cat(Function):
    """y = concatenate(x_0, x_1, ..., axis);  dx_k = the slice of dy that x_k filled"""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, dy):
        return tuple(np.split(dy, self.bounds, axis=self.axis))

    def describe(self):
        return f"axis={self.axis}"

    def explain_error(self, arrays, err):
        shapes = ", ".join(str(a.shape) for a in arrays)
        return f"cat: cannot join shapes {shapes} along axis {self.axis}: {err}"


class Stack(Function):
    """y = stack(x_0, x_1, ..., axis);  dx_k = slice k of dy along axis"""

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, dy):
        slices = np.moveaxis(dy, self.axis, 0)
        return tuple(slices[k, ...] for k in range(len(slices)))  # [k, ...]: a 0-d array, not a number

    def describe(self):
        return f"axis={self.axis}"

    def explain_error(self, arrays, err):
        n = arrays[0].ndim + 1  # the result's dimensions
        if isinstance(err, np.exceptions.AxisError):
            return f"stack: axis {self.axis} is out of range for stacking {n - 1}-D tensors (valid: {-n} to {n - 1})"
        return f"stack: {err} (axis {self.axis!r}, {len(arrays)} tensors of shape {arrays[0].shape})"


# -- ops with several outputs: one node, one tensor per output -------------------------------------


class _Pieces(Function):
    """An op whose outputs are pieces of its one input (views: nothing is copied). Backward joins
    the pieces' gradients (`join`), with zeros for a piece no gradient reached. tensor.py passes
    `axis` checked and counted from 0."""

    def backward(self, *dys):
        dys = [np.zeros(shape, self.dtype) if dy is None else dy for dy, shape in zip(dys, self.shapes, strict=True)]
        return (self.join(dys),)

    def explain_error(self, arrays, err):
        return f"{self.name}: {err} (tensor of shape {arrays[0].shape})"


class Split(_Pieces):
    """ys = the pieces of x along axis;  dx = concatenate(dys, axis)

    One node for all the pieces, as PyTorch's chunk: an LSTM step cuts its four gates' inputs out of
    one matmul's result with one split.
    """

    def forward(self, x, sizes, axis):
        self.axis = axis
        self.bounds = tuple(accumulate(sizes, initial=0))  # piece k is bounds[k]:bounds[k + 1]
        lead = (slice(None),) * axis
        return tuple(x[lead + (slice(a, b),)] for a, b in pairwise(self.bounds))

    def join(self, pieces):
        return np.concatenate(pieces, axis=self.axis)

    def describe(self):
        sizes = [b - a for a, b in pairwise(self.bounds)]
        return f"sizes={sizes}, axis={self.axis}"


class Unbind(_Pieces):
    """ys = x[0], x[1], ... along axis;  dx = stack(dys, axis)

    A recurrent layer projects the input of all T steps in one matmul, then hands step t its piece.
    """

    def forward(self, x, axis=0):
        self.axis = axis
        slices = np.moveaxis(x, axis, 0)
        return tuple(slices[k, ...] for k in range(len(slices)))  # views ([k, ...]: 0-d arrays, not numbers)

    def join(self, pieces):
        return np.stack(pieces, axis=self.axis)

    def describe(self):
        return f"axis={self.axis}"
