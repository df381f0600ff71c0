"""Fold eval-mode BatchNorm2d into the convolution in front of it."""
from __future__ import annotations

import functools

import numpy as np

from runtime.arrays import carve, run_balanced
from ..graph import Graph
from ..ops import BatchNorm2d, Conv2d, ConvTranspose2d


def foldable(g: Graph, bn) -> bool:
    """An eval BatchNorm2d whose input is an unfused conv that nothing else reads."""
    if not isinstance(bn.op, BatchNorm2d) or bn.op.batch_stats:
        return False
    conv = bn.inputs[0]
    return isinstance(conv.op, (Conv2d, ConvTranspose2d)) and not conv.fused and \
        g.fanout(conv) == 1


def per_output_channel(conv_op, weight: np.ndarray, scale: np.ndarray):
    """`weight` reshaped so that `scale`, reshaped as returned, broadcasts over it by output
    channel."""
    if isinstance(conv_op, ConvTranspose2d):   # weight is (C_in, C_out/groups, kH, kW)
        groups, ocg = conv_op.groups, weight.shape[1]
        return (weight.reshape(groups, -1, ocg, *weight.shape[2:]),
                scale.reshape(groups, 1, ocg, 1, 1))
    return weight, scale[:, None, None, None]  # weight is (C_out, C_in/groups, kH, kW)


def fold_bn(graph: Graph) -> Graph:
    """Conv2d/ConvTranspose2d -> eval BatchNorm2d, where the BN is the conv's only reader,
    becomes one conv with w' = w*s and b' = (b - mean)*s + beta, s = gamma/sqrt(var + eps),
    computed in float64 and rounded once. The BN node is removed."""
    g = graph.copy()
    pairs = [(bn.inputs[0], bn) for bn in g.nodes if foldable(g, bn)]
    weights = carve([(conv.op.params["weight"].shape, np.float32) for conv, _ in pairs])
    tasks = []
    for (conv, bn), folded in zip(pairs, weights):
        scale, shift = bn.op.eval_scale_shift()
        w_by_channel, s_by_channel = per_output_channel(conv.op, conv.op.params["weight"], scale)
        # one pass: each product is formed in float64 and rounded once to float32
        tasks.append(functools.partial(np.multiply, w_by_channel, s_by_channel,
                                       out=folded.reshape(w_by_channel.shape),
                                       dtype=np.float64, casting="unsafe"))
        b = conv.op.params.get("bias", np.zeros(len(scale))).astype(np.float64)
        conv.op.params = {"weight": folded, "bias": (b * scale + shift).astype(np.float32)}
        bn.inputs = []
        conv.folded.append(bn)
        g.replace_uses(bn, conv)
        g.nodes.remove(bn)
    run_balanced(tasks, [w.nbytes for w in weights])
    g.renumber()
    return g
