"""ONNX convolution and pooling windows in smelt's terms.

ONNX pads each spatial axis with a begin and an end amount (or `auto_pad`); smelt's Conv2d
takes any four pads, but its pools pad both ends alike and ConvTranspose2d crops by one
padding plus an output_padding. A pool with uneven pads is still exact in smelt when some
symmetric padding (in ceil mode or not), or an adaptive pool, reads the same input elements
into each output and divides by the same count: `match_pool` searches for one.
"""
from __future__ import annotations

import math


def padding(attrs: dict, sizes, kernel, strides, dilations) -> tuple[list, list] | str:
    """(begins, ends) per spatial axis from `pads` or `auto_pad`, or why not."""
    auto = attrs.get("auto_pad", "NOTSET")
    rank = len(kernel)
    if auto == "NOTSET":
        pads = list(attrs.get("pads", [0] * 2 * rank))
        return pads[:rank], pads[rank:]
    if auto == "VALID":
        return [0] * rank, [0] * rank
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        return f"auto_pad={auto!r} is not an ONNX padding mode"
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else big)
        ends.append(big if auto == "SAME_UPPER" else small)
    return begins, ends


def pool_windows(size: int, k: int, s: int, d: int, begin: int, end: int, ceil: bool,
                 count_pad: bool) -> list[tuple[tuple[int, ...], int]]:
    """Per output along one axis: the input indices the window reads and its divisor.

    This is PyTorch's rule with ONNX's uneven pads: in ceil mode a window that would start in
    the end padding is dropped; counting padding, the divisor stops at the end padding."""
    span = size + begin + end - d * (k - 1) - 1
    if span < 0:
        return []
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + begin:
        out -= 1
    windows = []
    for o in range(out):
        start = o * s - begin
        stop = start + d * (k - 1) + 1
        taps = tuple(t for t in range(start, stop, d) if 0 <= t < size)
        windows.append((taps, min(stop, size + end) - start if count_pad else len(taps)))
    return windows


def adaptive_windows(size: int, out: int) -> list[tuple[tuple[int, ...], int]]:
    """AdaptiveAvgPool2d's windows along one axis, as pool_windows describes them."""
    spans = [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]
    return [(tuple(range(a, b)), b - a) for a, b in spans]


def match_pool(sizes, kernel, strides, dilations, begins, ends, ceil: bool, count_pad: bool,
               average: bool):
    """smelt's equivalent of an ONNX pool over two spatial axes: ("window", (ph, pw),
    ceil_mode), ("adaptive", (oh, ow)), ("replicate", (top, bottom, left, right), ceil_mode)
    (a max pool after edge padding), or None if there is none."""
    def key(windows):          # max pools do not divide
        return [w if average else w[0] for w in windows]

    targets = [key(pool_windows(n, k, s, d, b, e, ceil, count_pad)) for n, k, s, d, b, e in
               zip(sizes, kernel, strides, dilations, begins, ends)]
    if not all(targets):
        return None
    for ceil_mode in (ceil, not ceil):
        chosen = []
        for n, k, s, d, b, e, target in zip(sizes, kernel, strides, dilations, begins, ends,
                                              targets):
            options = dict.fromkeys([b, e, *range(k // 2 + 1)])    # PyTorch: pad <= k / 2
            chosen.append(next((p for p in options if p <= k // 2 and key(pool_windows(
                n, k, s, d, p, p, ceil_mode, count_pad)) == target), None))
        if None not in chosen:
            return "window", tuple(chosen), ceil_mode
    if all(key(adaptive_windows(n, len(t))) == t for n, t in zip(sizes, targets)):
        return "adaptive", tuple(len(t) for t in targets)
    if not average and all(d == 1 for d in dilations):
        for ceil_mode in (ceil, not ceil):
            if all(replicated(n, k, s, b, e, ceil_mode) == t for n, k, s, b, e, t in
                   zip(sizes, kernel, strides, begins, ends, targets)):
                return "replicate", (begins[0], ends[0], begins[1], ends[1]), ceil_mode
    return None


def replicated(size: int, k: int, s: int, begin: int, end: int, ceil: bool) -> list:
    """The input indices each window of an unpadded max pool reads from the input padded by
    repeating its edges. A window reaching into such padding also reads the edge element it
    repeats (without dilation), so this padding is as good as -inf for a max."""
    return [tuple(sorted({min(max(t - begin, 0), size - 1) for t in taps}))
            for taps, _ in pool_windows(size + begin + end, k, s, 1, 0, 0, ceil, False)]


def conv_transpose_padding(attrs: dict, sizes, kernel, strides, dilations):
    """ConvTranspose's (padding, output_padding) per axis as smelt's ConvTranspose2d takes
    them (crop `padding` at the start, output_padding extra at the end), or why not."""
    rank = len(kernel)
    extra = list(attrs.get("output_padding", [0] * rank))
    full = [s * (n - 1) + (k - 1) * d + 1 + x
            for n, k, s, d, x in zip(sizes, kernel, strides, dilations, extra)]
    auto = attrs.get("auto_pad", "NOTSET")
    if "output_shape" in attrs or auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = list(attrs["output_shape"])[-rank:] if "output_shape" in attrs else \
            [n * s for n, s in zip(sizes, strides)]
        totals = [f - o for f, o in zip(full, shape)]
        if any(t < 0 for t in totals):
            return f"output_shape {shape} is larger than the full transposed convolution {full}"
        small = [t // 2 for t in totals]
        big = [t - t // 2 for t in totals]
        begins, ends = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        begins = ends = [0] * rank
    else:
        pads = list(attrs.get("pads", [0] * 2 * rank))
        begins, ends = pads[:rank], pads[rank:]
    # ONNX's output is full - begin - end; smelt's, cropping `begin` at the start, is
    # full - extra - 2 * begin + output_padding
    output_padding = [x + b - e for x, b, e in zip(extra, begins, ends)]
    if any(b < 0 for b in begins) or any(
            not 0 <= p < max(s, d) for p, s, d in zip(output_padding, strides, dilations)):
        return (f"pads {begins + ends} with output_padding {extra} would need smelt's "
                f"ConvTranspose2d to pad the output by {output_padding}, outside [0, stride) "
                f"(or dilation)")
    return tuple(begins), tuple(output_padding)
