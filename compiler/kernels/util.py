"""Small helpers shared by the lowerings."""
from __future__ import annotations

import math

import numpy as np

#: Below this much work a kernel runs on one thread: waking an OpenMP team costs more.
PARALLEL_MIN_FLOPS = 200_000


def parallel_if(work: int) -> int:
    """1 when `work` (flops or bytes moved) is worth a parallel region, else 0."""
    return int(work >= PARALLEL_MIN_FLOPS)


def nc_inner(shape) -> tuple[int, int, int]:
    """View a tensor as (N, C, inner): batch, channel (dim 1), everything after."""
    if len(shape) == 0:
        return 1, 1, 1
    if len(shape) == 1:
        return 1, 1, shape[0]
    return shape[0], shape[1], math.prod(shape[2:])


def padded_bias(op, length: int) -> np.ndarray:
    """The op's bias (zeros without one) as float32, zero-padded to `length` lanes."""
    bias = np.zeros(length, np.float32)
    if "bias" in op.params:
        bias[:len(op.params["bias"])] = op.params["bias"]
    return bias


def groups_in_whole_blocks(op, v: int) -> bool:
    """One group, or every group's input and output channels a whole number of V-blocks."""
    if op.groups == 1:
        return True
    return (op.in_channels // op.groups) % v == 0 and (op.out_channels // op.groups) % v == 0


def plural(count: int, noun: str) -> str:
    """`1 block`, `2 blocks`: counts in the kernels' header notes."""
    return f"{count} {noun}{'s' if count != 1 else ''}"
