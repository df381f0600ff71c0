"""Kernel families: how each op (with what it fused) becomes a templated C function."""
from __future__ import annotations

from ..codegen.env import c_identifier
from ..graph import Graph, Node
from ..ops import Flatten
from . import conv, eltwise, linear, norm, pool, shape, softmax  # noqa: F401  (registers)
from .base import REGISTRY, KernelSpec

#: ops that run no kernel: their output is a view of their input's buffer
VIEW_OPS = (Flatten,)


def kernel_nodes(g: Graph) -> list[Node]:
    return [n for n in g.nodes if not isinstance(n.op, VIEW_OPS)]


def lower(node: Node, index: int, target, kernels: str = "auto") -> KernelSpec:
    """Build the KernelSpec of `node`: name, fused steps, then the first family that fits."""
    spec = KernelSpec(name=f"k{index:03d}_{c_identifier(node.name)}", node=node,
                      in_shapes=[i.shape for i in node.inputs], out_shape=node.shape)
    operand = len(node.inputs) - sum(len(f.inputs) for f in node.fused)
    for number, f in enumerate(node.fused, start=1):
        names = [f"in{operand + j}" for j in range(len(f.inputs))]
        operand += len(f.inputs)
        spec.add_step(f.op, names, f"e{number}", f.name)
    candidates = REGISTRY.get(type(node.op), [])
    for family, fn, reference in candidates:
        if kernels == "reference" and not reference:
            continue
        if fn(spec, target):
            spec.family = family
            return spec
    raise NotImplementedError(f"{node.name} ({node.op.kind}): no kernel can run "
                              f"{node.op.describe()} on input {spec.in_shapes}")
