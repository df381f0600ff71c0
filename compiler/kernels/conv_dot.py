"""Conv2d writing few channels to an NCHW output, as dot products over input channels.

A network's image layer (C_out = 1 to 8, say 32 -> 3 at full resolution) wastes most of each
vector in conv2d_blocked, whose vectors hold output channels: 3 of 16 lanes do work. A
stride-1 convolution is a transposed convolution with the kernel flipped, the channel axes
swapped and padding d*(k-1) - p (both map input i to output o through tap k when
i = o - p + k*d), so it runs on conv_transpose2d_dot's kernel, where a vector holds input
channels and every lane works.

Imported after conv_blocked so that, fast families being tried newest first, this one is
asked before conv2d_blocked.
"""
from __future__ import annotations

import numpy as np

from ..ops.conv import Conv2d, ConvTranspose2d
from .spec import KernelSpec
from .tiling import tiles_blocks
from .conv_transpose_blocked import lower_dot
from .family import Family, Layouts


def transposed_padding(op: Conv2d) -> tuple[int, int] | None:
    """The padding of the ConvTranspose2d computing stride-1, single-group `op`, or None."""
    top, bottom, left, right = op.padding
    if op.stride != (1, 1) or op.groups != 1 or top != bottom or left != right:
        return None
    (kh, kw), (dh, dw) = op.kernel_size, op.dilation
    padding = (dh * (kh - 1) - top, dw * (kw - 1) - left)
    return padding if min(padding) >= 0 else None     # not padded wider than it reaches


def as_transposed(op: Conv2d) -> ConvTranspose2d:
    """The ConvTranspose2d that computes `op` (transposed_padding says whether one does)."""
    padding = transposed_padding(op)
    weight = np.ascontiguousarray(op.params["weight"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return ConvTranspose2d(weight, op.params.get("bias"), (1, 1), padding, (0, 0), 1, op.dilation)


def dot_pays(in_channels: int, out_channels: int, v: int) -> bool:
    """Dot products beat vectors of output channels when those would be at most a quarter
    used; at most half used, only with enough input blocks to amortise each pixel's lane
    sums. Measured on AVX-512, 2 threads, 3x3 at 64x64, dot vs blocked: 32 -> 4 2.5x,
    16 -> 1 10x, 64 -> 8 1.6x, but 32 -> 8 0.9x and 16 -> 8 0.8x."""
    return 4 * out_channels <= v or (2 * out_channels <= v and in_channels >= 4 * v)


def runs_conv_dot(node, target, layouts: Layouts) -> bool:
    """Blocked input, NCHW output (and operands), few output channels (see dot_pays), stride
    1, one group, nothing fused on the load side (prologue, concatenated input) or the store
    side (PixelShuffle)."""
    op = node.op
    return (tiles_blocks(node, target) and layouts.ins[0].blocked and not layouts.out.blocked
            and dot_pays(op.in_channels, op.out_channels, target.vector_floats)
            and node.anchor_arity == 1 and not node.prologue and node.store is None
            and not any(lay.blocked for lay in layouts.ins[1:])
            and transposed_padding(op) is not None)


def conv2d_dot(spec: KernelSpec, target) -> None:
    lower_dot(spec, target, as_transposed(spec.node.op),
              what="convolution as its flipped transpose, ")


CONV2D_DOT = Family("conv2d_dot", runs_conv_dot, conv2d_dot)
