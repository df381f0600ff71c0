"""Lowering of standalone elementwise chains (activations, add, affine, dropout masks)."""
from __future__ import annotations

from ..ops import eltwise
from .base import KernelSpec, register
from .util import nc_inner, parallel_if


def same_layout_everywhere(node, target) -> bool:
    return True          # the layout pass gives operands the output's layout


def lower_elementwise(spec: KernelSpec, target) -> bool:
    """The node's own op runs as the first step over in0; its fused steps follow."""
    op = spec.node.op
    if any(layout != spec.out_layout for layout in spec.in_layouts):
        return False
    operands = [f"in{i}" for i in range(1, 1 + op.extra_inputs)]
    spec.add_step(op, operands, "e0", spec.node.name, first=True)
    n, c, inner = nc_inner(spec.out_shape)
    v = spec.out_layout.v
    spec.template = "eltwise.c.j2"
    spec.ctx = dict(n=n, c=c, inner=inner, blocked=spec.out_layout.blocked, v=v,
                    cb=-(-c // v), parallel=parallel_if(spec.out_numel * 8))
    spec.note = f"elementwise, {spec.out_layout}, threads over (n, c" + \
        (" block)" if spec.out_layout.blocked else ")")
    return True


for _op in eltwise.Elementwise.registry.values():      # every elementwise op, as it is defined
    register(_op, "eltwise", blocked=True, accepts=same_layout_everywhere)(lower_elementwise)
