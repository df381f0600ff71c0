"""MaxPool2d, AvgPool2d and the adaptive pools on channel-blocked (NCHW[V]c) tensors.

One template, pool2d_blocked.c.j2, vectorised across the V channels of a block: every tap of
a window is one vector load of a pixel's V channels, so the max (NaN-propagating, per lane)
or the float sum runs in a vector register and is stored once per output pixel. Windows come
from the same per-axis tables as the NCHW kernels (compiler/kernels/pool.py), so padding,
dilation, ceil mode and PyTorch's divisors are identical and every lane sums in the same
order. Work item = (n, channel block, output row). Windows with all their taps inside the
input (up to MAX_UNROLLED_TAPS) take an unrolled path; there the max runs one chain per window
row and then across rows (shorter dependency chains; the same result, NaN included). A global
average pool (1x1 output, ResNet's last pool) is a vector sum over the H*W pixels of a block
with four accumulators. Padded lanes read zero, so they pool to zero; after a fused epilogue
they are zeroed again.
"""
from __future__ import annotations

from .spec import KernelSpec
from .family import Family, Layouts
from .pool import pool_tables
from .util import parallel_if

#: windows of up to this many taps get an unrolled path (taken when no tap is clipped)
MAX_UNROLLED_TAPS = 16


def is_global_mean(rows, cols, h: int, w: int) -> bool:
    """One window covering the whole input, divided by H*W: a plain mean per channel."""
    (row_first, row_count, row_factor), (col_first, col_count, col_factor) = rows, cols
    return (row_first, row_count, col_first, col_count) == ([0], [h], [0], [w]) and \
        row_factor[0] * col_factor[0] == h * w


def all_blocked(node, target, layouts: Layouts) -> bool:
    """4-D data in one blocked layout everywhere (input, output, fused operands), nothing
    fused into its loads or stores but elementwise steps: what the blocked data-movement
    kernels (pools, upsampling, cat) take."""
    return (target.vector_floats > 1 and len(node.shape) == 4
            and all(len(x.shape) == 4 for x in node.inputs) and not node.prologue
            and node.store is None and layouts.out.blocked and layouts.same())


def lower_pool_blocked(spec: KernelSpec, target) -> None:
    v = spec.out_layout.v
    n, c, h, w = spec.in_shapes[0]
    oh, ow = spec.out_shape[2:]
    t = pool_tables(spec.node.op, h, w, oh, ow)
    rows, cols = t["rows"], t["cols"]
    whole = t["kind"] == "avg" and is_global_mean(rows, cols, h, w) and t["divide"] == "product"
    kh, kw = max(rows[1]), max(cols[1])           # the most taps a window has per axis
    cb = -(-c // v)
    moved = 4 * (n * cb * v) * (h * w + oh * ow)                       # bytes
    spec.template = "pool2d_blocked.c.j2"
    row_step, col_step = t["dilation"][0] * w * v, t["dilation"][1] * v
    spec.ctx = dict(
        kind="global" if whole else t["kind"], divide=t["divide"], v=v, n=n, cb=cb, oh=oh, ow=ow,
        row_first=rows[0], row_count=rows[1], row_factor=rows[2],
        col_first=cols[0], col_count=cols[1], col_factor=cols[2],
        # floats between a window's taps, along a column and along a row
        row_step=row_step, col_step=col_step,
        # the unrolled path (windows of kh x kw taps): tap (i, j) is taps[i][j] floats on
        kh=kh, kw=kw, unroll=kh * kw <= MAX_UNROLLED_TAPS,
        taps=[[i * row_step + j * col_step for j in range(kw)] for i in range(kh)],
        pixels=h * w,                 # a global pool's inputs per channel block
        parallel=bool(parallel_if(max(spec.flops, moved))) and n * cb * (1 if whole else oh) > 1)
    what = {"max": "NaN-propagating vector max", "avg": "vector float sum",
            "global": "global vector sum, 4 accumulators"}[spec.ctx["kind"]]
    spec.note = (f"{spec.out_layout}, {what} over {v} channels per tap, window tables; "
                 f"threads over (n, channel block{', output row' if not whole else ''})")


POOL2D_BLOCKED = Family("pool2d_blocked", all_blocked, lower_pool_blocked)
