"""Kernel families: how each op (with what it fused) becomes a templated C function."""
from __future__ import annotations

from ..codegen.env import c_identifier
from ..graph import Graph, Node
from ..ops import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Cat,
                   ChannelGather, Conv2d, ConvTranspose2d, Elementwise, Linear, LocalResponseNorm,
                   MaxPool2d, Pad, PixelShuffle, Reorder, Softmax, Upsample)
from . import (channels, conv, conv_blocked, conv_dot, conv_transpose_blocked, depthwise, eltwise,
               layout, linear, norm, pool, pool_blocked, shape, shape_blocked, softmax,
               winograd)
from .spec import KernelSpec
from .family import Family, Layouts

#: Every op's kernel families, in order of preference: the first whose predicate says it runs
#: the node (in its layouts) lowers it. The layout pass asks the same predicates before it
#: decides layouts. Reference families (plain NCHW loops) come last.
FAMILIES: dict[type, tuple[Family, ...]] = {
    Conv2d: (depthwise.DEPTHWISE_BLOCKED, conv_dot.CONV2D_DOT, winograd.CONV2D_WINOGRAD,
             conv_blocked.CONV2D_BLOCKED, conv.CONV2D_DIRECT),
    ConvTranspose2d: (conv_transpose_blocked.CONV_TRANSPOSE2D_DOT,
                      conv_transpose_blocked.CONV_TRANSPOSE2D_BLOCKED,
                      conv.CONV_TRANSPOSE2D_DIRECT),
    Linear: (linear.LINEAR_FAST, linear.LINEAR_ROWS),
    Softmax: (softmax.SOFTMAX_FAST, softmax.SOFTMAX_ROWS),
    MaxPool2d: (pool_blocked.POOL2D_BLOCKED, pool.POOL2D),
    AvgPool2d: (pool_blocked.POOL2D_BLOCKED, pool.POOL2D),
    AdaptiveAvgPool2d: (pool_blocked.POOL2D_BLOCKED, pool.POOL2D),
    AdaptiveMaxPool2d: (pool_blocked.POOL2D_BLOCKED, pool.POOL2D),
    Upsample: (shape_blocked.UPSAMPLE_BLOCKED, shape.UPSAMPLE_NEAREST, shape.UPSAMPLE_BILINEAR,
               shape.UPSAMPLE_BICUBIC),
    Cat: (shape_blocked.CAT_BLOCKED, shape.CAT),
    Pad: (shape.PAD,),
    PixelShuffle: (shape.PIXEL_SHUFFLE,),
    ChannelGather: (channels.CHANNEL_GATHER_BLOCKED, channels.CHANNEL_GATHER),  # shuffle, slice
    BatchNorm2d: (norm.BATCH_STATS,),
    LocalResponseNorm: (norm.LOCAL_RESPONSE_NORM,),
    Reorder: (layout.REORDER,),
    Elementwise: (eltwise.ELTWISE,),      # every elementwise op
}


def families_of(op) -> tuple[Family, ...]:
    """The op's families, found by its class or the nearest base class in the table."""
    return next((FAMILIES[cls] for cls in type(op).__mro__ if cls in FAMILIES), ())


def choose(node: Node, target, layouts: Layouts | None = None,
           kernels: str = "auto", exact: bool = False) -> Family | None:
    """The family that runs `node` in `layouts` (default: the layouts it has), or None;
    `exact`: only families that sum as the direct algorithm does."""
    layouts = layouts or Layouts.of(node)
    for family in families_of(node.op):
        if (family.reference or kernels != "reference") and (family.exact or not exact) \
                and family.runs(node, target, layouts):
            return family
    return None


def runs_kernel(node: Node) -> bool:
    """Views and zero-copy concatenations run no kernel of their own."""
    return not node.op.is_view and not getattr(node.op, "zero_copy", False)


def kernel_nodes(g: Graph) -> list[Node]:
    return [n for n in g.nodes if runs_kernel(n)]


def lower(node: Node, index: int, target, kernels: str = "auto",
          exact: bool = False) -> KernelSpec:
    """Build the KernelSpec of `node`: name, fused steps, then the family chosen for it."""
    family = choose(node, target, kernels=kernels, exact=exact)
    if family is None:
        layouts = Layouts.of(node)
        raise NotImplementedError(
            f"{node.name} ({node.op.kind}): no kernel runs {node.op.describe()} on inputs "
            f"{[i.shape for i in node.inputs]} in layouts {[str(x) for x in layouts.ins]} -> "
            f"{layouts.out}")
    spec = KernelSpec(name=c_identifier(f"k{index:03d}", node.name), node=node,
                      in_shapes=[i.shape for i in node.inputs], out_shape=node.shape)
    operand = node.anchor_arity
    for number, p in enumerate(node.prologue):
        names = [f"in{operand + j}" for j in range(len(p.inputs))]
        operand += len(p.inputs)
        spec.add_step(p.op, names, f"p{number}", p.name, prologue=True)
    for number, f in enumerate(node.fused, start=1):
        names = [f"in{operand + j}" for j in range(len(f.inputs))]
        operand += len(f.inputs)
        spec.add_step(f.op, names, f"e{number}", f.name)
    family.lower(spec, target)
    spec.family = family.name
    spec.in_place_ok = family.in_place
    return spec
