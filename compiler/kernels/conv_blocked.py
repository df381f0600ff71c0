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

import numpy as np

from .base import KernelSpec
from .family import Family, Layouts
from .util import groups_in_whole_blocks, padded_bias, parallel_if, plural

#: Register tiles per ISA, in order of preference: (channel blocks per tile RB_OC, output
#: pixels per tile RB_W). RB_OC*RB_W accumulators + RB_OC weights live in the vector
#: registers (32 on AVX-512, 16 on AVX2/SSE); `budget` accumulators is the most a tile may
#: hold, so a short row is one tile (its weights then stream once per row).
#: Measured on Zen 5 (AVX-512), one thread, ResNet-18's 3x3 layers: 2 blocks x 10-12 pixels
#: beat 4 x 6 by 5-10%; a 7-pixel row as one tile beats 6+1 by 35%.
CONV_TILES = {
    "avx512": {"tiles": [(2, 12), (4, 6), (3, 8), (1, 14)], "budget": 28, "wide_budget": 16},
    "avx2": {"tiles": [(2, 6), (3, 4), (1, 12)], "budget": 12, "wide_budget": 12},
    "generic": {"tiles": [(2, 6), (3, 4), (1, 12)], "budget": 12, "wide_budget": 12},
}
#: Kernels at least this wide unroll so many columns that big tiles spill registers
#: (ResNet's 7x7 stem: 2 blocks x 8 pixels runs 45% faster than 2 x 12).
WIDE_KERNEL = 5
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


def runs_conv_blocked(node, target, layouts: Layouts) -> bool:
    """Data input blocked, or NCHW where reads_nchw_directly (or the output is NCHW too); a
    concatenated input only as blocked pieces; a load prologue only on an NCHW input of one
    group; a PixelShuffle store pattern only into NCHW. Fused operands in any layout (the
    epilogue indexes them by coordinates)."""
    if not tiles_blocks(node, target):
        return False
    data = layouts.ins[:node.anchor_arity]
    if node.prologue and (data[0].blocked or node.op.groups > 1):
        return False
    if len(data) > 1 and not all(lay.blocked for lay in data):
        return False
    if not data[0].blocked and layouts.out.blocked and not reads_nchw_directly(node):
        return False
    return node.store is None or not layouts.out.blocked


def pick_tile(isa: str, ocb: int, ow: int, kw: int = 3) -> tuple[int, int]:
    """(RB_OC, RB_W): the first preferred tile whose channel blocks divide `ocb`; a row that
    fits the accumulator budget is one tile; wide kernels get a smaller budget."""
    table = CONV_TILES[isa]
    budget = table["wide_budget"] if kw >= WIDE_KERNEL else table["budget"]
    rb_oc, rb_w = next((r, w) for r, w in table["tiles"] if ocb % r == 0)
    rb_w = min(rb_w, max(1, budget // rb_oc))
    if ow * rb_oc <= budget:
        return rb_oc, ow
    return rb_oc, min(rb_w, ow)


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
    rb_oc, rb_w = pick_tile(target.isa, ocb_g, ow, kw)
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
    spec.ctx = dict(
        v=v, n=n, oh=oh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, pt=pt, pl=pl,
        # work items: (image, group of tile_blocks output channel blocks, output row)
        block_groups=ocb // rb_oc, tile_blocks=rb_oc,
        # input: channel blocks read per work item, where image n's (and group's) begin
        in_blocks=icb_g, blocked_in=blocked_in, plane=h * w * v,
        image_floats=(-(-ic // v) * h * w * v) if blocked_in else ic * h * w,
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
        parallel=parallel_if(spec.flops))
    spec.note = (f"{in_layout} -> {out_layout if not store else f'NCHW via PixelShuffle({store})'}"
                 f", tile {rb_w} px x {plural(rb_oc, 'block')} of {v}, "
                 f"{plural(len(instances), 'tile variant')}, "
                 + ("threads over (n, block group, row)" if spec.ctx["parallel"] else "one thread"))


CONV2D_BLOCKED = Family("conv2d_blocked", runs_conv_blocked, conv2d_blocked)


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
