"""Dropout2d, as torch.nn.Dropout2d."""
from __future__ import annotations

from .. import ops
from ..rng import generator
from . import _args as A
from .module import Module, emit_maybe_inplace


class Dropout2d(Module):
    """Train mode zeroes whole channels with probability p and scales the rest by 1/(1-p);
    eval mode (and p=0) passes the input through."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        p = A.real("Dropout2d", "p", p)
        if not 0.0 <= p <= 1.0:
            A.reject("Dropout2d", "p", p, "dropout probability has to be between 0 and 1")
        self.p = p
        self.inplace = A.boolean("Dropout2d", "inplace", inplace)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        seed = int(generator().integers(0, 2**53))   # exact in the float64 state blob
        return emit_maybe_inplace(self.inplace, ops.Dropout2dTrain(self.p, seed), x)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
