"""Softmax along one dimension, with the max subtracted first for stability."""
from __future__ import annotations

import numpy as np

from .base import Op, numel


class Softmax(Op):

    def __init__(self, dim: int):
        self.dim = dim          # already normalised to be >= 0

    def attrs(self):
        return {"dim": self.dim}

    def infer_shape(self, x):
        self.require(self.dim < max(len(x), 1), f"dim {self.dim} is out of range for a "
                     f"{len(x)}-D input")
        return x

    def flops(self, in_shapes, out_shape):
        return 4 * numel(out_shape)

    def reference(self, x):
        x64 = x.astype(np.float64)
        with np.errstate(invalid="ignore"):
            e = np.exp(x64 - x64.max(axis=self.dim, keepdims=True))
            return (e / e.sum(axis=self.dim, keepdims=True)).astype(np.float32)
