"""Fuse elementwise ops into the kernel that produces their input."""
from __future__ import annotations

from ..graph import Graph, Node


def chain_ops(node: Node) -> list:
    """The elementwise ops a node applies: its own and those it already absorbed."""
    return [node.op] + [f.op for f in node.fused]


def through_views(x: Node) -> tuple[Node, list[Node]]:
    """The node whose buffer `x` lives in, and the views (Flatten) on the way to it."""
    views = []
    while x.op.is_view:
        views.append(x)
        x = x.inputs[0]
    return x, views


def fuse_epilogues(graph: Graph) -> Graph:
    """An elementwise node (activation, add, affine, dropout mask) whose input is read by
    nothing else is applied in the store of that input's producer, whatever the producer's
    pattern, as long as it runs a kernel. Through a view (Flatten) too, for ops that do not
    depend on the channel. The producer moves to the elementwise node's place in the order,
    so an add's other operand is ready by then, unless that reorders updates of one state;
    a tensor read by anyone else (or returned) is never fused away."""
    g = graph.copy()
    for node in list(g.nodes):
        if not node.op.elementwise:
            continue
        for position, x in enumerate(node.inputs):
            if position and not getattr(node.op, "commutative", False):
                break                     # a - b, a / b: only a's producer applies it
            if x.shape != node.shape:
                continue                  # a broadcast operand: its producer makes fewer
            producer, views = through_views(x)
            others = node.inputs[:position] + node.inputs[position + 1:]
            if views and any(op.channel_dependent for op in chain_ops(node)):
                continue
            if can_absorb(g, producer, views) and not any(o is x for o in others) \
                    and not reorders_state(g, producer, node):
                absorb(g, producer, views, node, position)
                break
    g.renumber()
    return g


def can_absorb(g: Graph, producer: Node, views: list[Node]) -> bool:
    return (producer not in g.inputs and producer.op.absorbs_epilogue
            and producer.store is None
            and all(g.fanout(n) == 1 for n in [producer] + views))


def state_keys(node: Node) -> set[str]:
    return {op.state_key for op in chain_ops(node) if op.state_key is not None}


def reorders_state(g: Graph, producer: Node, to: Node) -> bool:
    """Would moving `producer` to `to`'s place run it after a later update of the same state
    (a BatchNorm module called twice)? Running statistics depend on the order of updates."""
    keys = state_keys(producer)
    between = g.nodes[g.nodes.index(producer) + 1:g.nodes.index(to)]
    return bool(keys) and any(keys & state_keys(n) for n in between)


def absorb(g: Graph, producer: Node, views: list[Node], node: Node, position: int) -> None:
    node.inputs = node.inputs[:position] + node.inputs[position + 1:]
    producer.inputs = producer.inputs + node.inputs
    producer.fused.append(node)
    producer.fused.extend(node.fused)
    node.fused = []
    result = views[0] if views else producer         # what now carries the node's value
    g.replace_uses(node, result)
    for moved in [producer] + views[::-1]:
        g.nodes.remove(moved)
    at = g.nodes.index(node)
    g.nodes[at:at + 1] = [producer] + views[::-1]
