"""Module and Parameter: named, nested containers of trainable tensors, with PyTorch's interface.

A Module finds its parameters and sub-modules by looking at its own attributes, in the order they
were assigned (a Parameter, a Module, or a list/tuple of Modules); the containers of container.py
hold theirs in order, named "0", "1", ... Names are dotted paths
("encoder.weight", "layers.0.bias"), so a PyTorch state_dict converted to numpy loads unchanged.
Calling a module pushes its scope name, so its ops are grouped in errors and drawings.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..core import Tensor, scope


def tensor_arg(x, who: str, what: str = "input") -> Tensor:
    """x if it is a Tensor, else a TypeError that says what to write (PyTorch refuses arrays too)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: {what} must be a Tensor, got {type(x).__name__}; wrap it: tg.Tensor(x)")
    return x


def probability(who: str, p, what: str = "p") -> float:
    """p as a float, checked to be a number in [0, 1] (PyTorch's rule for dropout probabilities)."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"{who}: {what} must be a number in [0, 1], got {type(p).__name__} {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{who}: {what} is a probability and must be in [0, 1], got {p!r}")
    return float(p)


def no_inplace(who: str, inplace: bool) -> None:
    """PyTorch's inplace=True refused: here no tensor changes in place (the recorded graph needs its values)."""
    if inplace:
        raise TypeError(
            f"{who}: inplace=True is not supported: a tensor here never changes in place (that would corrupt "
            "the recorded graph); leave inplace out and use the result, x = ...(x)"
        )


def sizes(who: str, **values) -> None:
    """Check that every size given (in_features=3, ...) is an integer >= 0."""
    for name, n in values.items():
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{who}: {name} must be an integer >= 0, got {n!r}")


class Parameter(Tensor):
    """A leaf Tensor that a Module trains: requires_grad is always on."""

    __slots__ = ()

    def __init__(self, data, name: str | None = None, dtype=None) -> None:
        super().__init__(data, requires_grad=True, name=name, dtype=dtype)


class Module:
    """Base class of layers and models. Subclasses set attributes in __init__ and write forward()."""

    training: bool = True
    scope_name: str | None = None  # the scope pushed when called; None means the class name in lower case

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with scope(self.scope_name or type(self).__name__.lower()):
            return self.forward(*args, **kwargs)

    # -- the tree of modules and parameters ------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each module directly below this one: the one place children are found.
        nn.Sequential and nn.ModuleList (container.py) override it to name theirs "0", "1", ..."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for k, sub in enumerate(value):
                    yield f"{name}.{k}", sub

    def named_modules(self, prefix: str = "", _seen: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module and every module below it, each once: a module two
        parents share, or one that refers back up the tree, is listed under its first path only."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """This module's own parameters (not its children's), by attribute name."""
        return ((name, v) for name, v in vars(self).items() if isinstance(v, Parameter))

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every parameter here and below, each once under its first name
        (as in PyTorch: an optimizer must not step a shared parameter twice). remove_duplicate=False lists
        a shared one under every name, as state_dict does; recurse=False, this module's own only."""
        if not recurse:
            yield from ((f"{prefix}.{n}" if prefix else n, p) for n, p in self._own_parameters())
            return
        if not remove_duplicate:
            yield from self._every_named_parameter(prefix, ())
            return
        seen: set[int] = set()
        for path, module in self.named_modules(prefix):
            for name, p in module._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def _every_named_parameter(self, prefix: str, above: tuple[int, ...]) -> Iterator[tuple[str, Parameter]]:
        """Every parameter under every path (a module that refers back up the tree is not entered again)."""
        for name, p in self._own_parameters():
            yield (f"{prefix}.{name}" if prefix else name), p
        path = (*above, id(self))
        for name, child in self.named_children():
            if id(child) not in path:
                yield from child._every_named_parameter(f"{prefix}.{name}" if prefix else name, path)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter on or off (freezing a part of a model)."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def cpu(self) -> Module:
        return self  # numpy arrays live in main memory

    def to(self, dtype_or_device) -> Module:
        """model.to(np.float64) converts the parameters; model.to("cpu") is the model itself."""
        if isinstance(dtype_or_device, str) and dtype_or_device.split(":")[0] in ("cpu", "cuda", "mps"):
            if dtype_or_device != "cpu":
                raise TypeError("to: tinygrad_rnn computes with numpy on the CPU; leave out .to('cuda')")
            return self
        return self.to_dtype(dtype_or_device)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (set_to_none=False: set it to zeros), as in PyTorch."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.grad)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to_dtype(self, dtype) -> Module:
        """Cast every parameter's values to dtype (the Parameter objects stay the same)."""
        for p in self.parameters():
            p.data = Tensor(p.data, dtype=dtype).data  # (a dtype a tensor cannot hold is refused here)
            p.grad = None
        return self

    def double(self) -> Module:
        """float64 parameters, e.g. for gradcheck or a 1e-9 comparison with PyTorch."""
        return self.to_dtype(np.float64)

    def float(self) -> Module:
        return self.to_dtype(np.float32)

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # -- state dicts -----------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter's values, by dotted name (a snapshot: training goes on unchanged)."""
        every = self.named_parameters(remove_duplicate=False)  # a tied weight under each of its names, as PyTorch
        return OrderedDict((name, p.data.copy()) for name, p in every)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values into the parameters in place (optimizers keep working on the same arrays).

        Every missing, unexpected or wrongly shaped key is named in one error; nothing is changed
        unless the whole state_dict fits. strict=False ignores missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to arrays (e.g. from state_dict() or tg.load), "
                f"got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters(remove_duplicate=False))
        try:
            values = {k: np.asarray(v.data if isinstance(v, Tensor) else v) for k, v in state_dict.items()}
        except ValueError as err:  # ragged lists
            raise ValueError(f"load_state_dict for {type(self).__name__}: a value is not an array: {err}") from None
        missing = [k for k in own if k not in values]
        unexpected = [k for k in values if k not in own]
        wrong = [
            f"{k}: expected {own[k].shape}, got {values[k].shape}"
            for k in own
            if k in values and values[k].shape != own[k].shape
        ]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if wrong:
            problems.append(f"wrong shapes: {'; '.join(wrong)}")
        bad_dtype = [k for k in own if k in values and values[k].dtype.kind not in "fiub"]
        if bad_dtype:
            problems.append(f"not numeric: {', '.join(bad_dtype)}")
        if problems:
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        for k, p in own.items():
            if k in values:
                p.data[...] = values[k]

    def __repr__(self, _above: tuple[int, ...] = ()) -> str:
        children = list(self.named_children())
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines, path = [f"{type(self).__name__}({extra}"], (*_above, id(self))
        for name, child in children:  # a child that is also its own ancestor is named, not printed again
            text = f"<{type(child).__name__}, above>" if id(child) in path else child.__repr__(path)
            lines.append("  (" + name + "): " + text.replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""
