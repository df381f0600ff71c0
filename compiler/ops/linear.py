"""Linear: y = x @ weight.T + bias over the last dimension."""
from __future__ import annotations

import numpy as np

from .base import Op, numel


class Linear(Op):

    def __init__(self, weight, bias):
        self.params = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}

    @property
    def in_features(self) -> int:
        return self.params["weight"].shape[1]

    @property
    def out_features(self) -> int:
        return self.params["weight"].shape[0]

    def attrs(self):
        out = {"in": self.in_features, "out": self.out_features}
        if "bias" not in self.params:
            out["bias"] = False
        return out

    def infer_shape(self, x):
        self.require(len(x) >= 1 and x[-1] == self.in_features,
                     f"expected the last dimension to be in_features={self.in_features}, "
                     f"got {x[-1] if x else 'a scalar'}")
        return tuple(x[:-1]) + (self.out_features,)

    def flops(self, in_shapes, out_shape):
        return 2 * numel(out_shape) * self.in_features

    def reference(self, x):
        y = x.astype(np.float64) @ self.params["weight"].astype(np.float64).T
        if "bias" in self.params:
            y += self.params["bias"].astype(np.float64)
        return y.astype(np.float32)
