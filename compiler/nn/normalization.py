"""BatchNorm2d and LocalResponseNorm, as torch.nn."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..limits import padded
from . import _args as A
from .conv import check_param_shapes
from ..graph import current_tracer
from .module import Module, emit


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) per channel; running statistics as in PyTorch."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = A.integer("BatchNorm2d", "num_features", num_features, 1)
        self.eps = A.real("BatchNorm2d", "eps", eps)
        if self.eps <= 0:
            A.reject("BatchNorm2d", "eps", eps, "eps must be > 0")
        self.momentum = None if momentum is None else A.real("BatchNorm2d", "momentum", momentum)
        self.affine = A.boolean("BatchNorm2d", "affine", affine)
        self.track_running_stats = A.boolean("BatchNorm2d", "track_running_stats",
                                             track_running_stats)
        A.device_dtype("BatchNorm2d", device, dtype)
        A.parameters("BatchNorm2d", {"num_features": self.num_features},
                     4 * padded(self.num_features))        # weight, bias, mean, var
        has_bias = A.boolean("BatchNorm2d", "bias", bias)  # keyword-only, as torch: scale, no shift
        c = self.num_features
        self.register_parameter("weight", np.ones(c, np.float32) if affine else None)
        self.register_parameter("bias", np.zeros(c, np.float32) if affine and has_bias else None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, np.float32))
            self.register_buffer("running_var", np.ones(c, np.float32))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        c = self.num_features
        check_param_shapes(self, {k: (c,) for k in ("weight", "bias", "running_mean",
                                                      "running_var")})
        batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        bias = self.bias
        if self.weight is not None and bias is None:     # bias=False: a zero shift, as torch
            bias = np.zeros(c, np.float32)
        op = ops.BatchNorm2d(c, self.eps, self.momentum, self.weight, bias,
                                    self.running_mean, self.running_var, batch_stats, update,
                                    0 if self.num_batches_tracked is None
                                    else int(self.num_batches_tracked))
        tracer = current_tracer()
        op.state_prefix = tracer.scope[-1]                 # state_dict prefix ("" at the root)
        op.state_aliases = tuple(p for p in tracer.module_paths.get(id(self), ())
                                 if p != op.state_prefix)  # a shared module's other paths
        return emit(op, x)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class LocalResponseNorm(Module):
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = A.integer("LocalResponseNorm", "size", size, 1, "MAX_KERNEL")
        self.alpha = A.real("LocalResponseNorm", "alpha", alpha)
        self.beta = A.real("LocalResponseNorm", "beta", beta)
        self.k = A.real("LocalResponseNorm", "k", k)

    def forward(self, x):
        return emit(ops.LocalResponseNorm(self.size, self.alpha, self.beta, self.k), x)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
