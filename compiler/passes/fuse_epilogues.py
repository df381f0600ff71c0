"""Fuse elementwise ops into the kernel that produces their input."""
from __future__ import annotations

from ..graph import Graph, Node
from ..ops import Cat, Flatten, Pattern

#: ops that never get a kernel of their own, so there is no store to fuse into
NO_KERNEL = (Flatten,)


def can_absorb(g: Graph, producer: Node) -> bool:
    return (producer not in g.inputs and not isinstance(producer.op, NO_KERNEL + (Cat,))
            and g.fanout(producer) == 1)


def fuse_epilogues(graph: Graph) -> Graph:
    """An elementwise node (activation, add, affine, dropout mask) whose input is read by
    nothing else is applied in the store of that input's producer. The producer moves to the
    elementwise node's place in the order, so an add's other operand is ready by then; a
    tensor read by anyone else (or returned) is never fused away."""
    g = graph.copy()
    for node in list(g.nodes):
        if node.op.pattern is not Pattern.ELEMWISE:
            continue
        for position, producer in enumerate(node.inputs):
            if can_absorb(g, producer) and all(i is not producer for i in
                                               node.inputs[:position] + node.inputs[position + 1:]):
                absorb(g, producer, node, position)
                break
    g.renumber()
    return g


def absorb(g: Graph, producer: Node, node: Node, position: int) -> None:
    node.inputs = node.inputs[:position] + node.inputs[position + 1:]
    producer.inputs = producer.inputs + node.inputs
    producer.fused.append(node)
    producer.fused.extend(node.fused)
    node.fused = []
    g.replace_uses(node, producer)
    g.nodes.remove(producer)
    g.nodes[g.nodes.index(node)] = producer
