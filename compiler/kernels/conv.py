"""Lowerings of Conv2d, ConvTranspose2d and Pad."""
from __future__ import annotations

from ..ops.conv import Conv2d, ConvTranspose2d
from .base import KernelSpec, register
from .util import parallel_if


def valid_range(out: int, size: int, stride: int, offset: int) -> tuple[int, int]:
    """Outputs o in [lo, hi) with 0 <= o*stride + offset < size (hi >= lo)."""
    lo = max(0, (-offset + stride - 1) // stride)
    hi = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return min(lo, out), max(min(lo, out), min(hi, out))


def store_layout(spec: KernelSpec, oc: int, oh: int, ow: int) -> dict:
    """Where output plane (n, oc) goes: C offset of its (0, 0) element, then row and column
    strides. Plain NCHW, or the positions a fused PixelShuffle(r) moves them to."""
    store = spec.node.store
    if store is None:
        return dict(plane=f"((size_t)n * {oc} + oc) * {oh * ow}", row_stride=ow, col_stride=1)
    r = store.op.r
    width, height = ow * r, oh * r
    return dict(plane=f"((size_t)(n * {oc // (r * r)} + oc / {r * r}) * {height} + "
                      f"oc / {r} % {r}) * {width} + oc % {r}",
                row_stride=r * width, col_stride=r)


@register(Conv2d, "conv2d_direct")
def conv2d_direct(spec: KernelSpec, target) -> bool:
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
    spec.ctx = dict(n=n, ic=ic, h=h, w=w, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw,
                    dh=dh, dw=dw, pt=pt, pl=pl, icg=ic // op.groups, ocg=oc // op.groups,
                    has_bias="bias" in op.params,
                    oh_lo=[r[0] for r in rows], oh_hi=[r[1] for r in rows],
                    ow_lo=[c[0] for c in cols], ow_hi=[c[1] for c in cols],
                    parallel=parallel_if(spec.flops), **store_layout(spec, oc, oh, ow))
    spec.note = "reference direct convolution, NCHW, threads over (n, oc)" + (
        f"; stores through PixelShuffle({spec.node.store.op.r})" if spec.node.store else "")
    return True


@register(ConvTranspose2d, "conv_transpose2d_direct")
def conv_transpose2d_direct(spec: KernelSpec, target) -> bool:
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
    spec.ctx = dict(n=n, ic=ic, h=h, w=w, oc=oc, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw,
                    dh=dh, dw=dw, ph=ph, pw=pw, icg=icg, ocg=ocg, has_bias="bias" in op.params,
                    ih_lo=[r[0] for r in rows], ih_hi=[r[1] for r in rows],
                    iw_lo=[c[0] for c in cols], iw_hi=[c[1] for c in cols],
                    parallel=parallel_if(spec.flops))
    spec.note = "reference transposed convolution, NCHW, threads over (n, oc) output planes"
    return True
