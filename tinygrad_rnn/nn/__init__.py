"""Neural-network building blocks: modules, layers, recurrent cells, losses, utilities."""

from . import functional, init, utils
from .activation import Dropout, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .init import manual_seed
from .linear import Embedding, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
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
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "clip_grad_norm_",
    "detach_state",
    "utils",
    "functional",
    "init",
    "manual_seed",
]
