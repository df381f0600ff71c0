"""The planner: run the passes in a fixed order, pick a kernel per node, plan memory."""
from __future__ import annotations

from .graph import Graph
from .kernels import kernel_nodes, lower
from .memory import plan_memory
from .passes.fold_bn import fold_bn
from .passes.fuse_epilogues import fuse_epilogues
from .passes.lower_bn import bn_to_affine
from .passes.outputs import materialize_outputs
from .plan import Plan
from .target import Target

FUSING_PASSES = [fold_bn, bn_to_affine, fuse_epilogues, materialize_outputs]
PLAIN_PASSES = [bn_to_affine, materialize_outputs]


def plan(graph: Graph, *, fuse: bool = True, kernels: str = "auto",
         target: Target | None = None) -> Plan:
    target = target or Target.detect()
    passes = FUSING_PASSES if fuse else PLAIN_PASSES
    g = graph
    for p in passes:
        g = p(g)
    order = kernel_nodes(g)
    specs = [lower(node, i, target, kernels) for i, node in enumerate(order)]
    storage, arena = plan_memory(g, order)
    return Plan(g, specs, storage, arena, [p.__name__ for p in passes])
