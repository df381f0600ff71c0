"""Activations and Softmax, as torch.nn. The activation layers are made from the elementwise
ops that declare themselves torch.nn layers (compiler/ops/eltwise.py): one place per op."""
from __future__ import annotations

import inspect
import warnings

from .. import ops
from ..errors import ShapeError
from ..graph import current_tracer
from ..ops.shape import normalize_dim
from ..ops.eltwise import checked
from . import _args as A
from .module import Module, emit, emit_maybe_inplace


def layer_class(op: type) -> type:
    """The torch.nn-style layer of elementwise op `op` (an ops.Activation): its constructor
    takes the op's arguments (then `inplace` where torch has it), checks them, and its
    forward applies the op."""
    arguments = list(op.arguments) + (["inplace"] if op.takes_inplace else [])
    defaults = dict(op.arguments, inplace=False)

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name in arguments:
            value = bound.arguments[name]
            setattr(self, name, checked(op.__name__, name, value, defaults[name]))

    def forward(self, x):
        step = op(**{name: getattr(self, name) for name in op.arguments})
        return emit_maybe_inplace(getattr(self, "inplace", False), step, x)

    def extra_repr(self) -> str:
        shown = [f"{name}={getattr(self, name)}" for name in op.arguments]
        return ", ".join(shown + (["inplace=True"] if getattr(self, "inplace", False) else []))

    members = {"forward": forward, "extra_repr": extra_repr, "__doc__": op.__doc__,
               "__module__": __name__, "__qualname__": op.__name__}
    if arguments:                       # torch's arg-less layers keep Module's constructor
        signature = inspect.Signature(
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] +
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               default=defaults[name]) for name in arguments])
        __init__.__signature__ = signature
        members["__init__"] = __init__
    return type(op.__name__, (Module,), members)


#: one layer per activation op (ReLU, LeakyReLU, Sigmoid, Tanh, ELU, SELU, ...)
LAYERS = {name: layer_class(op) for name, op in ops.eltwise.Elementwise.registry.items()
          if issubclass(op, ops.eltwise.Activation)}
globals().update(LAYERS)


class Softmax(Module):
    """Softmax along `dim` (negative counts from the end); dim=None picks PyTorch's legacy
    default (0 for 0-, 1- and 3-D input, else 1) with a warning."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None and not A.is_int(dim):
            raise TypeError(f"Softmax: dim must be an int or None, got {dim!r}")
        self.dim = dim

    def forward(self, x):
        rank = len(x.shape)
        dim = self.dim
        if dim is None:
            warnings.warn("Implicit dimension choice for softmax has been deprecated. Change "
                          "the call to include dim=X as an argument.", stacklevel=3)
            dim = 0 if rank in (0, 1, 3) else 1
        axis = normalize_dim(dim, rank)
        if axis is None:
            layer = current_tracer().layer_name("Softmax")
            raise ShapeError(f"{layer} (Softmax): dim {dim} is out of range "
                             f"for a {rank}-D input of shape {x.shape}")
        return emit(ops.Softmax(axis), x)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


__all__ = [*LAYERS, "Softmax"]
