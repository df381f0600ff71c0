"""Activations and Softmax, as torch.nn."""
from __future__ import annotations

import warnings

from .. import ops
from ..errors import ShapeError
from ..graph import current_tracer
from ..ops.shape import normalize_dim
from . import _args as A
from .module import Module, emit, emit_maybe_inplace


class _Activation(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = A.boolean(type(self).__name__, "inplace", inplace)

    def op(self):
        return getattr(ops, type(self).__name__)()

    def forward(self, x):
        return emit_maybe_inplace(self.inplace, self.op(), x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """max(x, 0); NaN stays NaN."""


class SELU(_Activation):
    pass


class LeakyReLU(_Activation):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.negative_slope = A.real("LeakyReLU", "negative_slope", negative_slope)

    def op(self):
        return ops.LeakyReLU(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(_Activation):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(inplace)
        self.alpha = A.real("ELU", "alpha", alpha)

    def op(self):
        return ops.ELU(self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, x):
        return emit(ops.Sigmoid(), x)


class Tanh(Module):
    def forward(self, x):
        return emit(ops.Tanh(), x)


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
