"""Lowering of Softmax along any dimension, as an (outer, D, inner) view."""
from __future__ import annotations

import math

from ..ops.softmax import Softmax
from .base import KernelSpec, register
from .util import parallel_if

#: positions along the inner (trailing) dims handled together, so every pass over D reads
#: contiguous memory; their running max and sum live on the stack
INNER_BLOCK = 64


def batch_channel_from_offset(shape) -> tuple[str, str]:
    """C expressions for the dim-0 and dim-1 indices of the element at linear offset `off`."""
    if len(shape) < 2:
        return "0", "0"
    per_c = math.prod(shape[2:])
    c = f"off % {shape[1]}" if per_c == 1 else f"(off / {per_c}) % {shape[1]}"
    return f"off / {math.prod(shape[1:])}", f"({c})"


@register(Softmax, "softmax_blocked")
def softmax_blocked(spec: KernelSpec, target) -> bool:
    shape = spec.out_shape
    dim = spec.node.op.dim
    outer, d, inner = math.prod(shape[:dim]), (shape[dim] if shape else 1), \
        math.prod(shape[dim + 1:])
    block = min(inner, INNER_BLOCK)
    n_expr, c_expr = batch_channel_from_offset(shape)
    spec.template = "softmax.c.j2"
    spec.ctx = dict(outer=outer, d=d, inner=inner, block=block, blocks=-(-inner // block),
                    n_expr=n_expr, c_expr=c_expr, parallel=parallel_if(spec.flops * 4))
    spec.note = (f"view ({outer}, {d}, {inner}); " + (
        "contiguous rows, threads over rows" if inner == 1 else
        f"blocks of {block} inner positions, threads over (outer, block)"))
    return True


@register(Softmax, "softmax_fast", reference=False)
def softmax_fast(spec: KernelSpec, target) -> bool:
    """The same three passes with smelt_expf, and the max and the sum of a contiguous row
    kept in V lanes, so every pass vectorises (inner positions are lanes already)."""
    softmax_blocked(spec, target)
    spec.template = "softmax_fast.c.j2"
    spec.ctx["v"] = target.vector_floats
    spec.note = spec.note.replace("view", "vectorised exp, view")
    return True
