"""Lowering of Linear: y = x @ W.T + b over the last dimension, any rank."""
from __future__ import annotations

import math

from ..ops.linear import Linear
from .base import KernelSpec, register
from .util import parallel_if

#: output features per work item: one row of the accumulator tile lives on the stack
COLUMN_BLOCK = 64


def batch_channel_exprs(out_shape) -> tuple[str, str]:
    """C expressions for the batch index (dim 0) and dim-1 index of output element (r, o),
    where r is the row of the flattened leading dims and o the output feature."""
    if len(out_shape) == 1:
        return "0", "0"
    if len(out_shape) == 2:
        return "r", "o"
    lead = out_shape[:-1]
    rows_per_n = math.prod(lead[1:])
    rows_per_c = math.prod(lead[2:])
    c = f"r % {lead[1]}" if rows_per_c == 1 else f"(r / {rows_per_c}) % {lead[1]}"
    return f"r / {rows_per_n}", f"({c})"


@register(Linear, "linear_rows")
def linear_rows(spec: KernelSpec, target) -> bool:
    op = spec.node.op
    k, n_out = op.in_features, op.out_features
    rows = math.prod(spec.out_shape[:-1])
    block = min(n_out, COLUMN_BLOCK)
    n_expr, c_expr = batch_channel_exprs(spec.out_shape)
    spec.template = "linear.c.j2"
    spec.constant("weight_t", op.params["weight"].T, f"{k}x{n_out} (weight transposed)")
    if "bias" in op.params:
        spec.constant("bias", op.params["bias"], f"{n_out}")
    spec.ctx = dict(rows=rows, k=k, n=n_out, block=block, blocks=-(-n_out // block),
                    has_bias="bias" in op.params, n_expr=n_expr, c_expr=c_expr,
                    parallel=parallel_if(spec.flops))
    spec.note = (f"reference GEMM, rows x {block}-feature blocks, weight packed (in, out), "
                 "threads over (row, block)")
    return True
