"""Choose every tensor's physical layout and insert the conversions that remain.

Every question about what a kernel can take goes to the kernel families' own predicate
(compiler/kernels: `choose(node, target, layouts)`), the one lowering asks again.
"""
from __future__ import annotations

from ..graph import Graph, Node
from ..kernels import choose
from ..kernels.family import Layouts
from ..layout import NCHW, Layout, blocked
from ..ops import Reorder


def choose_layout(graph: Graph, target) -> Graph:
    """Ops that create channels (convolutions) produce channel-blocked tensors (NCHW[V]c)
    where a kernel runs them so; other ops with a blocked kernel (elementwise, pools,
    upsample, cat) keep their data input's layout; everything else, and every graph input
    and output, is NCHW. An op whose readers all want NCHW writes NCHW itself. Each input
    stays in its layout where a kernel runs the node with it so (a first convolution reads
    its NCHW image, a Linear a Flatten of a blocked tensor); every other mismatch becomes a
    Reorder node: logically the identity, physically a conversion."""
    g = graph.copy()
    if target.vector_floats <= 1:
        return g
    block = blocked(target.vector_floats)

    def runs(n: Node, ins, out: Layout) -> bool:
        return choose(n, target, Layouts(tuple(ins), out)) is not None

    able = {id(n): len(n.shape) == 4 and (
        runs(n, [block] * len(n.inputs), block) or n.op.channel_source and
        runs(n, [NCHW] + [block] * (len(n.inputs) - 1), block)) for n in g.nodes}
    readers: dict[int, list[Node]] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers.setdefault(id(i), []).append(n)
    wants_nchw = nchw_preference(g, able, readers, runs, block)

    layout: dict[int, Layout] = {id(n): NCHW for n in g.inputs}
    outputs = {id(o) for o in g.outputs}
    for n in g.nodes:
        data = n.inputs[0] if n.inputs else None
        if n.op.is_view:
            layout[id(n)] = layout[id(data)]
            # a returned view must be NCHW too: the Reorder converts 4-D tensors, not views
            if layout[id(n)].blocked and (id(n) in outputs or not all(
                    runs(r, [block if x is n else NCHW for x in r.inputs], NCHW)
                    for r in readers.get(id(n), []))):
                layout[id(n)] = NCHW        # a reorder will be inserted before the view
        elif not able[id(n)]:
            layout[id(n)] = NCHW
        elif n.op.channel_source:
            ins = [layout[id(data)]] + [block] * (len(n.inputs) - 1)
            writes_blocked = runs(n, ins, block) or runs(n, [block] * len(n.inputs), block)
            layout[id(n)] = block if writes_blocked and not wants_nchw[id(n)] else NCHW
        else:
            layout[id(n)] = layout[id(data)] if data is not None else NCHW

    conversions: dict[tuple[int, Layout], Node] = {}
    for n in list(g.nodes):
        needs = input_layouts(n, layout, able, runs)
        if n.prologue and layout[id(n.inputs[0])] != needs[0]:
            # the conversion applies the prologue, and reads its operands instead
            first, count = n.anchor_arity, sum(len(p.inputs) for p in n.prologue)
            n.inputs[0] = convert(g, n.inputs[0], needs[0], layout, {}, before=n,
                                  fused=n.prologue, operands=n.inputs[first:first + count])
            del n.inputs[first:first + count], needs[first:first + count]
            n.prologue = []
        for position, (x, need) in enumerate(zip(list(n.inputs), needs)):
            if layout[id(x)] != need:
                n.inputs[position] = convert(g, x, need, layout, conversions, before=n)
        operands = n.inputs[n.anchor_arity:]
        for f in n.prologue + n.fused:            # steps read the converted operands
            f.inputs, operands = operands[:len(f.inputs)], operands[len(f.inputs):]
    for j, out in enumerate(g.outputs):
        if layout[id(out)].blocked:
            g.outputs[j] = convert(g, out, NCHW, layout, conversions, before=None)
    for n in g.inputs + g.nodes:
        n.layout = layout[id(n)]
    g.renumber()
    return g


def input_layouts(n: Node, layout: dict, able: dict, runs) -> list[Layout]:
    """The layouts `n` reads its inputs in: as they are where a kernel runs it so, else the
    output's (NCHW for ops without a blocked kernel). A view is its input reinterpreted: the
    input must be in the view's layout."""
    out = layout[id(n)]
    have = [layout[id(x)] for x in n.inputs]
    if n.op.is_view:
        return [out] * len(have)
    if runs(n, have, out):
        return have
    chosen = [out if able[id(n)] else NCHW] * len(have)
    for position, current in enumerate(have):
        keep = chosen[:position] + [current] + chosen[position + 1:]
        if runs(n, keep, out):
            chosen = keep
    return chosen


def convert(g: Graph, x: Node, need: Layout, layout: dict, conversions: dict,
            before: Node | None, fused: list[Node] = (), operands: list[Node] = ()) -> Node:
    """A Reorder of `x` into `need`, shared by every reader that needs the same (unless it
    also applies `fused` elementwise steps, moved from a reader's load prologue, which read
    `operands`)."""
    key = (id(x), need)
    if key not in conversions:
        node = Node(Reorder(layout[id(x)], need), [x, *operands], x.shape,
                    f"{x.name}.to_{need}")
        node.fused = list(fused)
        node.layout = need
        layout[id(node)] = need
        at = g.nodes.index(before) if before is not None else len(g.nodes)
        g.nodes.insert(at, node)
        conversions[key] = node
    return conversions[key]


def nchw_preference(g: Graph, able: dict, readers: dict, runs, block: Layout) -> dict[int, bool]:
    """Does every reader of a node want it in NCHW (so its producer should write NCHW)?
    Decided backwards: outputs want NCHW; ops that keep their input's layout (elementwise,
    pools, views) want what their own readers want; any other reader wants NCHW unless a
    kernel runs it with this input blocked (a convolution, a Linear on a blocked Flatten)."""
    wants: dict[int, bool] = {}
    outputs = {id(o) for o in g.outputs}
    for n in reversed(g.nodes):
        votes = [True] if id(n) in outputs else []
        for r in readers.get(id(n), []):
            if r.op.is_view or able[id(r)] and not r.op.channel_source:
                votes.append(wants.get(id(r), False))
            else:
                out = block if able[id(r)] and not wants.get(id(r), False) else NCHW
                ins = [block if x is n or able[id(r)] else NCHW for x in r.inputs]
                votes.append(not runs(r, ins, out))
        wants[id(n)] = bool(votes) and all(votes)
    return wants
