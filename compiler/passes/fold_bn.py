"""Fold eval-mode BatchNorm2d into the convolution in front of it."""
from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..ops import BatchNorm2d, Conv2d, ConvTranspose2d


def fold_bn(graph: Graph) -> Graph:
    """Conv2d/ConvTranspose2d -> eval BatchNorm2d, where the BN is the conv's only reader,
    becomes one conv with w' = w*s and b' = (b - mean)*s + beta, s = gamma/sqrt(var + eps),
    computed in float64 and rounded once. The BN node is removed."""
    g = graph.copy()
    for bn in list(g.nodes):
        if not isinstance(bn.op, BatchNorm2d) or bn.op.batch_stats:
            continue
        conv = bn.inputs[0]
        if not isinstance(conv.op, (Conv2d, ConvTranspose2d)) or conv.fused or \
                g.fanout(conv) != 1:
            continue
        scale, shift = bn.op.eval_scale_shift()
        w = conv.op.params["weight"].astype(np.float64)
        if isinstance(conv.op, ConvTranspose2d):       # weight is (C_in, C_out/groups, kH, kW)
            g_, ocg = conv.op.groups, w.shape[1]
            per_out = scale.reshape(g_, 1, ocg, 1, 1)
            w = (w.reshape(g_, -1, ocg, *w.shape[2:]) * per_out).reshape(w.shape)
        else:                                          # weight is (C_out, C_in/groups, kH, kW)
            w = w * scale[:, None, None, None]
        b = conv.op.params.get("bias", np.zeros(len(scale))).astype(np.float64)
        conv.op.params = {"weight": w.astype(np.float32),
                          "bias": (b * scale + shift).astype(np.float32)}
        bn.inputs = []
        conv.folded.append(bn)
        g.replace_uses(bn, conv)
        g.nodes.remove(bn)
    g.renumber()
    return g
