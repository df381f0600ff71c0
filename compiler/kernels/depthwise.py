"""Depthwise Conv2d (groups == in_channels == out_channels) on channel-blocked tensors.

There is no channel reduction: output channel c reads only input channel c, so one vector
holds the V channels of a block at one pixel and every tap is a vector FMA (input vector x
weight vector). A register tile keeps RB_W output pixels of one row x RB_C channel blocks;
per kernel row, each input column the tile touches is loaded once and feeds every (pixel,
kernel column) pair that reads it (stride 1: RB_W + KW - 1 loads for RB_W * KW FMAs). Borders
are handled as in conv_blocked: a per-row range of kernel rows, and tile variants generated
without the taps that would read column padding. Little arithmetic per byte: judge it in GB/s.

The input is blocked, except where the layout pass leaves it NCHW beside a blocked fused
operand (a residual): then each vector is gathered lane by lane (and a load prologue applied
per lane). Channel multipliers (out = k * in, k > 1) are left to the reference kernel.
"""
from __future__ import annotations

from .spec import KernelSpec
from .tiling import (balanced_widths, column_tiles, pack_weights, row_taps, run_comment,
                           uniform_range)
from .family import Family, Layouts
from .util import padded_bias, parallel_if

#: accumulators per register tile (pixels x channel blocks), per ISA: AVX-512 keeps 14 of its
#: 32 vector registers for them (the rest: a kernel row of weights and the input loads in
#: flight), AVX2 and SSE 6 of 16.
DW_ACCUMULATORS = {"avx512": 14, "avx2": 6, "generic": 6}


def runs_depthwise(node, target, layouts: Layouts) -> bool:
    """A depthwise Conv2d (one channel per group) with something blocked (all NCHW: the
    reference kernel runs it). The data input NCHW (lane by lane, with a load prologue) only
    where the output is NCHW too, beside a blocked residual; no PixelShuffle store pattern."""
    op = node.op
    return (target.vector_floats > 1 and len(node.inputs[0].shape) == 4 and op.groups > 1
            and op.groups == op.in_channels == op.out_channels and node.store is None
            and layouts.blocked and not (node.prologue and layouts.ins[0].blocked)
            and (layouts.ins[0].blocked or not layouts.out.blocked))


def pick_dw_tile(isa: str, cb: int, ow: int) -> tuple[int, int]:
    """(RB_C, RB_W): tiles of at most the accumulator budget (the row is then split into nearly
    equal tiles), and as many channel blocks per tile (dividing `cb`) as still fit."""
    budget = DW_ACCUMULATORS[isa]
    rb_w = max(balanced_widths(ow, budget))
    rb_c = max(r for r in range(1, cb + 1) if cb % r == 0 and r * rb_w <= budget)
    return rb_c, rb_w


def tile_loads(width: int, valid: tuple, sw: int, dw: int) -> list[tuple[int, list]]:
    """The input columns a tile variant reads, relative to its first pixel's (before padding),
    each with the (pixel, kernel column) pairs that use it."""
    uses: dict[int, list] = {}
    for t, pixels in enumerate(valid):
        for j in pixels:
            uses.setdefault(j * sw + t * dw, []).append((j, t))
    return sorted(uses.items())


def depthwise_blocked(spec: KernelSpec, target) -> None:
    op = spec.node.op
    blocked_in = spec.in_layouts[0].blocked        # NCHW only beside a blocked residual
    v = target.vector_floats
    n, ch, h, w = spec.in_shapes[0]
    _, _, oh, ow = op.infer_shape(spec.in_shapes[0])
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw) = op.stride, op.dilation
    pt, _, pl, _ = op.padding
    cb = -(-ch // v)
    rb_c, rb_w = pick_dw_tile(target.isa, cb, ow)
    instances, runs = column_tiles(ow, balanced_widths(ow, rb_w), w, sw, pl, dw, kw)
    kh_lo, kh_hi = row_taps(oh, h, sh, pt, dh, kh)
    bias = padded_bias(op, cb * v)
    spec.template = "depthwise_blocked.c.j2"
    # (C, 1, KH, KW) -> [CB][KH][KW][V]: a kernel tap's V channel weights side by side
    spec.constant("weight", pack_weights(op.params["weight"], ch, v, 1, False),
                  f"{cb}x{kh}x{kw}x{v} packed")
    spec.constant("bias", bias, f"{ch}" + (f" (+{cb * v - ch} zero lanes)" if ch % v else ""))
    variants = [dict(width=width, valid=valid, loads=tile_loads(width, valid, sw, dw))
                for width, valid in instances]
    # bytes moved: input and output once, plus fused operands
    moved = 4 * (n * cb * v * (h * w + oh * ow * (len(spec.in_shapes))))
    kernel_rows = uniform_range(kh_lo, kh_hi)
    spec.ctx = dict(
        v=v, n=n, oh=oh, kw=kw, sh=sh, sw=sw, dh=dh, pt=pt, pl=pl,
        # work items: (image, group of tile_blocks channel blocks, output row)
        block_groups=cb // rb_c, tile_blocks=rb_c,
        # an NCHW input is gathered lane by lane, the lanes past the last channel as zeros
        blocked_in=blocked_in, channels=ch, padded_lanes=bool(ch % v),
        # weights: [channel block][kh][kw][V]
        block_weights=kh * kw * v, row_weights=kw * v,
        # the kernel rows an output row reads: (first, count) if the same for every row,
        # else the per-row tables (written only if some tile reads the input at all)
        kernel_rows=kernel_rows, kh_lo=kh_lo, kh_hi=kh_hi,
        row_tables=kernel_rows is None and any(var["loads"] for var in variants),
        variants=variants,
        runs=[dict(variant=index, first=start, count=count, width=instances[index][0],
                   comment=run_comment(start, count, *instances[index], kw))
              for index, start, count in runs],
        parallel=parallel_if(max(spec.flops, moved)))
    spec.note = (f"{spec.in_layouts[0]} -> {spec.out_layout}, depthwise tile {rb_w} px x {rb_c} "
                 f"blocks of {v}, {len(instances)} tile variant{'s' * (len(instances) > 1)}, "
                 f"threads over (n, row, block group)")


DEPTHWISE_BLOCKED = Family("depthwise_blocked", runs_depthwise, depthwise_blocked)
