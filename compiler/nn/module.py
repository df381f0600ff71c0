"""Module, Sequential, ModuleList, Identity: torch.nn's containers over numpy parameters."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator, NamedTuple

import numpy as np

from ..graph import Tensor, current_tracer


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of layers and models, as torch.nn.Module: parameters, buffers, submodules."""

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # --- attribute plumbing ----------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_modules" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before {type(self).__name__}.__init__() "
                                 "calls super().__init__()")
        if isinstance(value, Module):
            for table in (self.__dict__, self._parameters, self._buffers):
                table.pop(name, None)
            self._modules[name] = value
        elif name in self._parameters:
            self._parameters[name] = None if value is None else _as_float32(value)
        elif name in self._buffers:
            self._buffers[name] = None if value is None else np.asarray(value)
        else:
            self._modules.pop(name, None)
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, value) -> None:
        self.__dict__.pop(name, None)
        self._parameters[name] = None if value is None else _as_float32(value)

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        self.__dict__.pop(name, None)
        self._buffers[name] = None if value is None else np.asarray(value)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """As torch: any non-empty string without '.' (state_dict keys are dotted paths)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    # --- traversal ----------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_modules(self, memo=None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(qualified name, module) for this module and every descendant; a module reachable
        by several paths is listed once unless remove_duplicate=False (as torch)."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                       remove_duplicate)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def _named_members(self, table: str, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        seen = set()
        for mod_name, m in self.named_modules(prefix=prefix):
            for name, value in getattr(m, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        return self._named_members("_parameters", prefix)

    def parameters(self) -> Iterator[np.ndarray]:
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        return self._named_members("_buffers", prefix)

    def buffers(self) -> Iterator[np.ndarray]:
        return (b for _, b in self.named_buffers())

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Parameters and persistent buffers under PyTorch's keys (the arrays themselves)."""
        out = OrderedDict()
        for mod_name, m in self.named_modules(remove_duplicate=False):   # torch lists every path
            prefix = f"{mod_name}." if mod_name else ""
            for name, value in m._parameters.items():
                if value is not None:
                    out[prefix + name] = value
            for name, value in m._buffers.items():
                if value is not None and name not in m._non_persistent:
                    out[prefix + name] = value
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values in by key; raise on missing/unexpected keys (if strict) or wrong shapes."""
        targets = {}
        for mod_name, m in self.named_modules(remove_duplicate=False):
            prefix = f"{mod_name}." if mod_name else ""
            for table in (m._parameters, m._buffers):
                for name, value in table.items():
                    transient = table is m._buffers and name in m._non_persistent
                    if value is not None and not transient:
                        targets[prefix + name] = (m, table, name)
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        staged = []
        for key, (m, table, name) in targets.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            current = table[name]
            if value.shape != current.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{value.shape}, the shape in current model is {current.shape}")
                continue
            staged.append((table, name, value.astype(current.dtype, copy=True)))
        if strict:
            if missing:
                errors.insert(0, f"Missing key(s) in state_dict: {', '.join(map(repr, missing))}")
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(map(repr, unexpected)))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for table, name, value in staged:
            table[name] = value
        return IncompatibleKeys(missing, unexpected)

    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def apply(self, fn) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- calling ----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        tracer = current_tracer()
        if tracer is None:
            raise TypeError(
                f"{type(self).__name__} is a compiler.nn module: it runs once compiled. Use "
                "m = compiler.compile(model, input_shape) and then m(x), or "
                "compiler.trace(model, input_shape) to see its layer graph")
        tracer.scope.append(tracer.module_name(self))
        try:
            return self.forward(*args, **kwargs)
        finally:
            tracer.scope.pop()

    # --- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _as_float32(value) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(value, dtype=np.float32))


def emit(op, *inputs) -> Tensor:
    """Record `op` applied to `inputs` under the name of the module being called."""
    tracer = current_tracer()
    return tracer.emit(op, list(inputs), tracer.layer_name(op.kind))


def emit_maybe_inplace(inplace: bool, op, x) -> Tensor:
    """As `emit`; with inplace=True the tensor object `x` itself now names the result, so a
    later use of `x` in forward sees the new value, exactly as with PyTorch's in-place ops."""
    if inplace:
        tracer = current_tracer()
        return tracer.emit_inplace(op, x, tracer.layer_name(op.kind))
    return emit(op, x)


class Sequential(Module):
    """Runs its modules one after the other: Sequential(a, b) or Sequential(OrderedDict(...))."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        keys = list(self._modules)
        return self._modules[keys[_check_index(index, len(keys), "Sequential")]]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


class ModuleList(Module):
    """Holds submodules in a list; indexing, iteration, append and extend as in torch."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        return values[_check_index(index, len(values), "ModuleList")]

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward; call its modules from yours")


def _check_index(index: int, length: int, what: str) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a {what} of length {length}")
    return index % length


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments, as torch.nn.Identity."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
