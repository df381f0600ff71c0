"""Small helpers shared by the lowerings."""
from __future__ import annotations

import math

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
