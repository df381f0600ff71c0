"""Lowering of Reorder: NCHW <-> channel-blocked conversions."""
from __future__ import annotations

from .spec import KernelSpec
from .family import Family
from .util import parallel_if


def reorder(spec: KernelSpec, target) -> None:
    """One pass over the blocked side: each (n, block, pixel) gathers or scatters V lanes."""
    src, dst = spec.in_layouts[0], spec.out_layout
    blocked = dst if dst.blocked else src
    n, c, h, w = spec.out_shape
    spec.template = "reorder.c.j2"
    v, cb = blocked.v, -(-c // blocked.v)
    spec.ctx = dict(
        to_blocked=dst.blocked, n=n, c=c, v=v, cb=cb, pixels=h * w,
        # the last block has lanes past the channels: not read, stored as zero
        padded=c % v != 0,
        parallel=bool(parallel_if(spec.out_numel * 8)) and n * cb > 1)
    spec.note = f"{src} -> {dst}, threads over (n, channel block)"


REORDER = Family("reorder", lambda node, target, layouts: True, reorder, reference=True)
