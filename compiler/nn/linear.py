"""Linear, as torch.nn.Linear."""
from __future__ import annotations

from .. import ops
from ..limits import padded
from . import _args as A
from .conv import check_param_shapes
from .init import bias_uniform, kaiming_uniform_default
from .module import Module, emit


class Linear(Module):
    """y = x @ weight.T + bias over the last dimension of x."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = A.integer("Linear", "in_features", in_features, 1)
        self.out_features = A.integer("Linear", "out_features", out_features, 1)
        A.boolean("Linear", "bias", bias)
        A.device_dtype("Linear", device, dtype)
        A.parameters("Linear", {"in_features": self.in_features,
                                "out_features": self.out_features},
                     padded(self.out_features) * padded(self.in_features)
                     + padded(self.out_features))
        self.register_parameter("weight", kaiming_uniform_default(
            (self.out_features, self.in_features), self.in_features))
        self.register_parameter("bias", bias_uniform((self.out_features,), self.in_features)
                                if bias else None)

    def forward(self, x):
        check_param_shapes(self, {"weight": (self.out_features, self.in_features),
                                  "bias": (self.out_features,)})
        return emit(ops.Linear(self.weight, self.bias), x)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
