"""Ops of your own: `tg.apply(MyFunction, *tensors)` runs a subclass of tg.Function, checking what it returns.

Write forward and backward on numpy arrays, as the built-in ops in core/ops.py do, then
`y = tg.apply(MyOp, x)`, and check the derivative with `tg.gradcheck`. The built-in ops skip these
checks (they would cost time on every node); a Function of your own gets them, so a slip gives an
error instead of a silently wrong gradient.
"""

from __future__ import annotations

import numpy as np

from .core import BackwardError, Function, Tensor
from .core.tensor import _apply

_CHECKED: dict[type, type] = {}


def apply(fn_cls: type[Function], *inputs: Tensor, **kwargs) -> Tensor:
    """Run a Function of your own on tensors, recording it in the graph like any op."""
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"apply: input {k} of {fn_cls.__name__} is a {type(t).__name__}, not a Tensor")
    return _apply(_checked(fn_cls), *inputs, **kwargs)


def _shape_and_dtype(parent) -> tuple[tuple[int, ...], np.dtype]:
    """Of what a node's input is: a leaf tensor, or output k of a node, (node, k)."""
    if type(parent) is tuple:
        node, k = parent
        return node.shapes[k], node.dtype
    return parent.shape, parent.dtype


def _checked(fn_cls: type[Function]) -> type[Function]:
    """fn_cls, checking what its methods return: one array from forward; from backward, one gradient
    (or None) per input, of that input's shape. Its backward gets an array of its own to write into.
    None for an input that wants a gradient means zero, as in PyTorch."""
    checked = _CHECKED.get(fn_cls)
    if checked is not None:
        return checked

    def forward(self, *arrays, **kwargs):
        out = fn_cls.forward(self, *arrays, **kwargs)
        if isinstance(out, (list, tuple)):
            raise TypeError(
                f"{self.name}.forward must return one numpy array (tg.apply runs Functions with one "
                f"output), but it returned a {type(out).__name__} of {len(out)}"
            )
        return out

    def backward(self, dy):
        grads = fn_cls.backward(self, np.array(dy))  # a copy: yours to write into
        n = len(self.parents)
        if not isinstance(grads, tuple) or len(grads) != n:
            got = f"a tuple of {len(grads)}" if isinstance(grads, tuple) else f"a {type(grads).__name__}"
            raise BackwardError(
                f"{self.name}.backward must return a tuple of {n} gradient(s), one per input "
                f"(None for an input that needs none), but it returned {got}"
            )
        checked_grads = []
        for k, (parent, dx, wanted) in enumerate(zip(self.parents, grads, self.needs_input_grad, strict=True)):
            shape, dtype = _shape_and_dtype(parent)
            if dx is None and wanted:
                dx = np.zeros(shape, dtype)
            if dx is not None and np.shape(dx) != shape:
                raise BackwardError(
                    f"{self.name}.backward: the gradient for input {k} has shape {np.shape(dx)}, "
                    f"but that input has shape {shape}"
                )
            checked_grads.append(dx)
        return tuple(checked_grads)

    attrs = {"forward": forward, "backward": backward, "__doc__": fn_cls.__doc__, "__module__": fn_cls.__module__}
    checked = _CHECKED[fn_cls] = type(fn_cls.__name__, (fn_cls,), attrs)
    return checked
