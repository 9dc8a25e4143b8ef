"""Speed, as lessons beside the engine: faster ways to run some primitives, giving the same numbers.

The core (tinygrad_rnn/core) runs every op the plain way: one recording path, one code path per
op. Each file here is one lesson: a faster way to run some ops, what it does, why the result is
the same, and what it measured (docs/speed.md has the table). The core never imports this
package; before running an op, it looks in the table `state.faster`, which this package fills.

On by default. Two switches run the plain core instead: the environment variable
TINYGRAD_RNN_PLAIN=1 (read when tinygrad_rnn is imported), and `with tg.plain():` (for the
current thread, as the engine's other modes are).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from ..core import modes, ops
from ..core.tensor import _apply
from . import batched_matmul, matmul_layout, recording, weight_grads
from .malloc import (
    keep_freed_memory as keep_freed_memory,
)  # the malloc lesson: a setting of the process, made only when called

# lesson -> {op: the class that runs it}; a lesson may also change how ops are recorded ("recording")
CLASSES: dict[str, dict[type[ops.Function], type[ops.Function]]] = {
    "batched_matmul": {ops.MatMul: batched_matmul.MatMul},
    "matmul_layout": {ops.MatMul: matmul_layout.MatMul},
    "weight_grads": {ops.MatMul: weight_grads.MatMul},
}
LESSONS = ("recording", *CLASSES)
ONE_TENSOR = (ops.Neg, ops.Pow, ops.Exp, ops.Log, ops.Tanh, ops.Sigmoid, ops.Relu, ops.Sum, ops.Max, ops.Reshape,
              ops.Transpose, ops.GetItem)  # fmt: skip
TWO_TENSORS = (ops.Add, ops.Mul, ops.Div, ops.MatMul)


def table(lessons: Iterable[str] = LESSONS) -> dict[type[ops.Function], Callable]:
    """How to run each op that the given lessons change: op class -> a function of its tensors.

    Lessons that replace the same op combine: their classes are stacked (each handles its own
    case and passes the rest on to the next with super()).
    """
    lessons = set(lessons)
    if unknown := lessons - set(LESSONS):
        raise ValueError(f"speed: unknown lessons {sorted(unknown)}; the lessons are {list(LESSONS)}")
    stacks: dict[type[ops.Function], list[type[ops.Function]]] = {}
    for lesson in CLASSES:
        if lesson in lessons:
            for op, cls in CLASSES[lesson].items():
                stacks.setdefault(op, []).append(cls)
    classes = {op: type(op.__name__, tuple(reversed(stack)), {}) for op, stack in stacks.items()}
    runners: dict[type[ops.Function], Callable] = {}
    for op in (*ONE_TENSOR, *TWO_TENSORS, *classes):
        cls = classes.get(op, op)
        if "recording" in lessons and op in ONE_TENSOR:
            runners[op] = recording.one_tensor(cls)
        elif "recording" in lessons and op in TWO_TENSORS:
            runners[op] = recording.two_tensors(cls)
        elif cls is not op:
            runners[op] = _core_path(cls)
    return runners


def _core_path(cls: type[ops.Function]) -> Callable:
    """Run cls through the core's own recording path (cls is in no table, so _apply runs it itself)."""

    def run(*inputs, **options):
        return _apply(cls, *inputs, **options)

    return run


SPEED = table()


def _from_environment() -> dict:
    setting = os.environ.get("TINYGRAD_RNN_PLAIN", "").strip()
    if setting not in ("", "0", "1"):
        raise ValueError(f"TINYGRAD_RNN_PLAIN must be 1 (the plain core) or 0 (the speed lessons), got {setting!r}")
    return {} if setting == "1" else SPEED


modes._Modes.faster = _from_environment()  # the default of every thread


def plain() -> modes._Setting:
    """Inside this block, this thread runs the plain core: no speed lessons."""
    return modes._Setting("faster", {})


def lessons(*names: str) -> modes._Setting:
    """Inside this block, this thread runs only the named lessons (all of them if none are named)."""
    return modes._Setting("faster", table(names) if names else SPEED)


def enabled() -> bool:
    """Whether the current thread runs any speed lesson."""
    return bool(modes.state.faster)
