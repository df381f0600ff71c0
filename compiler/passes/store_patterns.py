"""Merge index-only ops into a neighbouring kernel's stores (PixelShuffle) or loads (prologue)."""
from __future__ import annotations

from ..graph import Graph
from ..ops import ChannelAffine, Conv2d, PixelShuffle
from .fuse_epilogues import chain_ops


def fuse_pixel_shuffle(graph: Graph) -> Graph:
    """A PixelShuffle whose input is a Conv2d result read by nothing else becomes the conv's
    store pattern: each result is written where the shuffle would move it. Not when a fused
    step reads another tensor (its offsets are in the other layout) or depends on the
    element's position (a dropout mask), nor when a step after the shuffle depends on the
    channel (the kernel knows the conv's channel, not the shuffled one)."""
    g = graph.copy()
    for shuffle in [n for n in g.nodes if isinstance(n.op, PixelShuffle)]:
        conv = shuffle.inputs[0]
        if not isinstance(conv.op, Conv2d) or conv in g.inputs or g.fanout(conv) != 1 \
                or conv.store is not None or len(shuffle.inputs) != 1:
            continue
        steps = [f.op for f in conv.fused + shuffle.fused]
        if any(op.extra_inputs or op.position_dependent for op in steps) or \
                any(f.op.channel_dependent for f in shuffle.fused):
            continue
        conv.store, conv.store_after = shuffle, len(conv.fused)
        conv.fused = conv.fused + shuffle.fused
        shuffle.fused = []
        conv.shape = shuffle.shape
        g.replace_uses(shuffle, conv)
        g.nodes.remove(conv)
        g.nodes[g.nodes.index(shuffle)] = conv
    g.renumber()
    return g


def fuse_input_prologues(graph: Graph) -> Graph:
    """An elementwise chain on a graph input (a BatchNorm at the input, say) whose only reader
    is a Conv2d runs as that conv's load prologue, per input channel on in-bounds values, so
    the conv's zero padding stays zero. Only per-channel affines and channel-free ops."""
    g = graph.copy()
    for node in list(g.nodes):
        if not node.op.elementwise or len(node.inputs) != 1 or \
                node.inputs[0] not in g.inputs or g.fanout(node) != 1:
            continue
        ops = chain_ops(node)
        if any(op.extra_inputs or (op.channel_dependent and not isinstance(op, ChannelAffine))
               for op in ops):
            continue
        readers = g.consumers(node)
        conv = readers[0] if readers else None
        if conv is None or not isinstance(conv.op, Conv2d) or conv.prologue or \
                conv.inputs[0] is not node or any(i is node for i in conv.inputs[1:]):
            continue
        conv.prologue = [node] + node.fused
        conv.inputs = [node.inputs[0]] + conv.inputs[1:]
        node.fused, node.inputs = [], []
        g.nodes.remove(node)
    g.renumber()
    return g


def fuse_channelwise_prologues(graph: Graph) -> Graph:
    """x * s with a channel-wise s (N or 1, C, 1, 1: a squeeze-and-excitation scale; also
    + - /) whose only reader is a one-group Conv2d runs as that conv's load prologue: each
    input value is scaled as it is loaded (in-bounds values only, so the conv's zero padding
    stays zero, as padding x * s does), and x * s is never written. s joins the conv's
    inputs after its own, as the prologue's operand."""
    g = graph.copy()
    for node in list(g.nodes):
        if not (node.op.elementwise and node.op.extra_inputs == 1 and len(node.inputs) == 2
                and not node.fused and g.fanout(node) == 1 and node not in g.outputs):
            continue
        x, s = node.inputs
        if len(x.shape) != 4 or s.shape == x.shape or s.shape[2:] != (1, 1):
            continue
        readers = g.consumers(node)
        conv = readers[0] if readers else None
        if conv is None or not isinstance(conv.op, Conv2d) or conv.op.groups != 1 or \
                conv.prologue or conv.concat_of is not None or conv.inputs[0] is not node or \
                any(i is node for i in conv.inputs[1:]):
            continue
        arity = conv.anchor_arity
        conv.inputs = [x] + conv.inputs[1:arity] + [s] + conv.inputs[arity:]
        conv.prologue = [node]
        node.inputs = [s]
        g.nodes.remove(node)
    g.renumber()
    return g
