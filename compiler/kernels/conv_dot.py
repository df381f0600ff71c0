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
from .base import KernelSpec, register
from .conv_blocked import conv_blocked_accepts
from .conv_transpose_blocked import lower_dot


def as_transposed(op: Conv2d) -> ConvTranspose2d | None:
    """The ConvTranspose2d that computes stride-1, single-group `op`, or None."""
    top, bottom, left, right = op.padding
    if op.stride != (1, 1) or op.groups != 1 or top != bottom or left != right:
        return None
    (kh, kw), (dh, dw) = op.kernel_size, op.dilation
    padding = (dh * (kh - 1) - top, dw * (kw - 1) - left)
    if min(padding) < 0:                 # padded wider than the kernel reaches
        return None
    weight = np.ascontiguousarray(op.params["weight"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return ConvTranspose2d(weight, op.params.get("bias"), (1, 1), padding, (0, 0), 1, op.dilation)


def dot_pays(in_channels: int, out_channels: int, v: int) -> bool:
    """Dot products beat vectors of output channels when those would be at most a quarter
    used; at most half used, only with enough input blocks to amortise each pixel's lane
    sums. Measured on AVX-512, 2 threads, 3x3 at 64x64, dot vs blocked: 32 -> 4 2.5x,
    16 -> 1 10x, 64 -> 8 1.6x, but 32 -> 8 0.9x and 16 -> 8 0.8x."""
    return 4 * out_channels <= v or (2 * out_channels <= v and in_channels >= 4 * v)


@register(Conv2d, "conv2d_dot", reference=False, blocked=True, accepts=conv_blocked_accepts)
def conv2d_dot(spec: KernelSpec, target) -> bool:
    """Blocked input, NCHW output, few output channels (see dot_pays), stride 1, one group,
    nothing fused on the load side (prologue, concatenated input) or the store side
    (PixelShuffle)."""
    node, op = spec.node, spec.node.op
    if not (spec.in_layouts[0].blocked and not spec.out_layout.blocked and
            dot_pays(op.in_channels, op.out_channels, target.vector_floats) and
            node.anchor_arity == 1 and
            not node.prologue and node.store is None and
            all(not lay.blocked for lay in spec.in_layouts[1:])):
        return False
    transposed = as_transposed(op)
    if transposed is None:
        return False
    lower_dot(spec, target, transposed, what="convolution as its flipped transpose, ")
    return True
