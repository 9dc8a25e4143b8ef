"""Neural-network building blocks: modules, layers, recurrent cells, losses, utilities."""

from . import functional, init
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
    "detach_state",
    "functional",
    "init",
    "manual_seed",
]
