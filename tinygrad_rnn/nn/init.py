"""Random initialisation: PyTorch's default ranges for the layers, and `torch.nn.init`'s in-place initialisers.

Everything here draws from one seedable generator: `tg.manual_seed(n)` makes every model built afterwards
reproducible, and every function also takes an explicit `rng` (a numpy Generator) for code that wants its own
stream. PyTorch's own generator cannot be used (its `generator=` argument is refused with that advice), so the
numbers differ from PyTorch's while their distributions are the same.

`uniform` and `normal` make new float32 arrays for the layers' constructors. The functions ending in `_` are
PyTorch's: each fills a Tensor's `.data` in place (keeping its dtype) and returns the tensor, so code such as
`nn.init.xavier_uniform_(layer.weight)` carries over. Their fans are PyTorch's: for a weight of shape
(out, in, *kernel), fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math

import numpy as np

from ..core import Tensor

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used by layer initialisation; returns it."""
    global _rng
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise TypeError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _rng = np.random.default_rng(seed)
    return _rng


def default_rng() -> np.random.Generator:
    return _rng


def uniform(shape: tuple[int, ...], bound: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """U(-bound, bound) in float32: PyTorch's default for Linear and all recurrent weights."""
    _not_a_tensor(shape, "uniform", "uniform_(t, a, b)")
    return (rng or _rng).uniform(-bound, bound, size=shape).astype(np.float32)


def normal(shape: tuple[int, ...], std: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """N(0, std^2) in float32: PyTorch's default for Embedding."""
    _not_a_tensor(shape, "normal", "normal_(t, mean, std)")
    return ((rng or _rng).standard_normal(shape) * std).astype(np.float32)


def _not_a_tensor(shape: object, name: str, instead: str) -> None:
    # torch.nn.init.uniform(t, a, b) and normal(t, mean, std), without the underscore, are PyTorch's old names
    # for the in-place fills; here those names make a new array from a shape.
    if isinstance(shape, Tensor):
        raise TypeError(
            f"init.{name}(shape, ...) makes a new array from a shape; to fill a tensor in place, as "
            f"torch.nn.init.{name}(t, ...) does, write init.{instead}"
        )


# -- PyTorch's in-place initialisers ----------------------------------------------------------------

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor PyTorch scales a weight's standard deviation by to keep activations' variance through the
    nonlinearity: 1 for linear and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for
    leaky_relu (slope `param`, 0.01 unless told), 3/4 for selu."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"init.calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    names = ", ".join([*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
    raise ValueError(f"init.calculate_gain: unsupported nonlinearity {nonlinearity!r}; it knows {names}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): in * prod(kernel) and out * prod(kernel), as in PyTorch
    (which gives this function the same private name)."""
    return _fans(tensor, "_calculate_fan_in_and_fan_out")


def _fans(tensor: Tensor, name: str) -> tuple[int, int]:
    shape = _tensor(tensor, name).shape
    if len(shape) < 2:
        raise ValueError(
            f"init.{name}: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(shape {shape}), as in PyTorch; initialise a bias with uniform_, normal_, zeros_ or constant_"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str, name: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, name)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, *, rng: np.random.Generator | None = None, generator=None
) -> Tensor:
    """Fill with values drawn from U(a, b)."""
    return _fill(tensor, "uniform_", lambda r, shape: r.uniform(a, b, size=shape), rng, generator)


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, rng: np.random.Generator | None = None, generator=None
) -> Tensor:
    """Fill with values drawn from N(mean, std^2)."""
    return _fill(tensor, "normal_", lambda r, shape: r.normal(mean, std, size=shape), rng, generator)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    _tensor(tensor, "constant_").data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    _tensor(tensor, "zeros_").data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    _tensor(tensor, "ones_").data[...] = 1
    return tensor


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, *, rng: np.random.Generator | None = None, generator=None
) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)), so std = gain *
    sqrt(2 / (fan_in + fan_out)), the variance that suits both the forward and the backward pass."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return _fill(tensor, "xavier_uniform_", lambda r, shape: r.uniform(-a, a, size=shape), rng, generator)


def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, *, rng: np.random.Generator | None = None, generator=None
) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return _fill(tensor, "xavier_normal_", lambda r, shape: r.normal(0.0, std, size=shape), rng, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    rng: np.random.Generator | None = None,
    generator=None,
) -> Tensor:
    """He et al. (2015): U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan), gain =
    calculate_gain(nonlinearity, a) and fan the fan_in or fan_out (`mode`), so std = gain / sqrt(fan)."""
    fan, gain = _fan(tensor, mode, "kaiming_uniform_"), calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan) if fan else 0.0
    return _fill(tensor, "kaiming_uniform_", lambda r, shape: r.uniform(-bound, bound, size=shape), rng, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    rng: np.random.Generator | None = None,
    generator=None,
) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan), as kaiming_uniform_."""
    fan, gain = _fan(tensor, mode, "kaiming_normal_"), calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan) if fan else 0.0
    return _fill(tensor, "kaiming_normal_", lambda r, shape: r.normal(0.0, std, size=shape), rng, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, *, rng: np.random.Generator | None = None, generator=None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times `gain`. The tensor is seen as (rows, the rest);
    Q of the QR decomposition of a Gaussian matrix, its columns' signs fixed by R's diagonal so that Q is
    uniformly distributed, gives orthonormal rows (W @ W.T = I) when rows <= the rest, orthonormal columns
    otherwise."""
    shape = _tensor(tensor, "orthogonal_").shape
    if len(shape) < 2:
        raise ValueError(f"init.orthogonal_: only tensors with 2 or more dimensions are supported, got shape {shape}")

    def draw(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        rows, cols = shape[0], math.prod(shape[1:])
        flat = r.standard_normal((rows, cols))
        if rows < cols:
            flat = flat.T  # QR gives orthonormal columns: make the longer side the rows
        q, upper = np.linalg.qr(flat)
        q *= np.sign(np.diag(upper))
        if rows < cols:
            q = q.T
        return gain * q.reshape(shape)

    return _fill(tensor, "orthogonal_", draw, rng, generator)


def _tensor(tensor: object, name: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"init.{name}: expected a Tensor (such as layer.weight), got {type(tensor).__name__}; "
            "for a numpy array, fill t = tg.Tensor(array) (a copy) and take t.data"
        )
    return tensor


def _fill(tensor: Tensor, name: str, draw, rng: np.random.Generator | None, generator) -> Tensor:
    """Write draw(generator, shape) into tensor.data in place, in its dtype; return the tensor."""
    data = _tensor(tensor, name).data
    if generator is not None:
        raise TypeError(
            f"init.{name}: generator= takes a torch.Generator in PyTorch; here pass a numpy Generator as "
            "rng= (e.g. rng=np.random.default_rng(0)), or seed the default one with tg.manual_seed"
        )
    if data.dtype.kind != "f":
        raise TypeError(f"init.{name}: random values need a floating-point tensor, got {data.dtype}")
    if data.size:  # an empty tensor has nothing to fill (PyTorch warns and does nothing)
        data[...] = draw(_rng if rng is None else rng, data.shape)
    return tensor
