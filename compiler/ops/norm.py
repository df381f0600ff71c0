"""BatchNorm2d (running statistics in eval mode, batch statistics in train mode) and
LocalResponseNorm."""
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


class LocalResponseNorm(Op):
    """y = x / (k + alpha / size * sum of x^2 over the channel window)^beta, the window of
    channel c being c - size//2 .. c + (size-1)//2 (zeros past the ends), in PyTorch's float32
    steps: square, window sum, / size, * alpha, + k, pow, divide. Dim 1 is the channel dim
    for any rank >= 3 ((N, C, L) too, as torch)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def attrs(self):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}

    def infer_shape(self, x):
        self.require(len(x) >= 3, f"expected a 3-D or higher input, got {len(x)}-D")
        return x

    def flops(self, in_shapes, out_shape):
        return (self.size + 5) * numel(out_shape)

    def window(self, c: int, channels: int) -> tuple[int, int]:
        """The channels [first, end) summed for channel c (clipped to the tensor)."""
        return max(c - self.size // 2, 0), min(c + (self.size - 1) // 2 + 1, channels)

    def reference(self, x):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1).astype(np.float32)
        square = x3 * x3
        padded = np.zeros((n, c + self.size - 1, x3.shape[2]), np.float32)
        padded[:, self.size // 2:self.size // 2 + c] = square
        total = np.zeros_like(x3)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for j in range(self.size):                 # float32 sum, in channel order
                total += padded[:, j:j + c]
            div = total / np.float32(self.size) * np.float32(self.alpha) + np.float32(self.k)
            div = np.power(div, np.float32(self.beta), dtype=np.float32)
            return (x3 / div).astype(np.float32).reshape(x.shape)
