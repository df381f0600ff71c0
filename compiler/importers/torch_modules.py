"""The module table: every torch.nn layer that compiler.nn mirrors (same class name, same
arguments, same semantics, the API's contract) becomes its compiler.nn twin, built from the
torch layer's own attributes. The twin's constructor checks the arguments and its forward
emits exactly the ops a compiler.nn model would; it holds the torch layer's weights.
"""
from __future__ import annotations

import inspect

import torch

from .. import nn
from ..errors import UnsupportedArgumentError
from ..nn.init import uninitialised
from .torch_context import UNKNOWN, Unsupported, known

#: torch.nn classes whose compiler.nn twin has another name
RENAMED = {"UpsamplingNearest2d": "Upsample", "UpsamplingBilinear2d": "Upsample"}
#: compiler.nn names that are containers, not layers (fx traces through them)
CONTAINERS = {"Module", "Sequential", "ModuleList"}


def torch_base(module) -> type | None:
    """The torch.nn class `module` is, or derives from."""
    return next((c for c in type(module).__mro__  # (classes made by type() have no __module__)
                 if (getattr(c, "__module__", None) or "").startswith("torch.nn.")), None)


def twin_class(module) -> type | None:
    """The compiler.nn class of a torch.nn layer (or of a subclass that keeps its forward),
    or None."""
    base = torch_base(module)
    if base is None or type(module).forward is not base.forward:
        return None
    name = RENAMED.get(base.__name__, base.__name__)
    return None if name in CONTAINERS else getattr(nn, name, None)


def to_numpy(t: torch.Tensor):
    """A torch tensor as a numpy array of its own (float32 if it is floating point)."""
    t = t.detach().cpu()
    return (t.float() if t.is_floating_point() else t).numpy().copy()


class Layers:
    """The twins of one torch model's layers, made once per layer object (a layer called at
    several places is one twin), named by their qualified names in the smelt tracer."""

    def __init__(self, model: torch.nn.Module, tracer, state: dict | None):
        self.model, self.tracer, self.state = model, tracer, state
        self.paths: dict[int, list[str]] = {}
        for name, m in model.named_modules(remove_duplicate=False):
            self.paths.setdefault(id(m), []).append(name)
        self.twins: dict[int, nn.Module] = {}

    def call(self, qualname: str, args, kwargs):
        module = self.model.get_submodule(qualname)
        twin = self.twins.get(id(module))
        if twin is None:
            twin = self.twins[id(module)] = self.make(module)
            self.tracer.module_names[id(twin)] = qualname
            self.tracer.module_paths[id(twin)] = self.paths[id(module)]
            if self.state is not None:
                self.load(twin, module, qualname)
        if not known(args, kwargs):
            return UNKNOWN
        return twin(*args, **kwargs)

    @staticmethod
    def make(module) -> nn.Module:
        cls = twin_class(module)
        if cls is None:
            base = torch_base(module)
            what = f"torch.nn.{base.__name__}" if base is not None else type(module).__name__
            raise Unsupported(f"{what} is not supported by smelt")
        kwargs = {}
        for p in inspect.signature(cls).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype") \
                    or not hasattr(module, p.name):
                continue
            value = getattr(module, p.name)
            if p.name == "bias":                 # the layer's tensor: the flag is whether it is set
                value = value is not None
            kwargs[p.name] = value
        try:
            with uninitialised():                # the weights come from the torch layer
                twin = cls(**kwargs)
        except TypeError as e:                   # an argument value compiler.nn cannot take
            raise UnsupportedArgumentError(str(e)) from None
        return twin.train(module.training)

    def load(self, twin: nn.Module, module, qualname: str) -> None:
        """The torch layer's parameters and buffers into the twin: the arrays of the graph's
        state where the state_dict has them (one copy, shared), else converted here."""
        for table in ("_parameters", "_buffers"):
            for name, current in getattr(twin, table).items():
                if current is None:
                    continue
                value = getattr(module, name, None)
                if not isinstance(value, torch.Tensor):
                    raise Unsupported(f"{type(module).__name__} has no tensor {name!r}, which "
                                      f"smelt's {type(twin).__name__} needs")
                key = f"{qualname}.{name}" if qualname else name
                setattr(twin, name, self.state[key] if key in self.state else to_numpy(value))
