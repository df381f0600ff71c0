"""Kernel families: how each op (with what it fused) becomes a templated C function."""
from __future__ import annotations

from ..codegen.env import c_identifier
from ..graph import Graph, Node
# import order matters: fast families are tried newest first (conv_dot before conv_blocked)
from . import (conv, conv_blocked, conv_dot, conv_transpose_blocked, depthwise,  # noqa: F401
               eltwise, layout, linear, norm, pool, pool_blocked, shape, shape_blocked,
               softmax)
from .base import REGISTRY, KernelSpec

def runs_kernel(node: Node) -> bool:
    """Views and zero-copy concatenations run no kernel of their own."""
    return not node.op.is_view and not getattr(node.op, "zero_copy", False)


def kernel_nodes(g: Graph) -> list[Node]:
    return [n for n in g.nodes if runs_kernel(n)]


def lower(node: Node, index: int, target, kernels: str = "auto") -> KernelSpec:
    """Build the KernelSpec of `node`: name, fused steps, then the first family that fits."""
    spec = KernelSpec(name=c_identifier(f"k{index:03d}", node.name), node=node,
                      in_shapes=[i.shape for i in node.inputs], out_shape=node.shape)
    for number, p in enumerate(node.prologue):
        spec.add_step(p.op, [], f"p{number}", p.name, prologue=True)
    operand = node.anchor_arity
    for number, f in enumerate(node.fused, start=1):
        names = [f"in{operand + j}" for j in range(len(f.inputs))]
        operand += len(f.inputs)
        spec.add_step(f.op, names, f"e{number}", f.name)
    # a family that cannot honour the node's layouts, store pattern or prologue returns False
    for family in REGISTRY.get(type(node.op), []):
        if kernels == "reference" and not family.reference:
            continue
        if spec.any_blocked and not family.blocked:
            continue
        if family.lower(spec, target):
            spec.family = family.name
            return spec
    raise NotImplementedError(f"{node.name} ({node.op.kind}): no kernel can run "
                              f"{node.op.describe()} on input {spec.in_shapes}")
