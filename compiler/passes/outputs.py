"""Give every graph output a buffer of its own."""
from __future__ import annotations

from ..graph import Graph, Node
from ..ops import Copy


def storage_root(node: Node) -> Node:
    """The node whose buffer `node` lives in (views such as Flatten share their input's)."""
    while node.op.is_view:
        node = node.inputs[0]
    return node


def materialize_outputs(graph: Graph) -> Graph:
    """An output that is a graph input (or a view of one), or shares its buffer with an earlier
    output, gets a Copy node, so each output is written by exactly one kernel."""
    g = graph.copy()
    seen: set[int] = set()
    for j, out in enumerate(g.outputs):
        root = storage_root(out)
        if root in g.inputs or id(root) in seen:
            copy = Node(Copy(), [out], out.shape, f"{out.name}.copy" if out.name else "copy")
            g.nodes.append(copy)
            g.outputs[j] = copy
            root = copy
        seen.add(id(root))
    g.renumber()
    return g
