"""Lowerings of the channel gathers, ChannelShuffle and ChannelSlice: output channel o copies
input channel sources[o].

- channel_gather.c.j2 (NCHW, any rank >= 2): one plane copy per (n, o), from a table of
  source channels, or from o + start when the sources are a contiguous range (a slice).
- channel_gather_blocked.c.j2 (NCHW[V]c): when every output block is one whole input block
  (a slice starting on a block boundary whose padded lanes read the input's zero padding),
  one vector copy per pixel; otherwise each lane is gathered through a table of source
  offsets (a shuffle, or a slice inside blocks), and the store zeroes the padded lanes.
"""
from __future__ import annotations

import math

from .family import Family, Layouts, nchw_only
from .pool_blocked import all_blocked
from .spec import KernelSpec
from .util import parallel_if


def contiguous_start(sources: list[int]) -> int | None:
    """The first source channel when `sources` is a range start, start + 1, ..., else None."""
    return sources[0] if sources == list(range(sources[0], sources[0] + len(sources))) \
        else None


def channel_gather(spec: KernelSpec, target) -> None:
    n, c_in = spec.in_shapes[0][:2]
    c_out = spec.out_shape[1]
    inner = math.prod(spec.out_shape[2:])
    sources = spec.node.op.sources(c_in)
    start = contiguous_start(sources)
    spec.template = "channel_gather.c.j2"
    spec.ctx = dict(n=n, c_in=c_in, c_out=c_out, inner=inner, start=start, sources=sources,
                    parallel=bool(parallel_if(8 * spec.out_numel)) and n * c_out > 1)
    how = f"channels {start}.." if start is not None else "a source-channel table"
    spec.note = f"channel gather, NCHW, plane copies from {how}; threads over (n, c)"


def block_shift(sources: list[int], c_in: int, v: int) -> int | None:
    """How many blocks further each output block's input block lies when every output block
    is one whole input block: the sources start on a block boundary, and the output's padded
    lanes meet the input's (the slice runs to the end of the input). Else None."""
    start = contiguous_start(sources)
    if start is None or start % v or (len(sources) % v and start + len(sources) != c_in):
        return None
    return start // v


def channel_gather_blocked(spec: KernelSpec, target) -> None:
    v = spec.out_layout.v
    n, c_in, h, w = spec.in_shapes[0]
    c_out = spec.out_shape[1]
    sources = spec.node.op.sources(c_in)
    shift = block_shift(sources, c_in, v)
    cb = -(-c_out // v)
    # a lane's source in its image: input block * H*W*V + input lane (0 for padded lanes)
    offsets = [(s // v) * h * w * v + s % v for s in sources] + [0] * (cb * v - c_out)
    spec.template = "channel_gather_blocked.c.j2"
    spec.ctx = dict(v=v, n=n, cb=cb, h=h, w=w, shift=shift, offsets=offsets,
                    image=-(-c_in // v) * h * w * v,
                    parallel=bool(parallel_if(8 * n * cb * v * h * w)) and n * cb * h > 1)
    how = (f"one vector per pixel from input block ob + {shift}" if shift is not None
           else "lane by lane from a source-offset table")
    spec.note = f"{spec.out_layout}, channel gather {how}; threads over (n, channel block, row)"


def runs_blocked(node, target, layouts: Layouts) -> bool:
    return all_blocked(node, target, layouts)


CHANNEL_GATHER_BLOCKED = Family("channel_gather_blocked", runs_blocked, channel_gather_blocked)
CHANNEL_GATHER = Family("channel_gather", nchw_only, channel_gather, reference=True)
