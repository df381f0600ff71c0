"""ConvTranspose2d on channel-blocked tensors: a direct gather by output phase.

Output o (per spatial axis) receives input i through kernel tap k when o = i*s - p + k*d. So
only the taps with k*d = o + p (mod s) reach o, and the outputs of one phase r = (o + p) mod s
(o = first + q*s) form a dense convolution over the input: output q reads input
q + base - m*d/g through the phase's m-th tap (taps k0, k0 + s/g, ...; g = gcd(s, d)). No MAC
is wasted on the zeros a zero-insertion scheme would multiply (KERNELS.md section 5).

The kernel is conv_blocked's register tile applied per phase: a work item is (n, group of
RB_OC output channel blocks, output row); the row's phase fixes its kernel-row taps (a per-row
range and input row, from tables); its pixels are split by column phase, each a run of tiles
of RB_W pixels s apart in the output, the taps that would read outside the input resolved when
the code is generated. Weights are packed [OCB/RB_OC][ICB][KH][KW][V ic][RB_OC][V oc] with the
kernel rows and columns in phase-major order, so a phase's taps are contiguous and a tile's
weight vectors for one input channel are adjacent.

When one channel-block group's weights would not stay in L2 (DCGAN's 512 -> 256 layer: 2 MB),
the input channel blocks are split into chunks and a work item covers the rows of one phase:
the tiles accumulate a chunk at a time in the (blocked) output and the epilogue runs with the
last chunk, so each chunk's weights are read from L2 by every row of the item.

Inputs are blocked, or NCHW for a single group with few channels or one pixel (as
`reads_nchw_directly` decides); outputs are blocked, or NCHW at the graph's edges.

A second family, conv_transpose2d_dot, takes the layers that write few channels (C_out <= V/2)
to an NCHW output, such as DCGAN's 64 -> 3 image layer, where vectors of output channels would
be mostly padding: the same phases and tiles, but a vector holds V input channels, each
accumulator is one (pixel, output channel) and a shuffle tree sums its lanes at the store.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ops.conv import ConvTranspose2d
from .spec import KernelSpec
from .tiling import (BLOCKING, balanced_widths, column_tiles, pack_weights,
                     reads_nchw_directly, row_taps, tiles_blocks, uniform_range, work_order,
                     work_order_text)
from .family import Family, Layouts
from .util import padded_bias, parallel_if

#: weights one work item reads per pass over its rows, kept below this to stay in L2
WEIGHT_CHUNK_BYTES = 256 * 1024
#: work items wanted when rows are grouped (a few per thread on the machines we target)
MIN_ITEMS = 8
#: input channels unrolled in a tile's channel loop; tiles of more FMAs per channel than
#: UNROLL_FMAS unroll less
UNROLL, UNROLL_WIDE, UNROLL_FMAS = 4, 2, 16


@dataclass
class Phase:
    """The outputs o = first + q*stride (q < count) of one phase along one axis: output q reads
    input q + base - m*step through tap taps[m]; taps[0] sits at `start` in phase-major order."""

    first: int
    count: int
    taps: list
    base: int
    step: int
    start: int


def phases(size_out: int, kernel: int, stride: int, pad: int, dilation: int) -> list[Phase]:
    """Every output phase along one axis, in order of (o + pad) mod stride."""
    step = dilation // math.gcd(stride, dilation)
    out, start = [], 0
    for r in range(stride):
        first = (r - pad) % stride
        count = max(0, -(-(size_out - first) // stride))
        taps = [t for t in range(kernel) if (r - t * dilation) % stride == 0]
        base = (first + pad - taps[0] * dilation) // stride if taps else 0
        out.append(Phase(first, count, taps, base, step, start))
        start += len(taps)
    return out


def runs_conv_transpose_blocked(node, target, layouts: Layouts) -> bool:
    """Data input blocked, or NCHW for one group (where reads_nchw_directly, or into an NCHW
    output); fused operands in the output's layout."""
    if not tiles_blocks(node, target):
        return False
    if any(lay != layouts.out for lay in layouts.ins[1:]):
        return False
    return layouts.ins[0].blocked or node.op.groups == 1 and (
        not layouts.out.blocked or reads_nchw_directly(node))


def pick_phase_tile(isa: str, ocb: int, width: int) -> tuple[int, int]:
    """(RB_OC, RB_W) for rows of `width` pixels split into equal tiles: the fewest estimated
    cycles per input channel (FMAs on two ports, loads on two, four cycles of FMA latency),
    then the fewest loads."""
    best = None
    for rb_oc, max_w in BLOCKING[isa].items():
        if ocb % rb_oc:
            continue
        widths = balanced_widths(width, max_w)
        rb_w = max(widths)
        groups = ocb // rb_oc
        cycles = groups * sum(max(rb_oc * w / 2, (rb_oc + w) / 2, 4) for w in widths)
        loads = groups * sum(rb_oc + w for w in widths)
        if best is None or (cycles, loads) < best[0]:
            best = ((cycles, loads), rb_oc, rb_w)
    return best[1], best[2]


def row_tables(rows: list[Phase], oh: int, h: int, stride: int, pad: int) -> dict:
    """Per output row: input row of its first tap, that tap's phase-major kernel row, and the
    [lo, hi) range of taps whose input row lies inside."""
    ih0, kp0, lo, hi = [0] * oh, [0] * oh, [0] * oh, [0] * oh
    for p in rows:
        t_lo, t_hi = row_taps(p.count, h, 1, -p.base, -p.step, len(p.taps))
        for q in range(p.count):
            o = p.first + q * stride
            ih0[o], kp0[o], lo[o], hi[o] = p.base + q, p.start, t_lo[q], t_hi[q]
    return dict(ih0=ih0, kp0=kp0, m_lo=lo, m_hi=hi)


def row_context(rows: list[Phase], oh: int, h: int, stride: int, pad: int, reads: bool) -> dict:
    """The template context saying which taps output row oh reads: tap m (of the row's phase)
    reads input row ih0 - m * tap_step through phase-major kernel row kp0 + m, for m in the
    row's range. With stride 1 (one phase) ih0 is oh + first_row and kp0 is 0; otherwise
    both come from per-row tables, as does the tap range unless every row has the same.
    Tables are written only if some tile reads the input (`reads`)."""
    tables = row_tables(rows, oh, h, stride, pad)
    tap_range = uniform_range(tables["m_lo"], tables["m_hi"])
    first_row = rows[0].base if stride == 1 else None
    return dict(tap_step=rows[0].step, first_row=first_row, tap_range=tap_range,
                first_tap_tables=reads and first_row is None,
                tap_range_tables=reads and tap_range is None, **tables)


def phase_columns(cols: list[Phase], rb_w: int, w: int, stride: int) -> list[dict]:
    """The non-empty column phases, each with its tile variants (width, valid taps: the
    pixels of the tile whose input column for each of the phase's taps is inside, and the
    FMAs per input channel and output block that leaves) and the runs of tiles along it."""
    out = []
    for p in cols:
        if not p.count:
            continue
        instances, runs = column_tiles(p.count, balanced_widths(p.count, rb_w), w, 1,
                                       -p.base, -p.step, len(p.taps))
        variants = [dict(width=width, valid=valid, fmas=sum(map(len, valid)),
                         unroll=UNROLL if sum(map(len, valid)) <= UNROLL_FMAS else UNROLL_WIDE)
                    for width, valid in instances]
        out.append(dict(first=p.first, base=p.base, step=p.step, start=p.start,
                        variants=variants,
                        runs=[dict(variant=index, first=start, count=count,
                                   width=instances[index][0],
                                   comment=phase_run_comment(p, stride, start, count,
                                                             *instances[index]))
                              for index, start, count in runs]))
    return out


def phase_run_comment(p: Phase, stride: int, start: int, count: int, width: int,
                      valid: tuple) -> str:
    """What a run of tiles along a column phase covers, and which taps its tiles leave out."""
    first, last = p.first + start * stride, p.first + (start + count * width - 1) * stride
    text = f"output columns {first}..{last}" + (f" step {stride}" if stride > 1 else "") + \
        f": {count} tile{'s' * (count > 1)} of {width}"
    for t, tap in enumerate(p.taps):
        if len(valid[t]) != width:
            pixels = ",".join(map(str, valid[t])) or "none"
            text += f", kernel column {tap} only for tile pixels {pixels}"
    return text


def row_groups(rows: list[Phase], stride: int, items_per_group: int) -> list[list[int]]:
    """Output rows grouped by phase, each phase split into parts so that there are at least
    MIN_ITEMS work items (`items_per_group` work items share one group)."""
    per_phase = [[p.first + q * stride for q in range(p.count)] for p in rows if p.count]
    parts = 1
    while parts * len(per_phase) * items_per_group < MIN_ITEMS and \
            parts < max(len(r) for r in per_phase):
        parts += 1
    groups = []
    for r in per_phase:
        size = -(-len(r) // parts)
        groups += [r[i:i + size] for i in range(0, len(r), size)]
    return groups


def transposed_to_conv(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_in, C_out/g, KH, KW) -> (C_out, C_in/g, KH, KW), as a Conv2d weight is laid out."""
    ic, ocg, kh, kw = weight.shape
    icg = ic // groups
    w = weight.reshape(groups, icg, ocg, kh, kw).transpose(0, 2, 1, 3, 4)
    return w.reshape(groups * ocg, icg, kh, kw)


def conv_transpose2d_blocked(spec: KernelSpec, target) -> None:
    op = spec.node.op
    in_layout, out_layout = spec.in_layouts[0], spec.out_layout
    v = target.vector_floats
    n, ic, h, w = spec.in_shapes[0]
    _, oc, oh, ow = spec.out_shape
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw), (ph, pw) = op.stride, op.dilation, op.padding
    g = op.groups
    blocked_in = in_layout.blocked
    icv = v if blocked_in else ic
    icb_g = -(-(ic // g) // v) if blocked_in else 1
    ocb = -(-oc // v)
    ocb_g = ocb if g == 1 else (oc // g) // v
    rows, cols = phases(oh, kh, sh, ph, dh), phases(ow, kw, sw, pw, dw)
    rb_oc, rb_w = pick_phase_tile(target.isa, ocb_g, max(p.count for p in cols))
    col_phases = phase_columns(cols, rb_w, w, sw)

    # L2 budget: a group's weights for the kernel rows of one phase, per pass over its rows
    taps_h = max(len(p.taps) for p in rows)
    block_bytes = rb_oc * taps_h * kw * icv * v * 4
    chunks = 1
    if blocked_in and out_layout.blocked and icb_g * block_bytes > WEIGHT_CHUNK_BYTES:
        chunks = min(icb_g, -(-icb_g * block_bytes // WEIGHT_CHUNK_BYTES))
    chunk_icb = -(-icb_g // chunks)
    chunks = -(-icb_g // chunk_icb)
    if chunks > 1:
        groups = row_groups(rows, sh, n * (ocb // rb_oc))
    else:
        order = [p.first + q * sh for p in rows for q in range(p.count)]
        groups = [[o] for o in order]

    perm_h = [t for p in rows for t in p.taps]
    perm_w = [t for p in cols for t in p.taps]
    weight = transposed_to_conv(op.params["weight"], g)[:, :, perm_h][:, :, :, perm_w]
    bias = padded_bias(op, ocb * v)
    spec.template = "conv_transpose2d_blocked.c.j2"
    # [OCB][ICB][KH][KW][ICV][V] -> [OCB/RB_OC][ICB][KH][KW][ICV][RB_OC][V]: the RB_OC weight
    # vectors a tile loads per input channel sit side by side
    packed = pack_weights(weight, g, v, icv, blocked_in).reshape(
        ocb // rb_oc, rb_oc, icb_g, kh, kw, icv, v).transpose(0, 2, 3, 4, 5, 1, 6)
    spec.constant("weight", np.ascontiguousarray(packed),
                  f"{ocb // rb_oc}x{icb_g}x{kh}x{kw}x{icv}x{rb_oc}x{v}, taps by phase")
    spec.constant("bias", bias, f"{oc}" + (f" (+{ocb * v - oc} zero lanes)" if oc % v else ""))
    reads = any(var["fmas"] for cp in col_phases for var in cp["variants"])
    order = [o for x in groups for o in x]
    spec.ctx = dict(
        v=v, n=n, sw=sw,
        # work items: (image, group of tile_blocks output channel blocks, group of output rows)
        block_groups=ocb // rb_oc, tile_blocks=rb_oc, row_groups=len(groups), reads=reads,
        # input: in_blocks channel blocks (or icv NCHW channels) per group; with several
        # groups, block group og reads group og / group_blocks, from channel group_channels * it
        in_blocks=icb_g, icv=icv, group_blocks=ocb_g // rb_oc if g > 1 else 0,
        group_channels=icb_g * v,
        # weights: [block group][input block][kernel row][kernel column][icv][tile_blocks][V]
        group_weights=icb_g * kh * kw * icv * rb_oc * v,
        in_block_weights=kh * kw * icv * rb_oc * v, row_weights=kw * icv * rb_oc * v,
        column_weights=icv * rb_oc * v, channel_weights=rb_oc * v,
        col_phases=col_phases,
        # input channel blocks in chunks of chunk_blocks (the last one ends at in_blocks)
        chunks=chunks, chunk_blocks=chunk_icb, even_chunks=icb_g % chunk_icb == 0,
        chunk_end=[min((i + 1) * chunk_icb, icb_g) for i in range(chunks)],
        # output rows in work order (None: 0, 1, ..., one per work item); row group r is
        # row_order[group_start[r]:group_start[r + 1]]
        row_order=None if chunks == 1 and order == list(range(oh)) else order,
        group_start=[sum(len(x) for x in groups[:i]) for i in range(len(groups) + 1)],
        loop_order=work_order(n, packed.size, (-(-ic // v) * v if blocked_in else ic) * h * w),
        parallel=parallel_if(spec.flops),
        **row_context(rows, oh, h, sh, ph, reads))
    spec.note = (f"{in_layout} -> {out_layout}, {sh * sw} output phases, tile {rb_w} px x "
                 f"{rb_oc} blocks of {v}" + (f", {chunks} input chunks of {chunk_icb} blocks"
                                            if chunks > 1 else "") +
                 f", threads over ({work_order_text(spec.ctx['loop_order'])}"
                 + ("s)" if chunks > 1 else ")"))


# --- few output channels written to NCHW: vectorise over input channels instead ----------------

#: accumulators (pixels x output channels) of a dot-product tile
DOT_ACCUMULATORS = 24


def runs_conv_transpose_dot(node, target, layouts: Layouts) -> bool:
    """The DCGAN-style last layer: blocked input, NCHW output (and operands), C_out <= V/2
    (vectors over output channels would be at most half used; measured: 64 -> C_out 2..8 at
    64x64 runs 1.3-3.5x faster as dot products), one group."""
    op = node.op
    return (tiles_blocks(node, target) and op.groups == 1 and layouts.ins[0].blocked
            and not layouts.out.blocked and 2 * op.out_channels <= target.vector_floats
            and not any(lay.blocked for lay in layouts.ins[1:]))


def lane_sums(names: list[str], v: int, out: str, tmp_prefix: str = "r") -> list[dict]:
    """The shuffle tree that makes vector `out`, whose lane j is the sum of the lanes of
    names[j]: nodes {name, operands, mask, level} in order, each `name` = shuffle(operands,
    <mask>_lo<level>) + shuffle(operands, <mask>_hi<level>), the last one named `out` (or
    a single node with no mask when names[0] is the answer already). Level l halves the
    partial sums per vector: while there are several vectors it pairs them (masks pair_lo<l>,
    pair_hi<l> of `shuffle_masks`), then folds the last one onto itself (fold_lo<l>,
    fold_hi<l>). Missing vectors count as zero (`zero`); a pair of them is zero without a
    shuffle."""
    k = 1
    while k < len(names):
        k *= 2
    vecs = names + ["zero"] * (k - len(names))
    nodes, level = [], 0

    def node(operands: list[str], mask: str) -> str:
        nodes.append(dict(name=f"{tmp_prefix}{len(nodes)}", operands=operands, mask=mask,
                          level=level))
        return nodes[-1]["name"]

    while len(vecs) > 1:                     # pairs of vectors: vectors / 2, partials / 2
        vecs = ["zero" if a == b == "zero" else node([a, b], "pair")
                for a, b in zip(vecs[::2], vecs[1::2])]
        level += 1
    last = vecs[0]
    while v >> level > 1:                    # within the vector: partials / 2
        last = node([last], "fold")
        level += 1
    if not nodes:
        return [dict(name=out, operands=[last], mask=None, level=0)]
    nodes[-1]["name"] = out                  # the root is `out`
    return nodes


def shuffle_masks(v: int, used: set[str]) -> list[tuple[str, list[int]]]:
    """The shuffle masks of `lane_sums` trees named in `used`, in order: at level l (2^l
    groups of v >> l partial sums per vector), the low and the high half of each group, from
    two vectors (the first's, then the second's: lanes of the second count from v) or one."""
    masks = []
    level = 0
    while v >> level > 1:
        parts, groups = v >> level, 1 << level
        half = parts // 2
        lo = [s * parts + i for s in range(groups) for i in range(half)]
        hi = [x + half for x in lo]
        masks += [(f"pair_lo{level}", lo + [v + x for x in lo]),
                  (f"pair_hi{level}", hi + [v + x for x in hi]),
                  (f"fold_lo{level}", lo + [0] * (v - len(lo))),
                  (f"fold_hi{level}", hi + [0] * (v - len(hi)))]
        level += 1
    return [(name, lanes) for name, lanes in masks if name in used]


def conv_transpose2d_dot(spec: KernelSpec, target) -> None:
    """Per output phase as above, but a vector holds V input channels: accumulator (pixel,
    output channel) collects x[ic-block] * w[oc][tap][ic-block] over taps and input blocks,
    and the tile ends with a shuffle tree summing each accumulator's lanes."""
    lower_dot(spec, target, spec.node.op)


def lower_dot(spec: KernelSpec, target, op: ConvTranspose2d, what: str = "") -> None:
    """Fill `spec` with a conv_transpose2d_dot kernel computing `op` (which may stand in for
    the node's own op: conv_dot passes a Conv2d's stride-1 equivalent)."""
    v = target.vector_floats
    n, ic, h, w = spec.in_shapes[0]
    _, oc, oh, ow = spec.out_shape
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw), (ph, pw) = op.stride, op.dilation, op.padding
    icb = -(-ic // v)
    rows, cols = phases(oh, kh, sh, ph, dh), phases(ow, kw, sw, pw, dw)
    widest = max(p.count for p in cols)
    rb_w = max(balanced_widths(widest, min(v, DOT_ACCUMULATORS // oc)))
    col_phases = phase_columns(cols, rb_w, w, sw)
    for cp in col_phases:                      # each tile ends summing its vectors' lanes
        for var in cp["variants"]:
            var["sums"] = [node for o in range(oc) for node in
                           lane_sums([f"a{j}_{o}" for j in range(var["width"])], v, f"s{o}",
                                     f"r{o}_")]
    used = {f"{node['mask']}_{half}{node['level']}" for cp in col_phases
            for var in cp["variants"] for node in var["sums"] if node["mask"]
            for half in ("lo", "hi")}
    perm_h = [t for p in rows for t in p.taps]
    perm_w = [t for p in cols for t in p.taps]
    weight = transposed_to_conv(op.params["weight"], 1)[:, :, perm_h][:, :, :, perm_w]
    packed = np.zeros((oc, kh, kw, icb * v), np.float32)
    packed[..., :ic] = weight.transpose(0, 2, 3, 1)
    bias = padded_bias(op, oc)
    order = [p.first + q * sh for p in rows for q in range(p.count)]
    reads = any(var["fmas"] for cp in col_phases for var in cp["variants"])
    spec.template = "conv_transpose2d_dot.c.j2"
    spec.constant("weight", packed, f"{oc}x{kh}x{kw}x{icb * v}: [oc][tap][input channels]")
    spec.constant("bias", bias, f"{oc}")
    spec.ctx = dict(
        v=v, n=n, oh=oh, sw=sw, channels=oc,
        # input: in_blocks channel blocks, unroll_blocks of them at a time
        in_blocks=icb, unroll_blocks=2,
        # weights: [output channel][kernel row][kernel column][input channel block][V]
        channel_weights=kh * kw * icb * v, row_weights=kw * icb * v, column_weights=icb * v,
        col_phases=col_phases, reads=reads, masks=shuffle_masks(v, used),
        # output rows in work order (None: in order)
        row_order=None if order == list(range(oh)) else order,
        parallel=parallel_if(spec.flops), **row_context(rows, oh, h, sh, ph, reads))
    phase_count = f"{sh * sw} output phases, " if sh * sw > 1 else ""
    spec.note = (f"{spec.in_layouts[0]} -> NCHW, {what}{phase_count}dot products over input "
                 f"channel blocks, tile {rb_w} px x {oc} channels, threads over (n, row)")


CONV_TRANSPOSE2D_BLOCKED = Family("conv_transpose2d_blocked", runs_conv_transpose_blocked,
                                  conv_transpose2d_blocked)
CONV_TRANSPOSE2D_DOT = Family("conv_transpose2d_dot", runs_conv_transpose_dot,
                              conv_transpose2d_dot)
