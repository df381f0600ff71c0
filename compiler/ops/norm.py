"""BatchNorm2d: running statistics in eval mode, batch statistics in train mode."""
from __future__ import annotations

import numpy as np

from .base import Op, numel


class BatchNorm2d(Op):
    """y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c].

    With `batch_stats` the mean and (biased) variance come from the batch and the running
    statistics are updated with the unbiased variance, `momentum` or, if it is None, the
    cumulative average over `num_batches_tracked`.
    """

    def __init__(self, num_features, eps, momentum, weight, bias, running_mean, running_var,
                 batch_stats: bool, update_stats: bool, num_batches_tracked: int = 0):
        self.num_features, self.eps, self.momentum = num_features, float(eps), momentum
        self.num_batches_tracked = int(num_batches_tracked)
        self.state_prefix = ""      # the module's state_dict prefix, set when traced
        self.state_aliases: tuple[str, ...] = ()   # its other prefixes, if the module is shared
        self.batch_stats, self.update_stats = batch_stats, update_stats
        self.params = {k: v for k, v in (("weight", weight), ("bias", bias),
                                         ("running_mean", running_mean),
                                         ("running_var", running_var)) if v is not None}
        self.elementwise = not batch_stats

    @property
    def state_key(self) -> str | None:
        return self.state_prefix if self.update_stats else None

    def attrs(self):
        out = {"features": self.num_features, "eps": self.eps}
        if self.batch_stats:
            out["batch_stats"] = True
            out["momentum"] = self.momentum
        return out

    def infer_shape(self, x):
        self.require(len(x) == 4, f"expected a 4-D input (N, C, H, W), got {len(x)}-D")
        self.require(x[1] == self.num_features,
                     f"expected {self.num_features} channels, got {x[1]}")
        if self.batch_stats:
            self.require(x[0] * x[2] * x[3] > 1, "expected more than 1 value per channel "
                         "when using batch statistics (training)")
        return x

    def flops(self, in_shapes, out_shape):
        return (4 if self.batch_stats else 2) * numel(out_shape)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """weight and bias (ones and zeros when affine=False), in float64."""
        c = self.num_features
        return (self.params.get("weight", np.ones(c)).astype(np.float64),
                self.params.get("bias", np.zeros(c)).astype(np.float64))

    def eval_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """Eval mode as y = x * scale + shift, computed in float64."""
        gamma, beta = self.affine()
        mean = self.params["running_mean"].astype(np.float64)
        scale = gamma / np.sqrt(self.params["running_var"].astype(np.float64) + self.eps)
        return scale, beta - mean * scale

    def reference(self, x):
        x64 = x.astype(np.float64)
        if self.batch_stats:
            mean = x64.mean(axis=(0, 2, 3))
            var = x64.var(axis=(0, 2, 3))
            gamma, beta = self.affine()
            scale = gamma / np.sqrt(var + self.eps)
            shift = beta - mean * scale
        else:
            scale, shift = self.eval_scale_shift()
        return (x64 * scale[None, :, None, None] + shift[None, :, None, None]).astype(np.float32)
