"""Random initialisation with PyTorch's default ranges, from one seedable generator.

`tg.manual_seed(n)` makes every model built afterwards reproducible; any function here also takes
an explicit `rng` (a numpy Generator) for code that wants its own stream.
"""

from __future__ import annotations

import numpy as np

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
    return (rng or _rng).uniform(-bound, bound, size=shape).astype(np.float32)


def normal(shape: tuple[int, ...], std: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """N(0, std^2) in float32: PyTorch's default for Embedding."""
    return ((rng or _rng).standard_normal(shape) * std).astype(np.float32)
