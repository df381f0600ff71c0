"""Resize and Upsample as smelt's Upsample, where ONNX's coordinate rules are PyTorch's.

smelt resizes as PyTorch's interpolate does: nearest (floor of the output index times the
scale), nearest-exact, bilinear and bicubic (A = -0.75) with or without align_corners. Each
is one combination of ONNX's coordinate_transformation_mode and nearest_mode; the others
(asymmetric linear, tf_crop_and_resize, rounding to the nearest source, ...) are refused.
"""
from __future__ import annotations

import numpy as np

from .. import ops

#: (coordinate_transformation_mode, nearest_mode) -> smelt's nearest mode
NEAREST = {("asymmetric", "floor"): "nearest",
           ("half_pixel", "round_prefer_ceil"): "nearest-exact",
           ("tf_half_pixel_for_nn", "floor"): "nearest-exact"}
#: coordinate_transformation_mode of linear and cubic -> align_corners
ALIGN = {"half_pixel": False, "pytorch_half_pixel": False, "align_corners": True}
MODES = {"linear": "bilinear", "cubic": "bicubic"}


def resize(n):
    x = n.tensor(0)
    mode = n.attr("mode", "nearest")
    if n.op_type == "Upsample" or n.opset < 11:    # asymmetric, rounding down (upsampling)
        scales = n.attr("scales") if n.opset < 9 else n.const(1 if n.opset < 11 else 2,
                                                               "scales")
        sizes, coord, nearest = None, "asymmetric", "floor"
    else:
        scales, sizes = n.const(2, "scales"), n.const(3, "sizes")
        coord = n.attr("coordinate_transformation_mode", "half_pixel")
        nearest = n.attr("nearest_mode", "round_prefer_floor")
    if n.refused or x is None:
        return None
    rank = len(x.shape)
    scales = per_axis(n, scales, [1.0] * rank, float)
    sizes = per_axis(n, sizes, list(x.shape), int)
    if rank != 4:
        n.refuse(f"resizing a {rank}-D tensor: smelt resizes N x C x H x W")
        return None
    if scales is None and sizes is None:
        n.refuse("neither scales nor sizes is given")
        return None
    if scales is not None and scales[:2] != [1.0, 1.0] or \
            sizes is not None and tuple(sizes[:2]) != x.shape[:2]:
        n.refuse(f"resizing the batch or channel dims (scales {scales}, sizes {sizes})")
    out = sizes[2:] if sizes is not None else \
        [int(np.floor(d * s)) for d, s in zip(x.shape[2:], scales[2:])]
    smaller = any(o < d for o, d in zip(out, x.shape[2:]))
    if mode == "nearest":
        smelt_mode, align = NEAREST.get((coord, nearest)), False
        if smelt_mode is None:
            n.refuse(f"nearest resizing with coordinate_transformation_mode={coord!r} and "
                     f"nearest_mode={nearest!r}: smelt's nearest modes are PyTorch's "
                     "(asymmetric + floor, half_pixel + round_prefer_ceil)")
        if n.op_type == "Upsample" or n.opset < 11:
            if smaller:      # the old operators round such source positions up
                n.refuse("downsampling in nearest mode before opset 11")
    elif mode in MODES:
        smelt_mode, align = MODES[mode], ALIGN.get(coord)
        if align is None:
            n.refuse(f"{mode} resizing with coordinate_transformation_mode={coord!r}: smelt "
                     f"interpolates as PyTorch (half_pixel, pytorch_half_pixel, "
                     "align_corners)")
        if coord == "pytorch_half_pixel" and 1 in out and min(x.shape[2:]) > 1:
            n.refuse("pytorch_half_pixel to an output of size 1 (it reads the first pixel, "
                     "PyTorch the centre)")
        if mode == "cubic" and (not np.float32(n.attr("cubic_coeff_a", -0.75)) ==
                                np.float32(-0.75) or n.attr("exclude_outside", 0)):
            n.refuse(f"cubic_coeff_a={n.attr('cubic_coeff_a', -0.75)}, exclude_outside="
                     f"{n.attr('exclude_outside', 0)}: smelt's bicubic is PyTorch's "
                     "(A = -0.75, taps outside the image clamped)")
    else:
        n.refuse(f"mode={mode!r}")
    if n.attr("antialias", 0) and smaller:
        n.refuse("antialias=1 when downsampling")
    if sizes is not None and n.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        n.refuse(f"keep_aspect_ratio_policy={n.attr('keep_aspect_ratio_policy')!r}")
    if n.refused:
        return None
    if sizes is not None:
        op = ops.Upsample(smelt_mode, tuple(out), None, align, False)
    else:
        op = ops.Upsample(smelt_mode, None, tuple(scales[2:]), align, False)
    return n.emit(op, [x])


def per_axis(n, values, defaults: list, kind) -> list | None:
    """scales or sizes for every axis (Resize-18 may give them for `axes` only, the others
    keeping `defaults`)."""
    if values is None or np.size(values) == 0:
        return None
    values = [kind(v) for v in np.asarray(values).reshape(-1)]
    axes = n.attr("axes")
    if axes is None:
        return values
    full = list(defaults)
    for axis, v in zip(axes, values):
        full[int(axis) % len(full)] = v
    return full
