"""The planner: run the passes in a fixed order, pick a kernel per node, plan memory."""
from __future__ import annotations

import functools

from . import limits
from .errors import ShapeError
from .graph import Graph
from .kernels import kernel_nodes, lower
from .memory import plan_memory
from .passes.concat import concat_into_conv, distribute_over_cat, zero_copy_cat
from .passes.fold_bn import fold_bn
from .passes.fuse_epilogues import fuse_epilogues
from .passes.layout import choose_layout
from .passes.lower_bn import bn_to_affine
from .passes.outputs import materialize_outputs
from .passes.store_patterns import (fuse_channelwise_prologues, fuse_input_prologues,
                                     fuse_pixel_shuffle)
from .plan import Plan
from .target import Target

#: the passes, in the order they run; each is a pure Graph -> Graph function
FUSING_PASSES = [fold_bn, bn_to_affine, fuse_epilogues, distribute_over_cat, fuse_pixel_shuffle,
                 fuse_input_prologues, fuse_channelwise_prologues, materialize_outputs,
                 choose_layout, zero_copy_cat, concat_into_conv]
#: with fuse=False: only what is needed to run at all, one kernel per layer
PLAIN_PASSES = [bn_to_affine, materialize_outputs, choose_layout]


def pass_list(fuse: bool, kernels: str, target: Target) -> list:
    """The passes for these options; the reference kernels run everything in NCHW."""
    chosen = []
    for p in FUSING_PASSES if fuse else PLAIN_PASSES:
        if p is choose_layout:
            if kernels == "reference":
                continue
            p = functools.update_wrapper(functools.partial(choose_layout, target=target),
                                         choose_layout)
        chosen.append(p)
    return chosen

def check_sizes(specs, memory) -> None:
    """A ShapeError if the arena or the parameter blob (laid out as codegen.emit does) is
    larger than compiler/limits.py allows, naming the layers that take the most of it."""
    arena = 4 * memory.arena_floats
    if arena > limits.MAX_ARENA_BYTES:
        raise ShapeError(f"{memory.top.name} ({memory.top.op.kind}): the arena would need "
                         f"{arena} bytes for the intermediate tensors live together with this "
                         f"layer's output; at most {limits.MAX_ARENA_BYTES} are supported "
                         f"(compiler/limits.py: MAX_ARENA_BYTES)")
    sizes = [4 * sum(-(-c.array.size // 16) * 16 for c in s.constants) for s in specs]
    if sum(sizes) > limits.MAX_PARAM_BYTES:
        largest = specs[sizes.index(max(sizes))]
        raise ShapeError(f"{', '.join(largest.layers)} ({largest.node.op.kind}): the model's "
                         f"parameters would take {sum(sizes)} bytes, {max(sizes)} of them "
                         f"here; at most {limits.MAX_PARAM_BYTES} are supported "
                         f"(compiler/limits.py: MAX_PARAM_BYTES)")


def plan(graph: Graph, *, fuse: bool = True, kernels: str = "auto",
         target: Target | None = None, exact: bool = False) -> Plan:
    target = target or Target.detect()
    passes = pass_list(fuse, kernels, target)
    g = graph
    for p in passes:
        g = p(g)
    order = kernel_nodes(g)
    specs = [lower(node, i, target, kernels, exact) for i, node in enumerate(order)]
    in_place_ok = {id(s.node): s.in_place_ok for s in specs}
    memory = plan_memory(g, order, lambda n: fuse and in_place_ok[id(n)])
    check_sizes(specs, memory)
    for spec in specs:
        spec.inplace = id(spec.node) in memory.inplace
    return Plan(g, specs, memory.storage, memory.arena_floats, [p.__name__ for p in passes],
                target.vector_floats)
