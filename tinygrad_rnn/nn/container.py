"""Sequential and ModuleList: modules that hold other modules under PyTorch's names.

Their children are named "0", "1", ... (or, for a Sequential made from an OrderedDict, by its keys), so a
model's parameters are `layers.0.weight`, `layers.1.bias`, ... exactly as in PyTorch, and a state_dict of a
torch model built the same way, converted to numpy, loads unchanged. Each overrides `named_children`, the one
place a Module finds its children.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from .module import Module


def _module(who: str, m) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{who}: expected a Module, got {type(m).__name__}")
    return m


def _name(who: str, name) -> str:
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"{who}: a module's name must be a non-empty string without '.', got {name!r}")
    return name


def _position(who: str, idx, n: int) -> int:
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise TypeError(f"{who}: indices must be integers or slices, got {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{who}: index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(Module):
    """Modules called in order, each on the output of the one before: Sequential(a, b)(x) is b(a(x)).

    `nn.Sequential(m0, m1, ...)` names them "0", "1", ...; `nn.Sequential(OrderedDict(name=module, ...))` by the
    keys (also reachable as attributes, `seq.name`). Indexing, slicing (a Sequential), len, iteration and append
    work as in PyTorch.
    """

    def __init__(self, *args: Module) -> None:
        if len(args) == 1 and isinstance(args[0], Mapping):
            items = [(_name("Sequential", k), _module("Sequential", m)) for k, m in args[0].items()]
        else:
            items = [(str(k), _module("Sequential", m)) for k, m in enumerate(args)]
        self._modules: OrderedDict[str, Module] = OrderedDict(items)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_position("Sequential", idx, len(items))][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_position("Sequential", idx, len(self._modules))]
        self._modules[key] = _module("Sequential", module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> Sequential:
        self._modules[str(len(self._modules))] = _module("Sequential", module)
        return self

    def __getattr__(self, name: str):
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"Sequential has no attribute or module {name!r}")


class ModuleList(Module):
    """A list of modules, registered so that parameters(), state_dict(), train() and eval() see them, named
    "0", "1", ...; indexing, slicing (a ModuleList), len, iteration, append, extend, insert and += work as in
    PyTorch. It has no forward: call its modules yourself (`for layer in self.layers: x = layer(x)`).
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        self._modules: list[Module] = []
        if modules is not None:
            self.extend(modules)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for k, module in enumerate(self._modules):
            yield str(k), module

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleList has no forward(); call its modules yourself, e.g. for layer in self.layers: x = layer(x)"
        )

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(self._modules[idx])
        return self._modules[_position("ModuleList", idx, len(self._modules))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self._modules[_position("ModuleList", idx, len(self._modules))] = _module("ModuleList", module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules))

    def append(self, module: Module) -> ModuleList:
        self._modules.append(_module("ModuleList", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, ModuleList | Sequential):
            raise TypeError(f"ModuleList.extend: expected an iterable of Modules, got {type(modules).__name__}")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._modules.insert(index, _module("ModuleList", module))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)
