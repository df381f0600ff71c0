"""Lowering of Softmax along any dimension, as an (outer, D, inner) view."""
from __future__ import annotations

import math

from .spec import KernelSpec
from .family import Family, nchw_only
from .util import parallel_if

#: positions along the inner (trailing) dims handled together, so every pass over D reads
#: contiguous memory; their running max and sum live on the stack
INNER_BLOCK = 64


def element_dims(shape) -> dict:
    """Where the element at offset `off` sits in dims 0 and 1, for fused steps that depend on
    them: dim 0 at off / image_floats, dim 1 at off / channel_floats % channels."""
    if len(shape) < 2:
        return dict(image_floats=max(math.prod(shape), 1), channel_floats=1, channels=1)
    return dict(image_floats=math.prod(shape[1:]), channel_floats=math.prod(shape[2:]),
                channels=shape[1])


def softmax_rows(spec: KernelSpec, target) -> None:
    shape = spec.out_shape
    dim = spec.node.op.dim
    outer, d, inner = math.prod(shape[:dim]), (shape[dim] if shape else 1), \
        math.prod(shape[dim + 1:])
    block = min(inner, INNER_BLOCK)
    blocks = -(-inner // block)
    spec.template = "softmax.c.j2"
    spec.ctx = dict(
        # the (outer, d, inner) view; softmax runs along d
        outer=outer, d=d, inner=inner,
        # inner > 1: work items (outer index, block of `block` inner positions); when the
        # positions do not divide into blocks, the last block's `last_block` are counted at
        # run time
        block=block, blocks=blocks, ragged=inner % block != 0,
        last_block=inner - (blocks - 1) * block,
        **element_dims(shape), parallel=parallel_if(spec.flops * 4))
    spec.note = (f"view ({outer}, {d}, {inner}); " + (
        "contiguous rows, threads over rows" if inner == 1 else
        f"blocks of {block} inner positions, threads over (outer, block)"))


def softmax_fast(spec: KernelSpec, target) -> None:
    """The same three passes with smelt_expf, and the max and the sum of a contiguous row
    kept in V lanes, so every pass vectorises (inner positions are lanes already)."""
    softmax_rows(spec, target)
    v = target.vector_floats
    spec.template = "softmax_fast.c.j2"
    # a contiguous row (inner == 1) is `vectors` whole vectors of v, then the elements from
    # `tail` on one by one
    spec.ctx.update(v=v, vectors=spec.ctx["d"] // v, tail=spec.ctx["d"] // v * v)
    spec.note = spec.note.replace("view", "vectorised exp, view")


SOFTMAX_FAST = Family("softmax_fast", nchw_only, softmax_fast)
SOFTMAX_ROWS = Family("softmax_rows", nchw_only, softmax_rows, reference=True)
