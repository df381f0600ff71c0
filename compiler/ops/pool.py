"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d with PyTorch's window
arithmetic."""
from __future__ import annotations

import numpy as np

from .base import Op, numel


def pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                  ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input
    or its left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class _Pool2d(Op):

    unbatched = True

    def __init__(self, kernel_size, stride, padding, ceil_mode, dilation=(1, 1)):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.dilation = ceil_mode, dilation

    def attrs(self):
        out = {"kernel": self.kernel_size, "stride": self.stride}
        if any(self.padding):
            out["padding"] = self.padding
        if self.dilation != (1, 1):
            out["dilation"] = self.dilation
        if self.ceil_mode:
            out["ceil_mode"] = True
        return out

    def infer_shape(self, x):
        self.require(len(x) in (3, 4), f"expected a 3-D or 4-D input, got {len(x)}-D")
        h, w = x[-2:]
        oh, ow = (pool_out_size(s, k, st, p, d, self.ceil_mode) for s, k, st, p, d in zip(
            (h, w), self.kernel_size, self.stride, self.padding, self.dilation))
        self.require(oh > 0 and ow > 0, f"output size {oh}x{ow} is too small")
        return tuple(x[:-2]) + (oh, ow)

    def flops(self, in_shapes, out_shape):
        return numel(out_shape) * self.kernel_size[0] * self.kernel_size[1]

    def windows(self, size: int, axis: int):
        """Per output index: (start, end) of the window, padding included, before clipping."""
        k, s, p, d = (self.kernel_size[axis], self.stride[axis], self.padding[axis],
                      self.dilation[axis])
        out = pool_out_size(size, k, s, p, d, self.ceil_mode)
        return [(o * s - p, o * s - p + d * (k - 1) + 1) for o in range(out)]


class MaxPool2d(_Pool2d):
    """Max over each window; NaN anywhere in the window gives NaN, as PyTorch."""

    def reference(self, x):
        h, w = x.shape[-2:]
        rows, cols = self.windows(h, 0), self.windows(w, 1)
        dh, dw = self.dilation
        y = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=np.float32)
        for i, (h0, _) in enumerate(rows):
            for j, (w0, _) in enumerate(cols):
                taps = [x[..., a, b] for a in range(h0, h0 + dh * self.kernel_size[0], dh)
                        for b in range(w0, w0 + dw * self.kernel_size[1], dw)
                        if 0 <= a < h and 0 <= b < w]
                y[..., i, j] = np.max(np.stack(taps), axis=0)   # np.max propagates NaN
        return y


class AvgPool2d(_Pool2d):
    """Mean over each window, with PyTorch's divisor rules (count_include_pad, divisor_override)."""

    def __init__(self, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def attrs(self):
        out = super().attrs()
        if not self.count_include_pad:
            out["count_include_pad"] = False
        if self.divisor_override:
            out["divisor_override"] = self.divisor_override
        return out

    def divisor(self, h0, h1, w0, w1, h, w) -> int:
        """PyTorch: the padded window counts up to input+padding; the clipped one up to input."""
        if self.divisor_override:
            return self.divisor_override
        ph, pw = self.padding
        if self.count_include_pad:
            return (min(h1, h + ph) - h0) * (min(w1, w + pw) - w0)
        return (min(h1, h) - max(h0, 0)) * (min(w1, w) - max(w0, 0))

    def reference(self, x):
        h, w = x.shape[-2:]
        rows, cols = self.windows(h, 0), self.windows(w, 1)
        y = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=np.float32)
        x64 = x.astype(np.float64)
        for i, (h0, h1) in enumerate(rows):
            for j, (w0, w1) in enumerate(cols):
                window = x64[..., max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
                total = window.sum(axis=(-2, -1))
                y[..., i, j] = total / self.divisor(h0, h1, w0, w1, h, w)
        return y


class _AdaptivePool2d(Op):
    """Pool over windows [floor(i*H/OH), ceil((i+1)*H/OH)) for any output size."""

    unbatched = True

    def __init__(self, output_size):
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.output_size = tuple(output_size)   # (oh or None, ow or None)

    def attrs(self):
        return {"output_size": self.output_size}

    def resolve(self, h: int, w: int) -> tuple[int, int]:
        oh, ow = self.output_size
        return (h if oh is None else oh, w if ow is None else ow)

    def infer_shape(self, x):
        self.require(len(x) in (3, 4), f"expected a 3-D or 4-D input, got {len(x)}-D")
        return tuple(x[:-2]) + self.resolve(*x[-2:])

    @staticmethod
    def windows(size: int, out: int):
        return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]

    def flops(self, in_shapes, out_shape):
        return numel(in_shapes[0])

    def reference(self, x):
        h, w = x.shape[-2:]
        oh, ow = self.resolve(h, w)
        y = np.empty(x.shape[:-2] + (oh, ow), dtype=np.float32)
        for i, (h0, h1) in enumerate(self.windows(h, oh)):
            for j, (w0, w1) in enumerate(self.windows(w, ow)):
                y[..., i, j] = self.pool(x[..., h0:h1, w0:w1])
        return y


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """The mean of each window."""

    @staticmethod
    def pool(window):
        return window.astype(np.float64).mean(axis=(-2, -1))


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """The max of each window; NaN anywhere in it gives NaN, as PyTorch."""

    @staticmethod
    def pool(window):
        return np.max(window, axis=(-2, -1))        # np.max propagates NaN
