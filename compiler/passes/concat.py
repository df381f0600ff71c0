"""Concatenation without copies: producers write straight into their slice of the result."""
from __future__ import annotations

import copy
import math

from ..graph import Graph, Node
from ..ops import Cat, ChannelAffine, Conv2d, Copy
from ..layout import physical_numel
from ..ops.base import numel
from .fuse_epilogues import absorb, chain_ops, reorders_state, through_views


def distribute_over_cat(graph: Graph) -> Graph:
    """An elementwise chain after a cat, reading nothing else and the cat's only reader,
    moves into the producers of the cat's inputs (each applies it to its own slice; a
    per-channel affine gets its slice of the constants), when every input's producer can
    take it. The cat then has nothing after it to run."""
    g = graph.copy()
    for node in list(g.nodes):
        if not node.op.elementwise:
            continue
        cat = node.inputs[0]
        if not isinstance(cat.op, Cat) or not distributable(g, node, cat):
            continue
        offset = 0
        for x in list(cat.inputs):
            piece = clone_chain(node, cat.op.dim, offset, x.shape[cat.op.dim])
            offset += x.shape[cat.op.dim]
            piece.inputs = [x]
            g.nodes.insert(g.nodes.index(cat), piece)
            absorb(g, x, [], piece, 0)
        g.replace_uses(node, cat)
        g.nodes.remove(node)
    g.renumber()
    return g


def distributable(g: Graph, node: Node, cat: Node) -> bool:
    ops = chain_ops(node)
    if len(node.inputs) != 1 or g.fanout(cat) != 1 or any(op.extra_inputs for op in ops):
        return False
    if any(op.channel_dependent and not isinstance(op, ChannelAffine) for op in ops):
        return False                    # a dropout mask would need the channel offset
    seen = set()
    for x in cat.inputs:
        producer, views = through_views(x)
        if views or id(x) in seen or x in g.inputs or not x.op.absorbs_epilogue or \
                x.store is not None or g.fanout(x) != 1:
            return False
        if reorders_state(g, x, cat):   # producers end up in the cat's input order
            return False
        seen.add(id(x))
    return True


def clone_chain(node: Node, dim: int, start: int, size: int) -> Node:
    """A copy of `node` and its fused chain for the slice [start, start+size) of dim `dim`."""
    piece = copy.copy(node)
    piece.fused = [copy.copy(f) for f in node.fused]
    for n in [piece] + piece.fused:
        n.op = copy.copy(n.op)
        if isinstance(n.op, ChannelAffine) and dim == 1:
            n.op.params = {k: v[start:start + size] for k, v in n.op.params.items()}
    return piece


def slice_offsets(cat: Node) -> list[int] | None:
    """Float offsets of the inputs' slices in the cat's buffer, or None when the slices are
    not contiguous: some dim before the cat dim is > 1, or, channel-blocked, a slice does not
    start on a block boundary."""
    if math.prod(cat.shape[:cat.op.dim]) != 1:
        return None
    offsets, start = [], 0
    for x in cat.inputs:
        if cat.layout.blocked:
            if cat.op.dim != 1 or start % cat.layout.v:
                return None
            offsets.append(physical_numel((1, start) + tuple(cat.shape[2:]), cat.layout))
        else:
            offsets.append(numel(cat.shape[:cat.op.dim] + (start,) + cat.shape[cat.op.dim + 1:]))
        start += x.shape[cat.op.dim]
    return offsets


def zero_copy_cat(graph: Graph) -> Graph:
    """A cat whose slices are contiguous in memory runs no kernel: each input's producer
    writes straight into its slice. An input that cannot be written in place (a graph input
    or output, a view, an input repeated or already placed in another cat) is copied into its
    slice by a Copy kernel."""
    g = graph.copy()
    for cat in [n for n in g.nodes if isinstance(n.op, Cat)]:
        offsets = slice_offsets(cat)
        if offsets is None:
            continue
        cat.op.zero_copy = True
        placed = []
        for i, (x, offset) in enumerate(zip(cat.inputs, offsets)):
            if not placeable(g, x, placed):
                copy_node = Node(Copy(), [x], x.shape, f"{cat.name}.copy{i}")
                copy_node.layout = x.layout
                g.nodes.insert(g.nodes.index(cat), copy_node)
                x = copy_node
            x.slice_of = (cat, offset)
            placed.append(x)
        cat.inputs = placed
    g.renumber()
    return g


def placeable(g: Graph, x: Node, placed: list[Node]) -> bool:
    """Can x's producer write x straight into a cat slice? Not if x must live elsewhere."""
    returned = any(through_views(o)[0] is x for o in g.outputs)
    return (x not in g.inputs and not returned and not x.op.is_view
            and x.slice_of is None and not any(p is x for p in placed))


def concat_into_conv(graph: Graph) -> Graph:
    """A channel cat of blocked tensors that could not be zero-copy (a slice would start
    inside a channel block, or the batch is > 1) and that only convolutions read becomes
    part of those convolutions: each reads the cat's pieces directly, block by block, so no
    copy kernel runs."""
    g = graph.copy()
    for cat in [n for n in g.nodes if isinstance(n.op, Cat) and not n.op.zero_copy]:
        readers = g.consumers(cat)
        if cat.op.dim != 1 or not cat.layout.blocked or cat in g.outputs or not readers or \
                not all(isinstance(r.op, Conv2d) and r.op.groups == 1 and r.inputs[0] is cat
                        and not any(i is cat for i in r.inputs[1:]) and not r.prologue
                        and r.concat_of is None for r in readers):
            continue
        for r in readers:
            r.inputs = list(cat.inputs) + r.inputs[1:]
            r.concat_of = cat
        g.nodes.remove(cat)
    g.renumber()
    return g

