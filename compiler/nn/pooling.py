"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d, as torch.nn."""
from __future__ import annotations

from .. import limits, ops
from . import _args as A
from .module import Module, emit


def _window_args(layer, kernel_size, stride, padding, dilation=1):
    kernel = A.pair(layer, "kernel_size", kernel_size, 1, "MAX_KERNEL")
    stride = kernel if stride is None or stride == [] else \
        A.pair(layer, "stride", stride, 1, "MAX_KERNEL")
    padding = A.pair(layer, "padding", padding, 0, "MAX_KERNEL")
    dilation = A.pair(layer, "dilation", dilation, 1, "MAX_KERNEL")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        A.reject(layer, "padding", padding,
                 f"padding must be at most half of kernel_size {kernel} (as in PyTorch)")
    return kernel, stride, padding, dilation


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        (self.kernel_size, self.stride, self.padding,
         self.dilation) = _window_args("MaxPool2d", kernel_size, stride, padding, dilation)
        if return_indices:
            A.reject("MaxPool2d", "return_indices", return_indices,
                     "only return_indices=False: smelt does not return pooling indices")
        self.return_indices = False
        self.ceil_mode = A.boolean("MaxPool2d", "ceil_mode", ceil_mode)

    def forward(self, x):
        return emit(ops.MaxPool2d(self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                  self.dilation), x)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding, _ = _window_args(
            "AvgPool2d", kernel_size, stride, padding)
        self.ceil_mode = A.boolean("AvgPool2d", "ceil_mode", ceil_mode)
        self.count_include_pad = A.boolean("AvgPool2d", "count_include_pad", count_include_pad)
        if divisor_override is not None:
            if not A.is_int(divisor_override):
                raise TypeError(f"AvgPool2d: divisor_override must be an int, got "
                                f"{divisor_override!r}")
            if divisor_override == 0:
                A.reject("AvgPool2d", "divisor_override", 0, "the divisor must not be zero")
            if abs(divisor_override) > limits.INT_MAX:
                A.reject("AvgPool2d", "divisor_override", divisor_override,
                         f"its magnitude must be at most {limits.INT_MAX} (a C int holds it)")
        self.divisor_override = divisor_override

    def forward(self, x):
        return emit(ops.AvgPool2d(self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                  self.count_include_pad, self.divisor_override), x)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _output_size(layer: str, output_size) -> tuple:
    """An adaptive pool's output_size as a pair (None keeps that input size), checked."""
    sizes = (output_size, output_size) if A.is_int(output_size) else \
        tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if sizes is None or len(sizes) != 2 or not all(s is None or A.is_int(s) for s in sizes):
        raise TypeError(f"{layer}: output_size must be an int or a pair of ints "
                        f"(None keeps that input size), got {output_size!r}")
    if any(s is not None and s < 1 for s in sizes):
        A.reject(layer, "output_size", output_size, "sizes must be >= 1")
    A.at_most(layer, "output_size", output_size, [s for s in sizes if s is not None],
              "MAX_SPATIAL")
    return sizes


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size; None in output_size keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        _output_size("AdaptiveAvgPool2d", output_size)
        self.output_size = output_size

    def forward(self, x):
        return emit(ops.AdaptiveAvgPool2d(_output_size("AdaptiveAvgPool2d", self.output_size)),
                    x)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size; None in output_size keeps that input size. NaN in a
    window gives NaN, as torch."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        _output_size("AdaptiveMaxPool2d", output_size)
        if return_indices:
            A.reject("AdaptiveMaxPool2d", "return_indices", return_indices,
                     "only return_indices=False: smelt does not return pooling indices")
        self.output_size = output_size
        self.return_indices = False

    def forward(self, x):
        return emit(ops.AdaptiveMaxPool2d(_output_size("AdaptiveMaxPool2d", self.output_size)),
                    x)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
