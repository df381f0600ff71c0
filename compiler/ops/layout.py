"""Reorder: convert a tensor between NCHW and the channel-blocked layout."""
from __future__ import annotations

from .base import Op


class Reorder(Op):
    """Logically the identity; physically a change of layout (inserted by the planner)."""


    def __init__(self, src, dst):
        self.src, self.dst = src, dst

    def attrs(self):
        return {"from": str(self.src), "to": str(self.dst)}

    def infer_shape(self, x):
        return x

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        return x.copy()
