"""Flatten, PixelShuffle, ChannelShuffle and Upsample, as torch.nn."""
from __future__ import annotations

import math
import numbers

from .. import ops
from . import _args as A
from .module import Module, emit

UPSAMPLE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = A.integer("Flatten", "start_dim", start_dim, -(2**31))
        self.end_dim = A.integer("Flatten", "end_dim", end_dim, -(2**31))

    def forward(self, x):
        return emit(ops.Flatten(self.start_dim, self.end_dim), x)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class PixelShuffle(Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = A.integer("PixelShuffle", "upscale_factor", upscale_factor, 1,
                                        "MAX_KERNEL")

    def forward(self, x):
        return emit(ops.PixelShuffle(self.upscale_factor), x)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class ChannelShuffle(Module):
    """Interleave `groups` groups of channels (ShuffleNet): channel k*groups + g of the result
    is channel g*(C/groups) + k of the input."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = A.integer("ChannelShuffle", "groups", groups, 1)

    def forward(self, x):
        return emit(ops.ChannelShuffle(self.groups), x)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Upsample(Module):
    """Resize H, W to `size` or by `scale_factor` (one value or one per axis).

    Modes: nearest, nearest-exact, bilinear and bicubic (align_corners both ways) and area
    (adaptive average pooling), indexing exactly as PyTorch does for non-integer scales too.
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.mode = A.choice("Upsample", "mode", mode, UPSAMPLE_MODES)
        if (size is None) == (scale_factor is None):
            A.reject("Upsample", "size", size, "give exactly one of size or scale_factor")
        if align_corners is not None and mode not in ops.Upsample.INTERPOLATING:
            A.reject("Upsample", "align_corners", align_corners, "align_corners can only be "
                     "set with the interpolating modes 'bilinear' and 'bicubic'")
        if recompute_scale_factor and size is not None:
            A.reject("Upsample", "recompute_scale_factor", recompute_scale_factor,
                     "it only applies with scale_factor (as in PyTorch), not with size")
        self.size = None if size is None else A.pair("Upsample", "size", size, 1, "MAX_SPATIAL")
        self.scale_factor = None
        if scale_factor is not None:
            factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) \
                else (scale_factor, scale_factor)
            if len(factors) != 2 or not all(isinstance(f, numbers.Real) for f in factors):
                raise TypeError("Upsample: scale_factor must be a number or a pair of numbers, "
                                f"got {scale_factor!r}")
            if any(not math.isfinite(f) or f <= 0 for f in factors):
                A.reject("Upsample", "scale_factor", scale_factor, "factors must be > 0")
            A.at_most("Upsample", "scale_factor", scale_factor, factors, "MAX_SPATIAL")
            self.scale_factor = tuple(float(f) for f in factors)
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        op = ops.Upsample(self.mode, self.size, self.scale_factor, bool(self.align_corners),
                          bool(self.recompute_scale_factor))
        if self.mode == "area":
            if len(x.shape) != 4:
                return emit(op, x)          # Upsample reports the rank error
            return emit(ops.AdaptiveAvgPool2d(op.out_size(*x.shape[2:])), x)
        return emit(op, x)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor}, mode={self.mode!r}"
        return f"size={self.size}, mode={self.mode!r}"
