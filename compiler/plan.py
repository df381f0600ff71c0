"""The plan: which layers run in which kernel, where every tensor lives, and a readable table."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import plan_picture
from .graph import Graph, Node, format_shape
from .kernels.spec import KernelSpec
from .memory import Storage
from .ops.base import numel


@dataclass
class Plan:
    graph: Graph                   # the graph after the passes
    kernels: list[KernelSpec]      # in execution order
    storage: dict[int, Storage]    # id(node) -> where its output lives
    arena_floats: int
    passes: list[str]
    vector_floats: int = 16        # channels per SIMD register on the target

    def storage_of(self, node: Node) -> Storage:
        return self.storage[id(node)]

    @property
    def arena_bytes(self) -> int:
        return 4 * self.arena_floats

    @property
    def total_flops(self) -> int:
        return sum(k.flops for k in self.kernels)

    def bytes_moved(self, k: KernelSpec) -> tuple[int, int]:
        """(bytes read, bytes written) by one kernel, activations and constants."""
        read = 4 * (sum(numel(s) for s in k.in_physical) + sum(c.array.size for c in k.constants))
        return read, 4 * numel(k.out_physical)

    def __str__(self) -> str:
        rows = []
        for k in self.kernels:
            read, written = self.bytes_moved(k)
            where = self.storage_of(k.node)
            rows.append((k.name, ", ".join(k.layers), format_shape(k.out_shape),
                         f"{k.flops / 1e6:.2f}", f"{read / 1024:.1f}", f"{written / 1024:.1f}",
                         where.base if where.base != "arena" else f"arena+{4 * where.offset}"))
        head = ("kernel", "layers", "output", "MFLOP", "read KiB", "write KiB", "buffer")
        total_read = sum(self.bytes_moved(k)[0] for k in self.kernels)
        total_written = sum(self.bytes_moved(k)[1] for k in self.kernels)
        foot = (f"{len(self.kernels)} kernels", "total", "",
                f"{self.total_flops / 1e6:.2f}", f"{total_read / 1024:.1f}",
                f"{total_written / 1024:.1f}", f"arena {self.arena_bytes / 1024:.1f} KiB")
        widths = [max(len(str(r[i])) for r in rows + [head, foot]) for i in range(len(head))]
        widths[1] = min(widths[1], 60)

        def line(r):
            cells = [str(c) if i != 1 or len(str(c)) <= 60 else str(c)[:57] + "..."
                     for i, c in enumerate(r)]
            return "  ".join(c.rjust(w) if i >= 3 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(line(head))
        return "\n".join([line(head), rule] + [line(r) for r in rows] + [rule, line(foot)] +
                         [f"passes: {' -> '.join(self.passes)}"])

    __repr__ = __str__

    # --- pictures (compiler/plan_picture.py) ---------------------------------------------------
    def to_dot(self) -> str:
        """The kernel graph in Graphviz DOT: one box per kernel listing its fused layers."""
        return plan_picture.to_dot(self)

    def save_svg(self, path) -> Path:
        """Render to_dot() as SVG with Graphviz (the `graphviz` extra, or the `dot` program)."""
        return plan_picture.save_svg(self, path)
