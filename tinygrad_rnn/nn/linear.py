"""Linear and Embedding, the layers around a recurrent core (input lookup, output projection)."""

from __future__ import annotations

import math

import numpy as np

from ..core import OpError, Tensor
from . import init
from .module import Module, Parameter, sizes, tensor_arg


class Linear(Module):
    """y = x @ weight.T + bias;  weight (out_features, in_features), bias (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None) -> None:
        sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(init.uniform((out_features, in_features), bound, rng), name="weight")
        self.bias = Parameter(init.uniform((out_features,), bound, rng), name="bias") if bias else None

    def forward(self, x: Tensor) -> Tensor:
        y = tensor_arg(x, "Linear") @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """y = weight[indices]: one learned vector per token id; weight (num_embeddings, embedding_dim).

    A token repeated in a batch gets the sum of its gradients (getitem accumulates). weight starts
    as N(0, 1), PyTorch's default. padding_idx, as in PyTorch: that row starts at zeros and gets no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *, rng=None) -> None:
        sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} embeddings")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = None if padding_idx is None else padding_idx % num_embeddings
        self.weight = Parameter(init.normal((num_embeddings, embedding_dim), 1.0, rng), name="weight")
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise OpError(f"embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise OpError(
                f"embedding: index {int(idx.max() if idx.max() >= self.num_embeddings else idx.min())} "
                f"is out of range for {self.num_embeddings} embeddings"
            )
        out = self.weight[idx.astype(np.int64)]
        if self.padding_idx is None:
            return out
        pad = (idx == self.padding_idx)[..., None]  # the padding row's values, with no gradient
        return out.where(~pad, Tensor(self.weight.data[idx]))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        )
