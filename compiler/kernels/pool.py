"""Lowerings of MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d.

All four run one template, pool2d.c.j2, driven by per-axis window tables computed here: for
every output row (column) the first input row (column) of its window that lies inside the
input, how many taps of the window do, and for averages the divisor factor of that axis.
PyTorch's padding and ceil-mode rules live in these tables, so the C has no bounds checks.
"""
from __future__ import annotations

import math

from ..ops.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .spec import KernelSpec
from .family import Family, nchw_only
from .shape import plane_nc
from .util import parallel_if


def clipped_taps(start: int, kernel: int, dilation: int, size: int) -> tuple[int, int]:
    """(first valid input index, number of valid taps) of the taps start + t*dilation,
    t < kernel, that fall inside [0, size). (0, 0) when none does."""
    lo = (-start + dilation - 1) // dilation if start < 0 else 0
    hi = min(kernel, (size - 1 - start) // dilation + 1) if start <= size - 1 else 0
    if hi <= lo:
        return 0, 0
    return start + lo * dilation, hi - lo


def window_tables(op, size: int, axis: int):
    """MaxPool2d / AvgPool2d tables along one axis: (first, count, divisor factor) per output."""
    k, p, d = op.kernel_size[axis], op.padding[axis], op.dilation[axis]
    first, count, factor = [], [], []
    for start, _ in op.windows(size, axis):
        f, n = clipped_taps(start, k, d, size)
        first.append(f)
        count.append(n)
        if isinstance(op, AvgPool2d):
            if op.divisor_override:
                factor.append(op.divisor_override if axis == 0 else 1)
            elif op.count_include_pad:       # the window clipped to the padded input
                factor.append(min(start + k, size + p) - start)
            else:                            # the window clipped to the input
                factor.append(max(n, 1))
    return first, count, factor


def adaptive_tables(size: int, out: int):
    """Adaptive pool tables along one axis: (first, count, divisor factor) per output."""
    windows = AdaptiveAvgPool2d.windows(size, out)
    counts = [end - start for start, end in windows]
    return [start for start, _ in windows], counts, counts


def pool_tables(op, h: int, w: int, oh: int, ow: int) -> dict:
    """Everything both pool templates need besides shapes: kind ("max" or "avg"), divide
    ("product": sum / (fr * fc), "each": sum / fr / fc), per-axis (first, count, factor)
    tables and the dilation (in input rows / columns per tap).

    PyTorch sums an AvgPool2d window in float, row by row, and divides once by an integer
    divisor; AdaptiveAvgPool2d divides the float window sum by the row count, then by the
    column count, except that for a 1x1 output it takes the mean (one division by H*W)."""
    if isinstance(op, (AdaptiveAvgPool2d, AdaptiveMaxPool2d)):
        divide = "product" if (oh, ow) == (1, 1) else "each"
        return dict(kind="avg" if isinstance(op, AdaptiveAvgPool2d) else "max", divide=divide,
                    rows=adaptive_tables(h, oh), cols=adaptive_tables(w, ow), dilation=(1, 1))
    kind = "max" if isinstance(op, MaxPool2d) else "avg"
    return dict(kind=kind, divide="product", rows=window_tables(op, h, 0),
                cols=window_tables(op, w, 1), dilation=op.dilation if kind == "max" else (1, 1))


def lower_pool(spec: KernelSpec, note: str) -> None:
    """Fill `spec` for pool2d.c.j2 (NCHW, or any dims before H, W)."""
    *lead, h, w = spec.in_shapes[0]
    oh, ow = spec.out_shape[-2:]
    t = pool_tables(spec.node.op, h, w, oh, ow)
    rows, cols, dilation = t["rows"], t["cols"], t["dilation"]
    n_index, c_index = plane_nc(spec.out_shape)
    planes = math.prod(lead)
    moved = 4 * (math.prod(spec.in_shapes[0]) + spec.out_numel)      # bytes
    spec.template = "pool2d.c.j2"
    spec.ctx = dict(
        kind=t["kind"], divide=t["divide"], planes=planes, plane=h * w, w=w, oh=oh, ow=ow,
        row_first=rows[0], row_count=rows[1], row_factor=rows[2],
        col_first=cols[0], col_count=cols[1], col_factor=cols[2],
        # input floats between a window's taps, along a column and along a row
        row_step=dilation[0] * w, col_step=dilation[1],
        # the element's index in dims 0 and 1, for the fused steps
        n_index=n_index, c_index=c_index,
        parallel=bool(parallel_if(max(spec.flops, moved))) and planes * oh > 1)
    spec.note = note + "; threads over (plane, output row)"


def pool2d(spec: KernelSpec, target) -> None:
    """Any of the four pools, NCHW."""
    notes = {MaxPool2d: "max pooling, NCHW, NaN-propagating max over clipped window tables",
             AvgPool2d: "average pooling, NCHW, float sum over clipped window tables",
             AdaptiveAvgPool2d: "adaptive average pooling, NCHW, float sum over window tables",
             AdaptiveMaxPool2d: "adaptive max pooling, NCHW, NaN-propagating max over window "
                                "tables"}
    lower_pool(spec, "reference " + notes[type(spec.node.op)])


POOL2D = Family("pool2d", nchw_only, pool2d, reference=True)
