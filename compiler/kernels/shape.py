"""Lowerings of the data-movement ops: Upsample, Pad, PixelShuffle and Cat.

Nearest upsampling, reflect/replicate/circular padding and pixel shuffle are one kernel,
gather2d.c.j2: each output plane reads one block of the input, and every output element's
offset inside that block is a row term plus a column term, both from small tables computed
here. Only those tables differ between the three ops, so the C stays one short loop nest.
Bilinear and bicubic upsampling (4 and 16 taps, float weights) and Cat (several inputs) have
their own.
"""
from __future__ import annotations

import math

from ..codegen.cexpr import Expr
from ..codegen.env import loop_values
from ..ops.conv import Pad
from ..ops.shape import Cat, PixelShuffle, Upsample
from .spec import KernelSpec
from .family import Family, Layouts, nchw_only
from .util import parallel_if


def plane_nc(shape) -> tuple[Expr, Expr]:
    """The epilogue's n (index in dim 0) and c (index in dim 1) of the element at (p, oh, ow)
    of a kernel that loops over planes `p` (every dim before the last two), then `oh`, then
    `ow`: index expressions of those loop variables (a loop that runs once is 0)."""
    *lead, oh, ow = shape
    p, row, col = loop_values([("p", math.prod(lead)), ("oh", oh), ("ow", ow)])
    if not lead:
        return row, col
    if len(lead) == 1:
        return p, row
    return p // math.prod(lead[1:]), p // math.prod(lead[2:]) % lead[1]


def lower_gather(spec: KernelSpec, plane_in: int, rows: list[int], cols: list[int],
                 note: str) -> None:
    """out[p][oh][ow] = in0[p * plane_in + rows[oh] + cols[ow]]."""
    *lead, oh, ow = spec.out_shape
    planes = math.prod(lead)
    n_index, c_index = plane_nc(spec.out_shape)
    spec.template = "gather2d.c.j2"
    spec.ctx = dict(
        planes=planes, plane_in=plane_in, oh=oh, ow=ow, rows=rows, cols=cols,
        # the element's index in dims 0 and 1, for the fused steps
        n_index=n_index, c_index=c_index,
        parallel=bool(parallel_if(8 * spec.out_numel)) and planes * oh > 1)
    spec.note = note + "; threads over (plane, output row)"


def upsample_nearest(spec: KernelSpec, target) -> None:
    op = spec.node.op
    h, w = spec.in_shapes[0][2:]
    rows, cols = nearest_tables(op, (h, w), spec.out_shape[2:])
    lower_gather(spec, h * w, [r * w for r in rows], cols,
                        f"{op.mode} upsampling as a gather with PyTorch's source-index tables")


def nearest_tables(op: Upsample, size: tuple, out: tuple) -> tuple[list[int], list[int]]:
    """Nearest / nearest-exact: the source row of every output row, the source column of
    every output column (PyTorch's indexing, which depends on the output size)."""
    small = op.small_output(*out)
    return (op.nearest_sources(size[0], out[0], 0, small),
            op.nearest_sources(size[1], out[1], 1, small))


def bilinear_tables(op: Upsample, size: tuple, out: tuple) -> dict:
    """Bilinear: per output row its two source rows (row0, row1) and float32 weights (a0, a1),
    per output column its two source columns (col0, col1) and weights (b0, b1)."""
    rows, cols = op.linear_sources(size[0], out[0], 0), op.linear_sources(size[1], out[1], 1)
    return dict(row0=[r[0] for r in rows], row1=[r[1] for r in rows],
                a0=[float(r[2]) for r in rows], a1=[float(r[3]) for r in rows],
                col0=[q[0] for q in cols], col1=[q[1] for q in cols],
                b0=[float(q[2]) for q in cols], b1=[float(q[3]) for q in cols])


def pad_source(i: int, before: int, size: int, mode: str) -> int:
    """The input index that padded index `i` copies (PyTorch's reflect/replicate/circular)."""
    j = i - before
    if mode == "reflect":                    # mirror without repeating the edge
        j = -j if j < 0 else j
        return 2 * (size - 1) - j if j >= size else j
    if mode == "replicate":
        return min(max(j, 0), size - 1)
    return j % size                          # circular


def pad(spec: KernelSpec, target) -> None:
    op = spec.node.op
    h, w = spec.in_shapes[0][2:]
    oh, ow = spec.out_shape[2:]
    pt, _, pl, _ = op.padding
    rows = [pad_source(i, pt, h, op.mode) * w for i in range(oh)]
    cols = [pad_source(j, pl, w, op.mode) for j in range(ow)]
    lower_gather(spec, h * w, rows, cols, f"{op.mode} padding as a gather")


def pixel_shuffle(spec: KernelSpec, target) -> None:
    """Output plane (.., c) reads input channels c*r*r .. c*r*r + r*r - 1; output (oh, ow)
    is input channel (oh % r) * r + ow % r of that block at (oh / r, ow / r)."""
    r = spec.node.op.r
    h, w = spec.in_shapes[0][-2:]
    oh, ow = spec.out_shape[-2:]
    rows = [(i % r) * r * h * w + (i // r) * w for i in range(oh)]
    cols = [(j % r) * h * w + j // r for j in range(ow)]
    lower_gather(spec, r * r * h * w, rows, cols, f"pixel shuffle r={r} as a gather")


def upsample_bilinear(spec: KernelSpec, target) -> None:
    """y = a0 * (b0*x00 + b1*x01) + a1 * (b0*x10 + b1*x11), the order of PyTorch's generic
    CPU kernel, with its float32 source indices and weights as literal tables."""
    op = spec.node.op
    h, w = spec.in_shapes[0][2:]
    oh, ow = spec.out_shape[2:]
    tables = bilinear_tables(op, (h, w), (oh, ow))
    tables["row0"] = [r * w for r in tables["row0"]]
    tables["row1"] = [r * w for r in tables["row1"]]
    planes = math.prod(spec.out_shape[:2])
    n_index, c_index = plane_nc(spec.out_shape)
    spec.template = "upsample_bilinear.c.j2"
    spec.ctx = dict(
        planes=planes, plane=h * w, oh=oh, ow=ow, **tables,
        # the element's index in dims 0 and 1, for the fused steps
        n_index=n_index, c_index=c_index,
        parallel=bool(parallel_if(max(spec.flops, 8 * spec.out_numel))) and planes * oh > 1)
    spec.note = (f"bilinear upsampling (align_corners={op.align_corners}), NCHW, weight tables; "
                 "threads over (plane, output row)")


def upsample_bicubic(spec: KernelSpec, target) -> None:
    """Each output row blends four input rows, each output column four columns, with
    PyTorch's float32 weights and border-clamped indices: per row i, t_i = sum over columns j
    of x[i][j] * wc[j], then y = sum over i of t_i * wr[i], summed in PyTorch's order."""
    op = spec.node.op
    h, w = spec.in_shapes[0][2:]
    oh, ow = spec.out_shape[2:]
    rows, cols = op.cubic_sources(h, oh, 0), op.cubic_sources(w, ow, 1)
    planes = math.prod(spec.out_shape[:2])
    n_index, c_index = plane_nc(spec.out_shape)
    spec.template = "upsample_bicubic.c.j2"
    spec.ctx = dict(
        planes=planes, plane=h * w, oh=oh, ow=ow,
        # four taps per output row (offsets row * W) and column, and their weights
        rows=[r * w for taps, _ in rows for r in taps],
        row_weights=[float(x) for _, weights in rows for x in weights],
        cols=[q for taps, _ in cols for q in taps],
        col_weights=[float(x) for _, weights in cols for x in weights],
        n_index=n_index, c_index=c_index,
        parallel=bool(parallel_if(max(spec.flops, 8 * spec.out_numel))) and planes * oh > 1)
    spec.note = (f"bicubic upsampling (align_corners={op.align_corners}), NCHW, 4x4 taps from "
                 "index and weight tables; threads over (plane, output row)")


def cat(spec: KernelSpec, target) -> None:
    """Viewing each tensor as [outer][rest] (outer = dims before `dim`), input i's rows of
    len_i floats land at column col_i of the output's rows; one parallel copy per input."""
    dim = spec.node.op.dim
    shape = spec.out_shape
    outer, inner = math.prod(shape[:dim]), math.prod(shape[dim + 1:])
    parts, col = [], 0
    for s in spec.in_shapes[:spec.anchor_arity]:
        length = s[dim] * inner
        parts.append(dict(len=length, col=col, parallel=bool(parallel_if(8 * outer * length))))
        col += length
    spec.template = "cat.c.j2"
    spec.ctx = dict(outer=outer, row=col, parts=parts,
                    parallel=any(part["parallel"] for part in parts))
    spec.note = f"concatenation along dim {dim}: one row copy per input, threads over rows"


def nearest_mode(node, target, layouts: Layouts) -> bool:
    return node.op.mode in ("nearest", "nearest-exact") and layouts.nchw


def bilinear_mode(node, target, layouts: Layouts) -> bool:
    return node.op.mode == "bilinear" and layouts.nchw


def bicubic_mode(node, target, layouts: Layouts) -> bool:
    return node.op.mode == "bicubic" and layouts.nchw


UPSAMPLE_NEAREST = Family("gather2d_nearest", nearest_mode, upsample_nearest, reference=True)
UPSAMPLE_BILINEAR = Family("upsample_bilinear", bilinear_mode, upsample_bilinear,
                           reference=True)
UPSAMPLE_BICUBIC = Family("upsample_bicubic", bicubic_mode, upsample_bicubic, reference=True)
PAD = Family("gather2d_pad", nchw_only, pad, reference=True)
PIXEL_SHUFFLE = Family("gather2d_pixel_shuffle", nchw_only, pixel_shuffle, reference=True)
CAT = Family("cat", nchw_only, cat, reference=True)
