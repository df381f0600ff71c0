"""Ops that only move data: Flatten, View, PixelShuffle, Upsample, channel gathers
(ChannelShuffle, ChannelSlice), Cat."""
from __future__ import annotations

import math

import numpy as np

from .base import Op, numel


def normalize_dim(dim: int, rank: int) -> int | None:
    """`dim` in [-rank, rank) as a non-negative index, or None when out of range."""
    rank = max(rank, 1)
    return dim % rank if -rank <= dim < rank else None


def fma_f32(a, b, c) -> np.float32:
    """a * b + c rounded once to float32, as PyTorch's x86 builds compute `scale * (o + 0.5) -
    0.5` (the compiler contracts it into an FMA). Exact in float64 for the small operands of
    index arithmetic (a float32 times a half-integer, plus a half-integer), then rounded."""
    return np.float32(float(np.float32(a)) * float(b) + float(c))


class Flatten(Op):
    """Merge dims start_dim..end_dim into one; a view, it costs no copy."""

    is_view = True
    absorbs_epilogue = False

    def __init__(self, start_dim: int, end_dim: int):
        self.start_dim, self.end_dim = start_dim, end_dim

    def attrs(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def infer_shape(self, x):
        start, end = normalize_dim(self.start_dim, len(x)), normalize_dim(self.end_dim, len(x))
        self.require(start is not None and end is not None,
                     f"dims ({self.start_dim}, {self.end_dim}) out of range for a {len(x)}-D input")
        self.require(start <= end, f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        if not x:
            return (1,)
        return tuple(x[:start]) + (math.prod(x[start:end + 1]),) + tuple(x[end + 1:])

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        return x.reshape(self.infer_shape(x.shape))


class View(Op):
    """The input reinterpreted with another shape of the same size (no copy). Tracing emits it
    to keep views of one storage in step after an in-place op (see Tracer.emit_inplace)."""

    is_view = True
    absorbs_epilogue = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def attrs(self):
        return {"shape": self.shape}

    def infer_shape(self, x):
        self.require(numel(x) == numel(self.shape),
                     f"cannot view a tensor of shape {tuple(x)} as {self.shape}")
        return self.shape

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        return x.reshape(self.shape)


class PixelShuffle(Op):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""

    unbatched = True

    def __init__(self, upscale_factor: int):
        self.r = upscale_factor

    def attrs(self):
        return {"upscale_factor": self.r}

    def infer_shape(self, x):
        self.require(len(x) >= 3, f"expected at least a 3-D input, got {len(x)}-D")
        c, h, w = x[-3:]
        r = self.r
        self.require(c % (r * r) == 0,
                     f"channels {c} are not divisible by upscale_factor^2 = {r * r}")
        return tuple(x[:-3]) + (c // (r * r), h * r, w * r)

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        *lead, c, h, w = x.shape
        r = self.r
        y = x.reshape(*lead, c // (r * r), r, r, h, w)
        k = len(lead)
        y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
        return np.ascontiguousarray(y.reshape(*lead, c // (r * r), h * r, w * r))


#: the cubic convolution kernel's parameter in PyTorch (and in Keys' paper: a = -0.5 there)
CUBIC_A = -0.75


def cubic_weights(t: np.float32) -> list[np.float32]:
    """PyTorch's get_cubic_upsample_coefficients for the fraction t, in float32: the weights
    of the taps at offsets -1, 0, 1, 2. Its x86-64 build contracts some multiply-adds into
    FMAs (found by comparing every weight with torch 2.13's): the first two of the far
    polynomial, the first of the near one."""
    a = np.float32(CUBIC_A)

    def near(x):            # |x| <= 1: ((A + 2) x - (A + 3)) x^2 + 1
        return fma_f32(a + np.float32(2), x, -(a + np.float32(3))) * x * x + np.float32(1)

    def far(x):             # 1 < |x| < 2: ((A x - 5A) x + 8A) x - 4A
        inner = fma_f32(fma_f32(a, x, -5 * CUBIC_A), x, 8 * CUBIC_A)
        return inner * x - np.float32(4) * a

    t = np.float32(t)
    one = np.float32(1)
    return [far(t + one), near(t), near(one - t), far(one - t + one)]


class Upsample(Op):
    """Resize H and W by nearest, nearest-exact, bilinear or bicubic interpolation, indexing
    exactly as PyTorch's CPU kernels do (scales and source positions in float32)."""


    def __init__(self, mode: str, size, scale_factor, align_corners: bool,
                 recompute_scale_factor: bool):
        self.mode, self.size, self.scale_factor = mode, size, scale_factor
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def attrs(self):
        out = {"mode": self.mode}
        if self.size is not None:
            out["size"] = self.size
        else:
            out["scale_factor"] = self.scale_factor
        if self.mode in self.INTERPOLATING:
            out["align_corners"] = self.align_corners
        return out

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        return tuple(int(math.floor(float(s) * f)) for s, f in zip((h, w), self.scale_factor))

    def infer_shape(self, x):
        self.require(len(x) == 4, f"expected a 4-D input (N, C, H, W), got {len(x)}-D")
        oh, ow = self.out_size(*x[2:])
        self.require(oh > 0 and ow > 0, f"output size {oh}x{ow} is not positive")
        return (x[0], x[1], oh, ow)

    #: the modes that take align_corners
    INTERPOLATING = ("bilinear", "bicubic")

    def flops(self, in_shapes, out_shape):
        return {"bilinear": 4, "bicubic": 20}.get(self.mode, 0) * numel(out_shape)

    def _scale(self, size: int, out: int, axis: int) -> np.float32:
        """PyTorch's compute_scales_value / area_pixel_compute_scale, in float32."""
        if self.mode in self.INTERPOLATING and self.align_corners:
            return np.float32((size - 1) / (out - 1)) if out > 1 else np.float32(0)
        if self.scale_factor is not None and not self.recompute_scale_factor \
                and self.scale_factor[axis] > 0:
            return np.float32(1.0 / self.scale_factor[axis])
        return np.float32(size / out)

    #: PyTorch's CPU kernel depends on the output size (UpSampleKernel.cpp,
    #: _use_vectorized_kernel_cond_2d): up to oh + ow = 128 it indexes with nearest_idx, which
    #: copies when out == in and halves when out == 2 * in whatever the scale factor; above
    #: that its generic kernel always floors o * scale, and rounds nearest-exact differently.
    SMALL_OUTPUT = 128

    def small_output(self, oh: int, ow: int) -> bool:
        return oh + ow <= self.SMALL_OUTPUT

    def nearest_sources(self, size: int, out: int, axis: int, small: bool = True) -> list[int]:
        """Source index per output index along one axis; `small` as small_output(oh, ow)."""
        scale = self._scale(size, out, axis)
        half = np.float32(0.5)
        if self.mode == "nearest-exact":
            if small:       # nearest_exact_idx: floor((o + 0.5) * scale)
                srcs = [np.float32(o + 0.5) * scale for o in range(out)]
            else:           # HelperInterpNearestExact: floor(max((o + 0.5) * scale - 0.5, 0) + 0.5)
                srcs = [max(fma_f32(scale, o + 0.5, -0.5), np.float32(0)) + half
                        for o in range(out)]
            return [min(int(math.floor(s)), size - 1) for s in srcs]
        if small and out == size:
            return list(range(out))
        if small and out == 2 * size:
            return [o >> 1 for o in range(out)]
        return [min(int(math.floor(np.float32(o) * scale)), size - 1) for o in range(out)]

    def linear_sources(self, size: int, out: int, axis: int):
        """Per output index: (i0, i1, lambda0, lambda1) as float32 weights."""
        if out == size:
            return [(o, o, np.float32(1), np.float32(0)) for o in range(out)]
        scale = self._scale(size, out, axis)
        result = []
        for o in range(out):
            if self.align_corners:
                src = np.float32(scale * np.float32(o))
            else:
                src = max(fma_f32(scale, o + 0.5, -0.5), np.float32(0))
            i0 = min(int(math.floor(src)), size - 1)
            lam1 = np.float32(min(max(src - np.float32(i0), np.float32(0)), np.float32(1)))
            i1 = i0 + (1 if i0 < size - 1 else 0)
            result.append((i0, i1, np.float32(1) - lam1, lam1))
        return result

    def cubic_sources(self, size: int, out: int, axis: int):
        """Per output index: the four source indices (clamped to the input, as PyTorch clamps
        the taps at the borders) and their float32 weights."""
        scale = self._scale(size, out, axis)
        result = []
        for o in range(out):
            if self.align_corners:
                src = np.float32(scale * np.float32(o))
            else:               # no clamping at 0 for cubic: the taps reach past the border
                src = fma_f32(scale, o + 0.5, -0.5)
            i = min(int(math.floor(src)), size - 1)
            t = np.float32(min(max(src - np.float32(i), np.float32(0)), np.float32(1)))
            result.append(([min(max(i - 1 + j, 0), size - 1) for j in range(4)],
                           cubic_weights(t)))
        return result

    def reference(self, x):
        n, c, h, w = x.shape
        oh, ow = self.out_size(h, w)
        if self.mode == "bicubic":
            return self.bicubic_reference(x, oh, ow)
        if self.mode != "bilinear":
            small = self.small_output(oh, ow)
            rows = self.nearest_sources(h, oh, 0, small)
            cols = self.nearest_sources(w, ow, 1, small)
            return np.ascontiguousarray(x[:, :, rows][:, :, :, cols])
        rows, cols = self.linear_sources(h, oh, 0), self.linear_sources(w, ow, 1)
        y = np.empty((n, c, oh, ow), dtype=np.float32)
        for i, (h0, h1, a0, a1) in enumerate(rows):
            for j, (w0, w1, b0, b1) in enumerate(cols):
                top = b0 * x[:, :, h0, w0] + b1 * x[:, :, h0, w1]
                bottom = b0 * x[:, :, h1, w0] + b1 * x[:, :, h1, w1]
                y[:, :, i, j] = a0 * top + a1 * bottom
        return y


    def bicubic_reference(self, x, oh: int, ow: int):
        """Written apart from cubic_sources (vectorised over the output positions): each
        output is sum_i wr[i] * (sum_j wc[j] * x[row_i, col_j]), summed in PyTorch's order."""
        def axis_taps(size, out, axis):
            scale = self._scale(size, out, axis)
            o = np.arange(out, dtype=np.float32)
            if self.align_corners:
                src = (scale * o).astype(np.float32)
            else:
                src = np.array([fma_f32(scale, k + 0.5, -0.5) for k in range(out)], np.float32)
            first = np.minimum(np.floor(src).astype(np.int64), size - 1)
            t = np.clip(src - first.astype(np.float32), 0, 1).astype(np.float32)
            taps = np.clip(first[:, None] + np.arange(-1, 3), 0, size - 1)
            weights = np.stack([cubic_weights(ti) for ti in t]).astype(np.float32)
            return taps, weights

        rows, wr = axis_taps(x.shape[2], oh, 0)
        cols, wc = axis_taps(x.shape[3], ow, 1)
        y = np.zeros(x.shape[:2] + (oh, ow), np.float32)
        for i in range(4):
            g = x[:, :, rows[:, i]]                        # N, C, OH, W
            inner = np.zeros_like(y)
            for j in range(4):
                inner += g[:, :, :, cols[:, j]] * wc[:, j]
            y += inner * wr[:, i, None]
        return y


class ChannelGather(Op):
    """Output channel o is input channel sources(C)[o] (dim 1; any rank >= 2): the ops that
    only pick or reorder channels."""

    def sources(self, channels: int) -> list[int]:
        raise NotImplementedError

    def infer_shape(self, x):
        self.require(len(x) >= 2, f"expected at least a 2-D input, got {len(x)}-D")
        return (x[0], len(self.sources(x[1]))) + tuple(x[2:])

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, x):
        return np.ascontiguousarray(x[:, self.sources(x.shape[1])])


class ChannelShuffle(ChannelGather):
    """torch.nn.ChannelShuffle: view dim 1 as (groups, C/groups), transpose, flatten back, so
    output channel k*groups + g is input channel g*(C/groups) + k. Any rank >= 3, as torch."""

    def __init__(self, groups: int):
        self.groups = int(groups)

    def attrs(self):
        return {"groups": self.groups}

    def infer_shape(self, x):
        self.require(len(x) >= 3, f"expected at least a 3-D input, got {len(x)}-D")
        self.require(x[1] % self.groups == 0,
                     f"channels {x[1]} are not divisible by groups {self.groups}")
        return super().infer_shape(x)

    def sources(self, channels):
        per = channels // self.groups
        return [(o % self.groups) * per + o // self.groups for o in range(channels)]


class ChannelSlice(ChannelGather):
    """Channels [start, stop) of dim 1: a piece of x.chunk(n, dim=1) or x.split(s, dim=1)."""

    def __init__(self, start: int, stop: int):
        self.start, self.stop = int(start), int(stop)

    def attrs(self):
        return {"start": self.start, "stop": self.stop}

    def infer_shape(self, x):
        self.require(len(x) >= 2 and 0 <= self.start < self.stop <= x[1],
                     f"channels [{self.start}, {self.stop}) are not a non-empty range of the "
                     f"{x[1] if len(x) >= 2 else 0} channels in dim 1")
        return super().infer_shape(x)

    def sources(self, channels):
        return list(range(self.start, self.stop))


class Cat(Op):
    """Concatenate along `dim` (already normalised); other dims must match."""

    absorbs_epilogue = False
    zero_copy = False           # set by the planner when producers write into the slices

    def __init__(self, dim: int):
        self.dim = dim

    def attrs(self):
        return {"dim": self.dim, **({"zero_copy": True} if self.zero_copy else {})}

    def infer_shape(self, *shapes):
        first = shapes[0]
        self.require(self.dim < len(first), f"dim {self.dim} is out of range for a "
                     f"{len(first)}-D input")
        for s in shapes[1:]:
            self.require(len(s) == len(first) and all(
                a == b for i, (a, b) in enumerate(zip(s, first)) if i != self.dim),
                f"tensors must match in every dimension but {self.dim}")
        return tuple(first[:self.dim]) + (sum(s[self.dim] for s in shapes),) + \
            tuple(first[self.dim + 1:])

    def flops(self, in_shapes, out_shape):
        return 0

    def reference(self, *xs):
        return np.concatenate(xs, axis=self.dim)
