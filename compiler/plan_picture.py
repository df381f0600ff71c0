"""Pictures of a plan: its kernel graph as Graphviz DOT, and as SVG when Graphviz is there."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .graph import format_shape
from .memory import resolve


def edges(plan) -> list[tuple[str, str]]:
    """(producer, consumer) pairs between kernels and graph inputs/outputs, by buffer:
    a kernel reading a cat or a view depends on every kernel that wrote into it."""
    writers: dict[int, list[str]] = {}
    for i, node in enumerate(plan.graph.inputs):
        writers.setdefault(id(node), []).append(f"in{i}")
    pairs = []
    for k in plan.kernels:
        for x in k.node.inputs:
            for w in writers.get(id(resolve(x)[0]), []):
                if (w, k.name) not in pairs:
                    pairs.append((w, k.name))
        writers.setdefault(id(resolve(k.node)[0]), []).append(k.name)
    for j, node in enumerate(plan.graph.outputs):
        for w in writers.get(id(resolve(node)[0]), []):
            pairs.append((w, f"out{j}"))
    return pairs


def to_dot(plan) -> str:
    """The kernel graph in Graphviz DOT: one box per kernel listing its fused layers."""
    def quote(text: str) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph plan {", "  rankdir=TB;",
             '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for i, node in enumerate(plan.graph.inputs):
        label = quote(f"input {i}: {format_shape(node.shape)}")
        lines.append(f"  in{i} [shape=ellipse, label={label}];")
    for k in plan.kernels:
        rows = [f"{layer} ({kind})" for layer, kind in zip(k.layers, k.kinds)]
        if k.node.slice_of is not None:
            rows.append(f"writes into its slice of {k.node.slice_of[0].name}")
        rows.append(f"{format_shape(k.out_shape)}, {k.flops / 1e6:.1f} MFLOP")
        label = "\\n".join([k.name] + [quote(row)[1:-1] for row in rows])
        lines.append(f'  {k.name} [label="{label}"];')
    for j, node in enumerate(plan.graph.outputs):
        label = quote(f"output {j}: {format_shape(node.shape)}")
        lines.append(f"  out{j} [shape=ellipse, label={label}];")
    lines += [f"  {a} -> {b};" for a, b in edges(plan)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_svg(plan, path) -> Path:
    """Render to_dot() as SVG with Graphviz (the `graphviz` extra, or the `dot` program)."""
    dot = plan.to_dot()
    try:
        import graphviz
        try:
            svg = graphviz.Source(dot).pipe(format="svg")
        except graphviz.ExecutableNotFound:
            raise RuntimeError(GRAPHVIZ_MISSING) from None
    except ImportError:
        program = shutil.which("dot")
        if program is None:
            raise RuntimeError(GRAPHVIZ_MISSING) from None
        svg = subprocess.run([program, "-Tsvg"], input=dot.encode(), capture_output=True,
                             check=True).stdout
    path = Path(path)
    path.write_bytes(svg)
    return path


GRAPHVIZ_MISSING = ("rendering the plan needs Graphviz's `dot` program, which is not installed: "
                "install Graphviz (e.g. `apt install graphviz`, `brew install graphviz`) and "
                "optionally `pip install smelt[graphviz]`; plan.to_dot() gives the DOT text")
