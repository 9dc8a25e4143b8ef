"""Neural-network building blocks: modules, layers, recurrent cells, losses, utilities."""

from . import functional, init, utils
from .init import manual_seed
from .linear import Embedding, Linear
from .module import Module, Parameter
from .recurrent import (
    GRU,
    LSTM,
    RNN,
    CoupledLSTM,
    CoupledLSTMCell,
    GRUCell,
    LSTMCell,
    PeepholeLSTM,
    PeepholeLSTMCell,
    RNNCell,
    detach_state,
)
from .utils import clip_grad_norm_

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CoupledLSTM",
    "CoupledLSTMCell",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "Module",
    "Parameter",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNNCell",
    "clip_grad_norm_",
    "detach_state",
    "utils",
    "functional",
    "init",
    "manual_seed",
]
