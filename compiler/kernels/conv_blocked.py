"""Conv2d on channel-blocked tensors: an output-stationary register-tiled direct convolution.

A tile keeps RB_W output pixels of one row x RB_OC channel blocks in vector registers. Per
input channel it loads RB_OC weight vectors and broadcasts one input value per pixel, so the
inner loop is RB_W * RB_OC independent FMAs (see KERNELS.md section 2). Row padding is a
per-row tap range; column padding is resolved when the code is generated: tiles touching
the left or right border get their own instance in which the taps that would read padding
are simply absent, so no tile tests bounds at run time.

Inputs may be blocked (NCHW[V]c) or, for a first layer with few channels or a 1x1 input,
plain NCHW; outputs are blocked, or NCHW (with a fused PixelShuffle's positions) at the
graph's edges. The blocking choices live in BLOCKING, per ISA.
"""
from __future__ import annotations

from .spec import KernelSpec
from .family import Family, Layouts
from .tiling import (CONV_TILES, WIDE_KERNEL, balanced_widths, column_tiles, pack_weights,
                     reads_nchw_directly, row_taps, run_comment, tiles_blocks, uniform_range,
                     work_order, work_order_text)
from .util import padded_bias, parallel_if, plural


def runs_conv_blocked(node, target, layouts: Layouts) -> bool:
    """Data input blocked, or NCHW where reads_nchw_directly (or the output is NCHW too); a
    concatenated input only as blocked pieces; a load prologue only with one group; a
    PixelShuffle store pattern only into NCHW. Fused operands in any layout (the epilogue
    indexes them by coordinates)."""
    if not tiles_blocks(node, target):
        return False
    data = layouts.ins[:node.anchor_arity]
    if node.prologue and node.op.groups > 1:
        return False
    if len(data) > 1 and not all(lay.blocked for lay in data):
        return False
    if not data[0].blocked and layouts.out.blocked and not reads_nchw_directly(node):
        return False
    return node.store is None or not layouts.out.blocked


def pick_tile(isa: str, ocb: int, ow: int, kw: int = 3,
              nchw_in: bool = False) -> tuple[int, int]:
    """(RB_OC, RB_W): the tile for a few-channel NCHW input (`nchw_input`) or a short row
    (`short_rows`), else the first preferred tile whose channel blocks divide `ocb`; a row that
    fits the accumulator budget is one tile; wide kernels get a smaller budget."""
    table = CONV_TILES[isa]
    if 3 <= kw < WIDE_KERNEL and nchw_in and table["nchw_input"] and ow > 1:
        rb_oc, rb_w = table["nchw_input"]
        return rb_oc, min(rb_w, ow)
    if 3 <= kw < WIDE_KERNEL:
        for most, rb_oc in table["short_rows"]:
            if ow <= most and ocb % rb_oc == 0:
                return rb_oc, ow
    budget = table["wide_budget"] if kw >= WIDE_KERNEL else table["budget"]
    rb_oc, rb_w = next((r, w) for r, w in table["tiles"] if ocb % r == 0)
    rb_w = min(rb_w, max(1, budget // rb_oc))
    if ow * rb_oc <= budget:
        return rb_oc, ow
    return rb_oc, min(rb_w, ow)


def conv2d_blocked(spec: KernelSpec, target) -> None:
    node, op = spec.node, spec.node.op
    in_layout, out_layout = spec.in_layouts[0], spec.out_layout
    v = target.vector_floats
    arity = node.anchor_arity
    pieces = [s[1] for s in spec.in_shapes[:arity]]          # a cat read piece by piece
    n, _, h, w = spec.in_shapes[0]
    ic = sum(pieces)
    _, oc, oh, ow = op.infer_shape((n, ic, h, w))
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw) = op.stride, op.dilation
    pt, _, pl, _ = op.padding
    g = op.groups
    blocked_in = in_layout.blocked
    icv = v if blocked_in else ic // g
    # input blocks per group: a group's own blocks (whole, see conv_blocked_accepts), or with
    # one group the blocks of every piece of a concatenated input
    icb_g = (sum(-(-p // v) for p in pieces) if g == 1 else ic // g // v) if blocked_in else 1
    piece_starts = [sum(-(-p // v) for p in pieces[:i]) for i in range(len(pieces))]
    ocb = -(-oc // v)
    ocb_g = ocb if g == 1 else (oc // g) // v
    rb_oc, rb_w = pick_tile(target.isa, ocb_g, ow, kw, nchw_in=not blocked_in)
    instances, runs = column_tiles(ow, balanced_widths(ow, rb_w), w, sw, pl, dw, kw)
    kh_lo, kh_hi = row_taps(oh, h, sh, pt, dh, kh)
    store = node.store.op.r if node.store is not None else 0
    bias = padded_bias(op, ocb * v)
    spec.template = "conv2d_blocked.c.j2"
    spec.constant("weight", pack_weights(op.params["weight"], g, v, icv, blocked_in,
                                         pieces if arity > 1 else None),
                  f"{ocb}x{icb_g}x{kh}x{kw}x{icv}x{v} packed")
    spec.constant("bias", bias, f"{oc} (+{ocb * v - oc} zero lanes)")
    row_floats = w * (v if blocked_in else 1)
    image_floats = (-(-ic // v) * h * w * v) if blocked_in else ic * h * w
    spec.ctx = dict(
        v=v, n=n, oh=oh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, pt=pt, pl=pl,
        # work items: (image, group of tile_blocks output channel blocks, output row)
        block_groups=ocb // rb_oc, tile_blocks=rb_oc,
        # input: channel blocks read per work item, where image n's (and group's) begin
        in_blocks=icb_g, blocked_in=blocked_in, plane=h * w * v,
        # the load prologue leaves the input's padded lanes alone
        in_channels=ic, padded_in=blocked_in and ic % v != 0,
        image_floats=image_floats,
        group_blocks=ocb_g // rb_oc if g > 1 else 0,
        group_floats=icb_g * h * w * v if blocked_in else ic // g * h * w,
        pieces=[dict(first=start, blocks=-(-p // v), image_floats=-(-p // v) * h * w * v)
                for start, p in zip(piece_starts, pieces)],
        row_floats=row_floats, channel_floats=1 if blocked_in else h * w,
        # weights: [output block][input block][kh][kw][input channel][V]
        icv=icv, block_weights=icb_g * kh * kw * icv * v, in_block_weights=kh * kw * icv * v,
        unroll_channels=4,
        kernel_rows=uniform_range(kh_lo, kh_hi), kh_lo=kh_lo, kh_hi=kh_hi,
        variants=[dict(width=width, valid=valid) for width, valid in instances],
        runs=[dict(variant=index, first=start, count=count, width=instances[index][0],
                   comment=run_comment(start, count, *instances[index], kw))
              for index, start, count in runs],
        # costly fused steps into an NCHW output: the row is stored raw tile by tile, then they
        # run over the whole contiguous row, where they vectorise (in a tile a channel's
        # pixels are a few strided lanes)
        finish_rows=(not out_layout.blocked and node.store is None
                     and any(s.op.costly for s in spec.steps)),
        loop_order=work_order(n, ocb * icb_g * kh * kw * icv * v, image_floats),
        parallel=parallel_if(spec.flops))
    order = work_order_text(spec.ctx["loop_order"])
    spec.note = (f"{in_layout} -> {out_layout if not store else f'NCHW via PixelShuffle({store})'}"
                 f", tile {rb_w} px x {plural(rb_oc, 'block')} of {v}, "
                 f"{plural(len(instances), 'tile variant')}, "
                 + (f"threads over ({order})" if spec.ctx["parallel"] else "one thread"))


CONV2D_BLOCKED = Family("conv2d_blocked", runs_conv_blocked, conv2d_blocked)
