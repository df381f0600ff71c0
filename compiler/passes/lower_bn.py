"""Eval-mode BatchNorm2d that could not be folded becomes a per-channel affine."""
from __future__ import annotations

from ..graph import Graph
from ..ops import BatchNorm2d, ChannelAffine


def bn_to_affine(graph: Graph) -> Graph:
    """Every eval-mode BatchNorm2d left in the graph becomes ChannelAffine(scale, shift), an
    elementwise op that can fuse into the kernel producing its input."""
    g = graph.copy()
    for node in g.nodes:
        if isinstance(node.op, BatchNorm2d) and not node.op.batch_stats:
            scale, shift = node.op.eval_scale_shift()
            node.op = ChannelAffine(scale, shift)
    return g
