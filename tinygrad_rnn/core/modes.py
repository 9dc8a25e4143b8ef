"""The engine's modes and errors: what tensor.py reads on every op, and what it raises.

Each mode is switched by a context manager and is per thread, as PyTorch's grad mode is: one thread
may train while another evaluates inside `tg.no_grad()`. Grad mode says whether ops record a graph;
scope is the stack of names recorded on every tensor, for drawings and errors; keep_values makes
graph nodes keep the values they made, for drawings; anomaly makes every op check its results for
nan and inf. One more is not the engine's own: `faster`, the table of faster ways to run some ops
(tinygrad_rnn/speed fills it; `tg.plain()` empties it).
"""

from __future__ import annotations

import functools
import threading


class OpError(ValueError):
    """Bad input to an op: names the op, the shapes and dtypes involved, and the scope."""


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op whose forward or backward gives nan/inf."""


class BackwardError(RuntimeError):
    """Misuse of backward: no graph, a released graph, a missing or wrongly shaped `grad`."""


class _Modes(threading.local):
    """The modes of the current thread; a new thread starts with these defaults."""

    grad_enabled = True
    scope: tuple[str, ...] = ()
    keep_values = False
    anomaly = False
    faster: dict = {}  # op class -> a faster way to run it

    def __init__(self) -> None:
        self.undo: list = []  # what each `with` block entered in this thread puts back when it ends


state = _Modes()


class _Setting:
    """Sets one mode for the length of a `with` block, then puts back what was there. What to put
    back is kept per thread, so one object (`ng = tg.no_grad()`) may be entered by several threads
    at once. Used as a decorator, it runs the function inside the block."""

    __slots__ = ("mode", "value")

    def __init__(self, mode: str, value) -> None:
        self.mode, self.value = mode, value

    def __enter__(self) -> None:
        state.undo.append(getattr(state, self.mode))
        setattr(state, self.mode, self.value)

    def __exit__(self, *exc) -> None:
        setattr(state, self.mode, state.undo.pop())

    def __call__(self, fn):
        @functools.wraps(fn)
        def inside(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return inside


def no_grad() -> _Setting:
    """Inside this block ops record no graph (evaluation, optimizer updates)."""
    return _Setting("grad_enabled", False)


def enable_grad() -> _Setting:
    """Turn graph recording back on inside a `no_grad` block."""
    return _Setting("grad_enabled", True)


def is_grad_enabled() -> bool:
    return state.grad_enabled


def is_anomaly_enabled() -> bool:
    return state.anomaly


def keep_values() -> _Setting:
    """Inside this block every graph node also keeps the values it made, for drawings. Off by
    default: it keeps every intermediate array alive."""
    return _Setting("keep_values", True)


def detect_anomaly() -> _Setting:
    """Raise at the first op whose forward or backward produces nan or inf, naming the op, its scope
    and its inputs: how to find the step where a recurrent net blew up. Off by default (it costs a
    check per op)."""
    return _Setting("anomaly", True)


class scope:
    """`with tg.scope("forget_gate"):` every tensor made inside records the scope stack, e.g.
    ('lstm', 'layer=0', 't=3', 'forget_gate'). Drawings group nodes by it; errors name it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = str(name)

    def __enter__(self) -> None:
        state.undo.append(state.scope)
        state.scope += (self.name,)

    def __exit__(self, *exc) -> None:
        state.scope = state.undo.pop()


def current_scope() -> tuple[str, ...]:
    return state.scope


def in_scope(scope_: tuple[str, ...]) -> str:
    """' (in scope lstm/t=3)' for error messages, or '' outside any scope."""
    return f" (in scope {'/'.join(scope_)})" if scope_ else ""
