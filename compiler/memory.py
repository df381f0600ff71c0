"""Static memory plan: where every tensor lives.

Kernels run in a fixed order, so a buffer is live from the first kernel that writes into it
to the last kernel that reads it (or a view or slice of it). Buffers are placed first-fit by
offset among those whose lifetimes overlap, 64-byte aligned, in one arena. Views (Flatten)
and inputs of a zero-copy cat live inside another node's buffer. An elementwise kernel whose
input dies at that kernel writes its output over it, in place.
"""
from __future__ import annotations

from dataclasses import dataclass

from .graph import Graph, Node
from .layout import physical_numel

ALIGN_FLOATS = 16          # 64 bytes


@dataclass(frozen=True)
class Storage:
    base: str              # "in0", "out1" or "arena"
    offset: int            # in floats

    def c_expr(self) -> str:
        return self.base if self.offset == 0 else f"{self.base} + {self.offset}"


def align(n: int) -> int:
    return -(-n // ALIGN_FLOATS) * ALIGN_FLOATS


def resolve(node: Node) -> tuple[Node, int]:
    """(root node that owns the buffer, float offset of `node` inside it)."""
    offset = 0
    while True:
        if node.op.is_view:
            node = node.inputs[0]
        elif node.slice_of is not None:
            node, extra = node.slice_of
            offset += extra
        else:
            return node, offset


@dataclass
class MemoryPlan:
    storage: dict[int, Storage]     # id(node) -> where its output lives
    arena_floats: int
    inplace: set[int]               # ids of kernel nodes that write over their input 0
    top: Node | None = None         # the buffer that ends highest (named if it is too high)


def plan_memory(g: Graph, order: list[Node], inplace_ok=lambda node: False) -> MemoryPlan:
    """Storage for every node; `order` lists the nodes that run kernels, in execution order.
    `inplace_ok(node)` says whether node's kernel may write over its input 0."""
    fixed: dict[int, Storage] = {}
    for i, node in enumerate(g.inputs):
        fixed[id(node)] = Storage(f"in{i}", 0)
    for j, node in enumerate(g.outputs):
        fixed[id(resolve(node)[0])] = Storage(f"out{j}", 0)

    owner: dict[int, Node] = {}                    # root id -> root (after in-place merges)

    def root_of(node: Node) -> Node:
        root = resolve(node)[0]
        while id(root) in owner and owner[id(root)] is not root:
            root = owner[id(root)]
        return root

    last_read: dict[int, int] = {}
    for t, node in enumerate(order):
        for i in node.inputs:
            last_read[id(resolve(i)[0])] = t

    inplace: set[int] = set()
    for t, node in enumerate(order):
        if not inplace_ok(node) or id(node) in fixed or node.slice_of is not None:
            continue
        src, offset = resolve(node.inputs[0])
        if (offset == 0 and id(src) not in fixed and src.slice_of is None
                and last_read.get(id(src)) == t and src.layout == node.layout
                and physical_numel(src.shape, src.layout) == physical_numel(node.shape, node.layout)
                and not any(resolve(i)[0] is src for i in node.inputs[1:])):
            owner[id(node)] = root_of(src)
            inplace.add(id(node))

    start: dict[int, int] = {}
    end: dict[int, int] = {}
    for t, node in enumerate(order):
        for touched in [node] + node.inputs:
            root = root_of(touched)
            start[id(root)] = min(start.get(id(root), t), t)
            end[id(root)] = max(end.get(id(root), t), t)

    storage: dict[int, Storage] = {}
    placed: list[tuple[int, int, int, int]] = []       # (offset, size, start, end)
    arena, top = 0, None
    roots = {id(root_of(n)): root_of(n) for n in order}
    for root in sorted(roots.values(), key=lambda r: start[id(r)]):
        if id(root) in fixed:
            continue
        size = align(physical_numel(root.shape, root.layout))
        s, e = start[id(root)], end[id(root)]
        busy = sorted((o, sz) for o, sz, bs, be in placed if bs <= e and s <= be)
        offset = 0
        for o, sz in busy:
            if offset + size <= o:
                break
            offset = max(offset, o + sz)
        placed.append((offset, size, s, e))
        storage[id(root)] = Storage("arena", offset)
        if offset + size > arena:
            arena, top = offset + size, root
    storage.update(fixed)

    for node in g.inputs + g.nodes:
        root = root_of(node)
        base = storage[id(root)]
        storage[id(node)] = Storage(base.base, base.offset + resolve(node)[1])
    return MemoryPlan(storage, arena, inplace, top)
