"""Static memory plan: every intermediate tensor gets an offset in one arena.

Kernels run in a fixed order, so each buffer is live from the kernel that writes it to the
last kernel that reads it (or a view of it). Buffers are placed first-fit by offset among
those whose lifetimes overlap, 64-byte aligned.
"""
from __future__ import annotations

from dataclasses import dataclass

from .graph import Graph, Node
from .ops.base import numel
from .passes.outputs import storage_root

ALIGN_FLOATS = 16          # 64 bytes


@dataclass(frozen=True)
class Storage:
    base: str              # "in0", "out1" or "arena"
    offset: int            # in floats

    def c_expr(self) -> str:
        return self.base if self.offset == 0 else f"{self.base} + {self.offset}"


def align(n: int) -> int:
    return -(-n // ALIGN_FLOATS) * ALIGN_FLOATS


def plan_memory(g: Graph, order: list[Node]) -> tuple[dict[int, Storage], int]:
    """Storage for every node (keyed by id(node)) and the arena size in floats.

    `order` lists the nodes that run as kernels, in execution order."""
    storage: dict[int, Storage] = {}
    for i, node in enumerate(g.inputs):
        storage[id(node)] = Storage(f"in{i}", 0)
    for j, node in enumerate(g.outputs):
        storage[id(storage_root(node))] = Storage(f"out{j}", 0)

    start: dict[int, int] = {}
    end: dict[int, int] = {}
    for t, node in enumerate(order):
        start.setdefault(id(node), t)
        end[id(node)] = max(end.get(id(node), t), t)
        for i in node.inputs:
            root = storage_root(i)
            end[id(root)] = max(end.get(id(root), t), t)

    placed: list[tuple[int, int, int, int]] = []       # (offset, size, start, end)
    arena = 0
    for node in order:
        if id(node) in storage:
            continue
        size = align(numel(node.shape))
        s, e = start[id(node)], end[id(node)]
        busy = sorted((o, sz) for o, sz, bs, be in placed if bs <= e and s <= be)
        offset = 0
        for o, sz in busy:
            if offset + size <= o:
                break
            offset = max(offset, o + sz)
        placed.append((offset, size, s, e))
        storage[id(node)] = Storage("arena", offset)
        arena = max(arena, offset + size)

    for node in g.nodes:                          # views live in their root's buffer
        if id(node) not in storage:
            storage[id(node)] = storage[id(storage_root(node))]
    return storage, arena
