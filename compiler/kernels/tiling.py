"""The tiling shared by the register-tiled convolution families (conv2d_blocked, depthwise,
ConvTranspose2d by phase): which nodes they take, the register tile tables, how a row splits
into tiles and which taps a border tile keeps, which kernel rows a row reads, and the packed
weight layout.
"""
from __future__ import annotations

import numpy as np

from .util import groups_in_whole_blocks

#: Register tiles per ISA, in order of preference: (channel blocks per tile RB_OC, output
#: pixels per tile RB_W). RB_OC*RB_W accumulators + RB_OC weights live in the vector
#: registers (32 on AVX-512, 16 on AVX2/SSE); `budget` accumulators is the most a tile may
#: hold, so a short row is one tile (its weights then stream once per row).
#: Measured on Zen 5 (AVX-512), one thread, ResNet-18's 3x3 layers: 2 blocks x 10-12 pixels
#: beat 4 x 6 by 5-10%; a 7-pixel row as one tile beats 6+1 by 35%.
#: `short_rows` [(most pixels, RB_OC)]: with a 3- or 4-wide kernel, a row that short is one
#: tile of that many blocks, past the budget. Measured on an Intel Xeon (an AVX-512 host
#: running AVX2 code), one thread, 3x3 convolutions of 512 channels: a 7-pixel row as one
#: 2-block tile (14 accumulators) runs at 89 GFLOP/s against 70 for tiles of 4 + 3 pixels, a
#: 4-pixel row as 4 blocks at 87 against 79 for 2 blocks; longer rows lose with more than 12
#: (8 pixels x 2 blocks: 77 against 80), and so do 1x1 kernels (4 px x 4 blocks: 60 against
#: 72; 7 px x 2 blocks: 62 against 64).
#: `nchw_input`: the tile of a 3x3-class convolution that reads a few-channel NCHW input (a
#: first layer). Same host, one thread, 3 -> 32/64 channels: one block of 12 pixels runs at
#: 125-155 GFLOP/s with AVX-512 against 93-104 for 2 blocks x 12 (the 7x7 stem loses: 129
#: against 165), and at 62-79 with AVX2 against 55-67 for 2 blocks x 6.
CONV_TILES = {
    "avx512": {"tiles": [(2, 12), (4, 6), (3, 8), (1, 14)], "budget": 28, "wide_budget": 16,
               "short_rows": [], "nchw_input": (1, 12)},
    "avx2": {"tiles": [(2, 6), (3, 4), (1, 12)], "budget": 12, "wide_budget": 12,
             "short_rows": [(4, 4), (7, 2)], "nchw_input": (1, 12)},
    "generic": {"tiles": [(2, 6), (3, 4), (1, 12)], "budget": 12, "wide_budget": 12,
                "short_rows": [], "nchw_input": None},
}
#: Kernels at least this wide unroll so many columns that big tiles spill registers
#: (ResNet's 7x7 stem: 2 blocks x 8 pixels runs 45% faster than 2 x 12).
WIDE_KERNEL = 5
#: Weights this small are read by every thread for every row it computes (see work_order) and
#: stay in cache beside the rows; with every layer split by rows, ResNet-18 (weights of 0.15
#: to 9.4 MB) ran 24% slower on 2 threads and VGG-CIFAR 44%.
SMALL_WEIGHT_BYTES = 64 * 1024
#: The simpler {RB_OC: RB_W} table the ConvTranspose2d phases use.
BLOCKING = {isa: dict(sorted(((r, w) for r, w in t["tiles"]), reverse=True))
            for isa, t in CONV_TILES.items()}


def tiles_blocks(node, target) -> bool:
    """A Conv2d or ConvTranspose2d whose groups are whole channel blocks (or one group), on
    4-D tensors, for a target with vectors: what the register-tiled kernels take at all."""
    return (target.vector_floats > 1 and len(node.inputs[0].shape) == 4
            and groups_in_whole_blocks(node.op, target.vector_floats))


def reads_nchw_directly(node) -> bool:
    """A convolution whose output is blocked reads an NCHW input itself, rather than after a
    Reorder, when it has few channels (the first layer) or one pixel (then NCHW and blocked
    orders agree); grouped ones need blocks."""
    n, c, h, w = node.inputs[0].shape
    return node.op.groups == 1 and (c <= 8 or h * w == 1)


def balanced_widths(ow: int, rb_w: int) -> list[int]:
    """Split a row of `ow` pixels into as few tiles of at most `rb_w` as possible, of nearly
    equal widths (56 by 6 -> six 6s and four 5s, not nine 6s and a latency-bound 2)."""
    tiles = -(-ow // rb_w)
    base, extra = divmod(ow, tiles)
    return [base + 1] * extra + [base] * (tiles - extra)


def column_tiles(ow: int, rb_w, w: int, stride: int, pad: int, dilation: int, kw: int):
    """Tiles as runs [(instance, first ow0, count)] and instances [(width, valid taps)] where
    valid taps[kw] lists the pixels j of the tile whose input column for tap kw is inside.
    `rb_w` is a tile width, or the list of tile widths along the row. Within a run, tile t
    starts at first ow0 + t * width."""
    widths = rb_w if isinstance(rb_w, list) else [min(rb_w, ow - o) for o in range(0, ow, rb_w)]
    instances, runs = [], []
    ow0 = 0
    for width in widths:
        valid = tuple(tuple(j for j in range(width)
                            if 0 <= (ow0 + j) * stride - pad + t * dilation < w)
                      for t in range(kw))
        key = (width, valid)
        if key not in instances:
            instances.append(key)
        index = instances.index(key)
        if runs and runs[-1][0] == index and runs[-1][1] + runs[-1][2] * width == ow0:
            runs[-1] = (index, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((index, ow0, 1))
        ow0 += width
    return instances, runs


def row_taps(oh: int, h: int, stride: int, pad: int, dilation: int, kh: int):
    """Per output row: the [lo, hi) range of kernel rows whose input row is inside."""
    lo, hi = [], []
    for o in range(oh):
        valid = [t for t in range(kh) if 0 <= o * stride - pad + t * dilation < h]
        lo.append(valid[0] if valid else 0)
        hi.append(valid[-1] + 1 if valid else 0)
    return lo, hi


def pack_weights(weight: np.ndarray, groups: int, v: int, icv: int, blocked_in: bool,
                 pieces: list[int] | None = None):
    """(OC, IC/g, KH, KW) -> [OCB][ICB_g][KH][KW][ICV][V]: for each output block, input block,
    tap and input channel, the V output channels' weights side by side (zero-padded). With
    `pieces` (channel counts of a concatenated blocked input) each piece starts a new block."""
    oc, icg, kh, kw = weight.shape
    ocb = -(-oc // v)
    pieces = pieces or [icg]
    icb_g = sum(-(-p // v) for p in pieces) if blocked_in else 1
    if oc != ocb * v or icg != icb_g * icv or len(pieces) > 1:
        padded = np.zeros((ocb * v, icb_g * icv, kh, kw), np.float32)
        src = dst = 0
        for p in pieces:
            padded[:oc, dst:dst + p] = weight[:, src:src + p]
            src, dst = src + p, dst + -(-p // v) * v
        weight = padded
    # (OCB, V, ICB, ICV, KH, KW) -> (OCB, ICB, KH, KW, ICV, V)
    return weight.reshape(ocb, v, icb_g, icv, kh, kw).transpose(0, 2, 4, 5, 3, 1)


def work_order(n: int, weight_floats: int, image_floats: int) -> list[int] | None:
    """How to nest a convolution's work items (image, block group, rows), outermost first.

    One image with small weights: rows outside the block groups ([0, 2, 1]), so the threads
    split the image by rows, as the layers before and after do, and each reads the rows it
    wrote itself into its own cache (split by channel groups, every thread reads every row,
    half of them from the other core's cache: depthwise_separable on 2 threads ran 13%
    slower so). A batch whose layer weights outweigh one image: images inside the block
    groups ([1, 0, 2]), so each group's weights stay in cache for every image instead of
    streaming once per image. Else None: images, then block groups, then rows."""
    if n == 1 and weight_floats * 4 <= SMALL_WEIGHT_BYTES:
        return [0, 2, 1]
    return [1, 0, 2] if n > 1 and weight_floats > image_floats else None


def work_order_text(order: list[int] | None) -> str:
    """The loops `work_order` nests outside the rest, for a kernel's note."""
    return {None: "n, block group, row", (0, 2, 1): "n, row, block group"}.get(
        tuple(order) if order else None, "block group, n, row")


def uniform_range(lo: list[int], hi: list[int]) -> tuple[int, int] | None:
    """(first, count) when every output row reads the same kernel rows, else None (a table)."""
    if len(set(lo)) == 1 and len(set(hi)) == 1:
        return lo[0], hi[0] - lo[0]
    return None


def run_comment(start: int, count: int, width: int, valid: tuple, kw: int) -> str:
    """What a run of tiles covers, and which kernel columns its border tiles leave out."""
    text = f"pixels {start}..{start + count * width - 1}: {count} tile{'s' * (count > 1)} " \
        f"of {width}"
    for t in range(kw):
        if len(valid[t]) != width:
            pixels = ",".join(map(str, valid[t])) or "none"
            text += f", kernel column {t} only for tile pixels {pixels}"
    return text
