"""Lowering of standalone elementwise chains (activations, add, affine, dropout masks)."""
from __future__ import annotations

from .spec import KernelSpec
from .family import Family, Layouts
from .util import nc_inner, parallel_if


def runs_elementwise(node, target, layouts: Layouts) -> bool:
    """Any elementwise op on tensors that all share one layout (NCHW or blocked)."""
    return layouts.same()


def lower_elementwise(spec: KernelSpec, target) -> None:
    """The node's own op runs as the first step over in0; its fused steps follow."""
    op = spec.node.op
    operands = [f"in{i}" for i in range(1, 1 + op.extra_inputs)]
    spec.add_step(op, operands, "e0", spec.node.name, first=True)
    n, c, inner = nc_inner(spec.out_shape)
    v = spec.out_layout.v
    spec.template = "eltwise.c.j2"
    spec.ctx = dict(n=n, c=c, inner=inner, blocked=spec.out_layout.blocked, v=v,
                    cb=-(-c // v), parallel=parallel_if(spec.out_numel * 8))
    spec.note = f"elementwise, {spec.out_layout}, threads over (n, c" + \
        (" block)" if spec.out_layout.blocked else ")")


ELTWISE = Family("eltwise", runs_elementwise, lower_elementwise, reference=True, in_place=True)
