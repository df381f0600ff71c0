"""Conv2d, ConvTranspose2d and Pad (for conv's non-zero padding modes)."""
from __future__ import annotations

import numpy as np

from .base import Op, numel


def conv_out_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(Op):
    """y = conv2d(x, weight) + bias, NCHW, with PyTorch's stride/padding/dilation/groups.

    `padding` is (top, bottom, left, right): 'same' with an even effective kernel pads one
    more on the bottom/right, as PyTorch does.
    """

    channel_source = True
    unbatched = True


    def __init__(self, weight, bias, stride, padding, dilation, groups):
        self.params = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    @property
    def out_channels(self) -> int:
        return self.params["weight"].shape[0]

    @property
    def in_channels(self) -> int:
        return self.params["weight"].shape[1] * self.groups

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.params["weight"].shape[2:]

    def attrs(self):
        out = {"in": self.in_channels, "out": self.out_channels, "kernel": tuple(self.kernel_size)}
        if self.stride != (1, 1):
            out["stride"] = self.stride
        if any(self.padding):
            out["padding"] = self.padding
        if self.dilation != (1, 1):
            out["dilation"] = self.dilation
        if self.groups != 1:
            out["groups"] = self.groups
        if "bias" not in self.params:
            out["bias"] = False
        return out

    def infer_shape(self, x):
        self.require(len(x) == 4, f"expected a 4-D input (N, C, H, W), got {len(x)}-D")
        n, c, h, w = x
        self.require(c == self.in_channels,
                     f"expected {self.in_channels} input channels, got {c}")
        pt, pb, pl, pr = self.padding
        kh, kw = self.kernel_size
        dh, dw = self.dilation
        self.require(h + pt + pb >= dh * (kh - 1) + 1 and w + pl + pr >= dw * (kw - 1) + 1,
                     f"padded input {h + pt + pb}x{w + pl + pr} is smaller than the "
                     f"(dilated) kernel {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1}")
        oh = conv_out_size(h, kh, self.stride[0], pt + pb, dh)
        ow = conv_out_size(w, kw, self.stride[1], pl + pr, dw)
        return (n, self.out_channels, oh, ow)

    def flops(self, in_shapes, out_shape):
        kh, kw = self.kernel_size
        return 2 * numel(out_shape) * (self.in_channels // self.groups) * kh * kw

    def reference(self, x):
        pt, pb, pl, pr = self.padding
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        w = self.params["weight"].astype(np.float64)
        n, _, oh, ow = self.infer_shape(x.shape)
        (sh, sw), (dh, dw), g = self.stride, self.dilation, self.groups
        oc, icg, kh, kw = w.shape
        ocg = oc // g
        y = np.zeros((n, oc, oh, ow))
        for gi in range(g):
            xg = xp[:, gi * icg:(gi + 1) * icg]
            wg = w[gi * ocg:(gi + 1) * ocg]
            for i in range(kh):
                for j in range(kw):
                    patch = xg[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                               j * dw:j * dw + sw * (ow - 1) + 1:sw]
                    y[:, gi * ocg:(gi + 1) * ocg] += np.einsum("nchw,oc->nohw", patch,
                                                               wg[:, :, i, j])
        if "bias" in self.params:
            y += self.params["bias"].astype(np.float64)[None, :, None, None]
        return y.astype(np.float32)


class ConvTranspose2d(Op):
    """The gradient of Conv2d w.r.t. its input: weight (C_in, C_out/groups, kH, kW)."""

    channel_source = True
    unbatched = True


    def __init__(self, weight, bias, stride, padding, output_padding, groups, dilation):
        self.params = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation

    @property
    def in_channels(self) -> int:
        return self.params["weight"].shape[0]

    @property
    def out_channels(self) -> int:
        return self.params["weight"].shape[1] * self.groups

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.params["weight"].shape[2:]

    def attrs(self):
        out = {"in": self.in_channels, "out": self.out_channels, "kernel": tuple(self.kernel_size),
               "stride": self.stride}
        for name, default in (("padding", (0, 0)), ("output_padding", (0, 0)),
                              ("dilation", (1, 1)), ("groups", 1)):
            if getattr(self, name) != default:
                out[name] = getattr(self, name)
        if "bias" not in self.params:
            out["bias"] = False
        return out

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op in zip(
            (h, w), self.stride, self.padding, self.dilation, self.kernel_size,
            self.output_padding))

    def infer_shape(self, x):
        self.require(len(x) == 4, f"expected a 4-D input (N, C, H, W), got {len(x)}-D")
        n, c, h, w = x
        self.require(c == self.in_channels, f"expected {self.in_channels} input channels, got {c}")
        oh, ow = self.out_size(h, w)
        self.require(oh > 0 and ow > 0, f"output size {oh}x{ow} is not positive")
        return (n, self.out_channels, oh, ow)

    def flops(self, in_shapes, out_shape):
        kh, kw = self.kernel_size
        return 2 * numel(in_shapes[0]) * (self.out_channels // self.groups) * kh * kw

    def reference(self, x):
        w = self.params["weight"].astype(np.float64)
        n, c, h, wd = x.shape
        ic, ocg, kh, kw = w.shape
        g = self.groups
        icg = ic // g
        (sh, sw), (dh, dw) = self.stride, self.dilation
        full = np.zeros((n, ocg * g, (h - 1) * sh + dh * (kh - 1) + 1 + self.output_padding[0],
                         (wd - 1) * sw + dw * (kw - 1) + 1 + self.output_padding[1]))
        x64 = x.astype(np.float64)
        for gi in range(g):
            xg = x64[:, gi * icg:(gi + 1) * icg]
            wg = w[gi * icg:(gi + 1) * icg]
            for i in range(kh):
                for j in range(kw):
                    full[:, gi * ocg:(gi + 1) * ocg, i * dh:i * dh + sh * (h - 1) + 1:sh,
                         j * dw:j * dw + sw * (wd - 1) + 1:sw] += np.einsum(
                        "nchw,co->nohw", xg, wg[:, :, i, j])
        oh, ow = self.out_size(h, wd)
        ph, pw = self.padding
        y = full[:, :, ph:ph + oh, pw:pw + ow]
        if "bias" in self.params:
            y = y + self.params["bias"].astype(np.float64)[None, :, None, None]
        return y.astype(np.float32)


class Pad(Op):
    """Reflect / replicate / circular padding of H and W, ahead of a convolution."""

    unbatched = True

    NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def __init__(self, mode: str, padding: tuple[int, int, int, int]):
        self.mode, self.padding = mode, padding      # (top, bottom, left, right)

    def attrs(self):
        return {"mode": self.mode, "padding": self.padding}

    def infer_shape(self, x):
        self.require(len(x) == 4, f"expected a 4-D input (N, C, H, W), got {len(x)}-D")
        n, c, h, w = x
        pt, pb, pl, pr = self.padding
        if self.mode == "reflect":
            self.require(max(pt, pb) < h and max(pl, pr) < w,
                         f"reflect padding {self.padding} must be smaller than the input {h}x{w}")
        if self.mode == "circular":
            self.require(max(pt, pb) <= h and max(pl, pr) <= w,
                         f"circular padding {self.padding} must not exceed the input {h}x{w}")
        return (n, c, h + pt + pb, w + pl + pr)

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        pt, pb, pl, pr = self.padding
        return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), mode=self.NUMPY_MODES[self.mode])
