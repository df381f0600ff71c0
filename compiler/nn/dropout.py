"""Dropout and Dropout2d, as torch.nn."""
from __future__ import annotations

from .. import ops
from ..rng import generator
from . import _args as A
from .module import Module, emit_maybe_inplace


class _DropoutNd(Module):
    """What Dropout and Dropout2d share (as torch's _DropoutNd): eval mode and p=0 pass the
    input through; train mode applies `train_op(p, seed)`."""

    train_op: type

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        layer = type(self).__name__
        p = A.real(layer, "p", p)
        if not 0.0 <= p <= 1.0:
            A.reject(layer, "p", p, "dropout probability has to be between 0 and 1")
        self.p = p
        self.inplace = A.boolean(layer, "inplace", inplace)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        seed = int(generator().integers(0, 2**53))   # exact in the float64 state blob
        return emit_maybe_inplace(self.inplace, self.train_op(self.p, seed), x)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Train mode zeroes each element with probability p and scales the rest by 1/(1-p)."""

    train_op = ops.DropoutTrain


class Dropout2d(_DropoutNd):
    """Train mode zeroes whole channels with probability p and scales the rest by 1/(1-p)."""

    train_op = ops.Dropout2dTrain
