"""Physical tensor layouts: plain NCHW at the model's edges, channel-blocked NCHW[V]c inside.

In the blocked layout a 4-D tensor (N, C, H, W) is stored as (N, ceil(C/V), H, W, V): the V
channels of one block sit together for each pixel, so one SIMD register holds one pixel's
channels. Channels past C in the last block ("padded lanes") are always zero.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ops.base import numel


@dataclass(frozen=True)
class Layout:
    kind: str                 # "nchw" or "blocked"
    v: int = 1                # channels per block (blocked only)

    def __str__(self) -> str:
        return "NCHW" if self.kind == "nchw" else f"NCHW{self.v}c"

    @property
    def blocked(self) -> bool:
        return self.kind == "blocked"


NCHW = Layout("nchw")


def blocked(v: int) -> Layout:
    return Layout("blocked", v)


def physical_shape(shape: tuple, layout: Layout) -> tuple:
    """The array shape a tensor occupies in memory in `layout`."""
    if not layout.blocked:
        return tuple(shape)
    n, c, h, w = shape
    return (n, -(-c // layout.v), h, w, layout.v)


def offset(layout: Layout, shape: tuple, n, c, h, w):
    """The float offset of element (n, c, h, w) of a 4-D tensor of logical `shape` stored in
    `layout`, as a C index expression (the arguments are ints or compiler.codegen.cexpr
    expressions; a channel given as block * V + lane folds to the block and the lane)."""
    from .codegen.cexpr import lift
    _, channels, height, width = shape
    if not layout.blocked:
        return ((lift(n) * channels + c) * height + h) * width + w
    v, c = layout.v, lift(c)
    return (((lift(n) * -(-channels // v) + c // v) * height + h) * width + w) * v + c % v


def physical_numel(shape: tuple, layout: Layout) -> int:
    return numel(physical_shape(shape, layout))
