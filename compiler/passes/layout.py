"""Choose every tensor's physical layout and insert the conversions that remain."""
from __future__ import annotations

from ..graph import Graph, Node
from ..kernels.base import blocked_family_accepts
from ..layout import NCHW, Layout, blocked
from ..ops import Conv2d, ConvTranspose2d, Linear, Reorder

#: ops that create new channels (and so decide the layout of what follows them)
SOURCES = (Conv2d, ConvTranspose2d)
#: ops whose blocked kernels read fused operands (a residual) in either layout
MIXED_OPERANDS = (Conv2d,)


def reads_nchw_directly(node: Node) -> bool:
    """A convolution reads an NCHW input itself when it has few channels (the first layer) or
    a single pixel (then NCHW and blocked orders agree); grouped ones need blocks."""
    n, c, h, w = node.inputs[0].shape
    return getattr(node.op, "groups", 1) == 1 and (c <= 8 or h * w == 1)


def choose_layout(graph: Graph, target) -> Graph:
    """Convolutions with a blocked kernel produce channel-blocked tensors (NCHW[V]c); ops with
    a blocked kernel (elementwise, pools, upsample, cat) keep their data input's layout;
    everything else, and every graph input and output, is NCHW. A convolution whose readers
    all want NCHW writes NCHW itself; one with a small NCHW input reads it directly; a
    Flatten of a blocked tensor stays a view when only Linear layers read it. Each remaining
    mismatch becomes a Reorder node: logically the identity, physically a conversion."""
    g = graph.copy()
    if target.vector_floats <= 1:
        return g
    block = blocked(target.vector_floats)
    able = {id(n): len(n.shape) == 4 and blocked_family_accepts(n, target) for n in g.nodes}
    readers: dict[int, list[Node]] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers.setdefault(id(i), []).append(n)
    wants_nchw = nchw_preference(g, able, readers, target)

    layout: dict[int, Layout] = {id(n): NCHW for n in g.inputs}
    outputs = {id(o) for o in g.outputs}
    for n in g.nodes:
        data = n.inputs[0] if n.inputs else None
        if n.op.is_view:
            layout[id(n)] = layout[id(data)]
            # a returned view must be NCHW too: the Reorder converts 4-D tensors, not views
            if layout[id(n)].blocked and (id(n) in outputs or not all(
                    flat_reader_ok(r, target) for r in readers.get(id(n), []))):
                layout[id(n)] = NCHW        # a reorder will be inserted before the view
        elif not able[id(n)]:
            layout[id(n)] = NCHW
        elif isinstance(n.op, SOURCES):
            layout[id(n)] = NCHW if (wants_nchw[id(n)] or n.store is not None) else block
        else:
            layout[id(n)] = layout[id(data)] if data is not None else NCHW

    conversions: dict[tuple[int, Layout], Node] = {}
    for n in list(g.nodes):
        for position, x in enumerate(n.inputs):
            need = required_layout(n, position, layout, able)
            if need is None or layout[id(x)] == need:
                continue
            if position == 0 and n.prologue:      # the conversion applies the prologue
                n.inputs[0] = convert(g, x, need, layout, {}, before=n, fused=n.prologue)
                n.prologue = []
            else:
                n.inputs[position] = convert(g, x, need, layout, conversions, before=n)
        operands = n.inputs[n.anchor_arity:]
        for f in n.fused:                         # fused steps read the converted operands
            f.inputs, operands = operands[:len(f.inputs)], operands[len(f.inputs):]
    for j, out in enumerate(g.outputs):
        if layout[id(out)].blocked:
            g.outputs[j] = convert(g, out, NCHW, layout, conversions, before=None)
    for n in g.inputs + g.nodes:
        n.layout = layout[id(n)]
    g.renumber()
    return g


def required_layout(n: Node, position: int, layout: dict, able: dict) -> Layout | None:
    """The layout node `n` needs input `position` in, or None when it takes either."""
    x = n.inputs[position]
    if n.op.is_view:
        return layout[id(n)]                      # a view is its input, reinterpreted
    if not able[id(n)]:
        if isinstance(n.op, Linear) and position == 0 and x.op.is_view and \
                layout[id(x)].blocked:
            return None                           # Linear reads a flattened blocked tensor
        return NCHW
    if isinstance(n.op, SOURCES) and position == 0:
        if layout[id(x)] == NCHW and not reads_nchw_directly(n):
            return layout[id(n)] if layout[id(n)].blocked else None
        return None
    if isinstance(n.op, MIXED_OPERANDS) and position >= n.anchor_arity:
        return None                               # its epilogue indexes operands by position
    return layout[id(n)]                          # operands and followers match the output


def convert(g: Graph, x: Node, need: Layout, layout: dict, conversions: dict,
            before: Node | None, fused: list[Node] = ()) -> Node:
    """A Reorder of `x` into `need`, shared by every reader that needs the same (unless it
    also applies `fused` elementwise steps, moved from a reader's load prologue)."""
    key = (id(x), need)
    if key not in conversions:
        node = Node(Reorder(layout[id(x)], need), [x], x.shape, f"{x.name}.to_{need}")
        node.fused = list(fused)
        node.layout = need
        layout[id(node)] = need
        at = g.nodes.index(before) if before is not None else len(g.nodes)
        g.nodes.insert(at, node)
        conversions[key] = node
    return conversions[key]


def flat_reader_ok(reader: Node, target) -> bool:
    """Can `reader` consume a Flatten of a blocked tensor as it lies in memory?"""
    return isinstance(reader.op, Linear) and blocked_family_accepts(reader, target)


def nchw_preference(g: Graph, able: dict, readers: dict, target) -> dict[int, bool]:
    """Does every reader of a node want it in NCHW (so its producer should write NCHW)?
    Decided backwards: outputs and NCHW-only ops want NCHW; elementwise ops, pools and
    views want what their own readers want; convolutions take either."""
    wants: dict[int, bool] = {}
    outputs = {id(o) for o in g.outputs}
    for n in reversed(g.nodes):
        votes = [True] if id(n) in outputs else []
        for r in readers.get(id(n), []):
            if isinstance(r.op, SOURCES) and r.inputs[0] is n or \
                    isinstance(r.op, MIXED_OPERANDS) and r.inputs[0] is not n:
                votes.append(False)
            elif r.op.is_view or able[id(r)]:
                votes.append(wants.get(id(r), False))
            elif n.op.is_view and flat_reader_ok(r, target):
                votes.append(False)
            else:
                votes.append(True)
        wants[id(n)] = bool(votes) and all(votes)
    return wants
