"""Lowerings of Conv2d, ConvTranspose2d and Pad."""
from __future__ import annotations

from .spec import KernelSpec
from .tiling import uniform_range
from .family import Family, nchw_only
from .util import parallel_if


def valid_range(out: int, size: int, stride: int, offset: int) -> tuple[int, int]:
    """Outputs o in [lo, hi) with 0 <= o*stride + offset < size (hi >= lo)."""
    lo = max(0, (-offset + stride - 1) // stride)
    hi = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return min(lo, out), max(min(lo, out), min(hi, out))


def conv2d_direct(spec: KernelSpec, target) -> None:
    """Any Conv2d, with a load prologue and a PixelShuffle store pattern if the plan has them."""
    op = spec.node.op
    n, ic, h, w = spec.in_shapes[0]
    _, oc, oh, ow = op.infer_shape(spec.in_shapes[0])
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw) = op.stride, op.dilation
    pt, _, pl, _ = op.padding
    rows = [valid_range(oh, h, sh, i * dh - pt) for i in range(kh)]
    cols = [valid_range(ow, w, sw, j * dw - pl) for j in range(kw)]
    spec.template = "conv2d.c.j2"
    spec.constant("weight", op.params["weight"], f"{oc}x{ic // op.groups}x{kh}x{kw}")
    if "bias" in op.params:
        spec.constant("bias", op.params["bias"], f"{oc}")
    oh_lo, oh_hi = [r[0] for r in rows], [r[1] for r in rows]
    ow_lo, ow_hi = [c[0] for c in cols], [c[1] for c in cols]
    spec.ctx = dict(
        n=n, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, pt=pt, pl=pl,
        # channels per group, in and out; weights [oc][ic of its group][kh][kw]
        icg=ic // op.groups, ocg=oc // op.groups, has_bias="bias" in op.params,
        # per kernel row (column): the output rows (columns) whose input lies inside, as
        # (first, count) when the same for every kernel row (column), else as tables
        out_rows=uniform_range(oh_lo, oh_hi), oh_lo=oh_lo, oh_hi=oh_hi,
        out_cols=uniform_range(ow_lo, ow_hi), ow_lo=ow_lo, ow_hi=ow_hi,
        parallel=parallel_if(spec.flops))
    spec.note = "reference direct convolution, NCHW, threads over (n, oc)" + (
        f"; stores through PixelShuffle({spec.node.store.op.r})" if spec.node.store else "")


def conv_transpose2d_direct(spec: KernelSpec, target) -> None:
    """Per (n, oc) output plane, every (ic, kh, kw) tap adds one input row into a strided row
    of the plane: output (ih*s + k*d - p) for the inputs ih whose target lies in the plane."""
    op = spec.node.op
    n, ic, h, w = spec.in_shapes[0]
    _, oc, oh, ow = spec.out_shape
    kh, kw = op.kernel_size
    (sh, sw), (dh, dw), (ph, pw) = op.stride, op.dilation, op.padding
    icg, ocg = ic // op.groups, oc // op.groups
    # inputs ih (iw) in [lo, hi) whose output row (col) for tap kh (kw) lies inside the output
    rows = [valid_range(h, oh, sh, i * dh - ph) for i in range(kh)]
    cols = [valid_range(w, ow, sw, j * dw - pw) for j in range(kw)]
    # (C_in, C_out/g, kH, kW) -> (C_out, C_in/g, kH, kW): each output channel's taps contiguous
    weight = op.params["weight"].reshape(op.groups, icg, ocg, kh, kw).transpose(0, 2, 1, 3, 4)
    spec.template = "conv_transpose2d.c.j2"
    spec.constant("weight", weight.reshape(oc, icg, kh, kw), f"{oc}x{icg}x{kh}x{kw} (oc-major)")
    if "bias" in op.params:
        spec.constant("bias", op.params["bias"], f"{oc}")
    ih_lo, ih_hi = [r[0] for r in rows], [r[1] for r in rows]
    iw_lo, iw_hi = [c[0] for c in cols], [c[1] for c in cols]
    spec.ctx = dict(
        n=n, oc=oc, kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, ph=ph, pw=pw, plane=oh * ow,
        # channels per group, in and out; weights [oc][ic of its group][kh][kw]
        icg=icg, ocg=ocg, has_bias="bias" in op.params,
        # per kernel row (column): the input rows (columns) whose output lies inside, as
        # (first, count) when the same for every kernel row (column), else as tables
        in_rows=uniform_range(ih_lo, ih_hi), ih_lo=ih_lo, ih_hi=ih_hi,
        in_cols=uniform_range(iw_lo, iw_hi), iw_lo=iw_lo, iw_hi=iw_hi,
        parallel=parallel_if(spec.flops))
    spec.note = "reference transposed convolution, NCHW, threads over (n, oc) output planes"


CONV2D_DIRECT = Family("conv2d_direct", nchw_only, conv2d_direct, reference=True)
CONV_TRANSPOSE2D_DIRECT = Family("conv_transpose2d_direct", nchw_only, conv_transpose2d_direct,
                                 reference=True)
