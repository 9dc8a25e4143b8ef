"""PyTorch's functions and factories: `tg.exp(x)` for `x.exp()`, `tg.where(c, a, b)`, `tg.randn(2, 3)`, ...

Each is one line over a Tensor method or numpy, so code written as `torch.f(x)` reads the same here.
Random factories draw from the generator `tg.manual_seed` seeds (nn/init.py), so a seeded run repeats.
"""

from __future__ import annotations

import numpy as np

from .core import Tensor
from .core.tensor import _shape
from .nn.init import default_rng


def _as_tensor(x, who: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(x).__name__}; wrap it: tg.Tensor(x)")
    return x


# -- functions of tensors ----------------------------------------------------------------------------


def exp(x: Tensor) -> Tensor:
    return _as_tensor(x, "exp").exp()


def log(x: Tensor) -> Tensor:
    return _as_tensor(x, "log").log()


def tanh(x: Tensor) -> Tensor:
    return _as_tensor(x, "tanh").tanh()


def sigmoid(x: Tensor) -> Tensor:
    return _as_tensor(x, "sigmoid").sigmoid()


def relu(x: Tensor) -> Tensor:
    return _as_tensor(x, "relu").relu()


def sqrt(x: Tensor) -> Tensor:
    return _as_tensor(x, "sqrt").sqrt()


def abs(x: Tensor) -> Tensor:  # noqa: A001 (PyTorch's name)
    return _as_tensor(x, "abs").abs()


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return _as_tensor(x, "clamp").clamp(min, max)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return _as_tensor(a, "matmul") @ b


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _as_tensor(x, "sum").sum(dim, keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _as_tensor(x, "mean").mean(dim, keepdim)


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """The largest element, or along a dim (values, indices), as torch.max(x, dim)."""
    return _as_tensor(x, "max").max(dim, keepdim)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _as_tensor(x, "min").min(dim, keepdim)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _as_tensor(x, "argmax").argmax(dim, keepdim)


def softmax(x: Tensor, dim: int) -> Tensor:
    return _as_tensor(x, "softmax").softmax(dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    return _as_tensor(x, "log_softmax").log_softmax(dim)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return _as_tensor(x, "transpose").transpose(dim0, dim1)


def permute(x: Tensor, dims) -> Tensor:
    return _as_tensor(x, "permute").permute(dims)


def reshape(x: Tensor, shape) -> Tensor:
    return _as_tensor(x, "reshape").reshape(shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _as_tensor(x, "flatten").flatten(start_dim, end_dim)


def squeeze(x: Tensor, dim=None) -> Tensor:
    return _as_tensor(x, "squeeze").squeeze(dim)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    return _as_tensor(x, "unsqueeze").unsqueeze(dim)


def split(x: Tensor, split_size_or_sections, dim: int = 0):
    return _as_tensor(x, "split").split(split_size_or_sections, dim)


def chunk(x: Tensor, chunks: int, dim: int = 0):
    return _as_tensor(x, "chunk").chunk(chunks, dim)


def unbind(x: Tensor, dim: int = 0):
    return _as_tensor(x, "unbind").unbind(dim)


def where(condition, a, b) -> Tensor:
    """a where condition is True, b elsewhere; a or b may be a number."""
    if isinstance(a, Tensor):
        return a.where(condition, b)
    if isinstance(b, Tensor):
        cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
        if cond.dtype != bool:
            raise TypeError(f"where: condition must be bool, got {cond.dtype} (write x > 0, or cond.bool())")
        return b.where(~cond, a)
    raise TypeError("where: a or b must be a Tensor")


# -- factories ---------------------------------------------------------------------------------------


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """torch.tensor: a new tensor holding a copy of data (Python floats become float32)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def randn(*size, dtype=np.float32, requires_grad: bool = False, rng=None) -> Tensor:
    """Samples of N(0, 1)."""
    data = (rng or default_rng()).standard_normal(_shape("randn", size))
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def rand(*size, dtype=np.float32, requires_grad: bool = False, rng=None) -> Tensor:
    """Samples of U[0, 1)."""
    return Tensor((rng or default_rng()).random(_shape("rand", size)), dtype=dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... below end; integers give int64 and any float gives float32, as in PyTorch."""
    start, end = (0, start) if end is None else (start, end)
    if dtype is None:
        dtype = np.float32 if any(isinstance(v, float) for v in (start, end, step)) else np.int64
    return Tensor(np.arange(start, end, step), dtype=dtype, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(*_shape("eye", (n,) if m is None else (n, m))), dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with one value; its dtype follows the value (float32, int64, bool) as in PyTorch."""
    if dtype is None:
        dtype = bool if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else np.float32
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(np.full(_shape("full", size), fill_value), dtype=dtype, requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    x = _as_tensor(x, "zeros_like")
    return Tensor(np.zeros(x.shape, dtype or x.dtype), requires_grad=requires_grad)


def ones_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    x = _as_tensor(x, "ones_like")
    return Tensor(np.ones(x.shape, dtype or x.dtype), requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    x = _as_tensor(x, "full_like")
    return Tensor(np.full(x.shape, fill_value, dtype or x.dtype), requires_grad=requires_grad)
