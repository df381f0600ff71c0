"""Lowerings of BatchNorm2d with batch statistics (train mode, or track_running_stats=False)
and of LocalResponseNorm.

Eval-mode BatchNorm with running statistics never gets here: fold_bn merges it into the
convolution in front, bn_to_affine turns the rest into a fusable ChannelAffine.
"""
from __future__ import annotations

import numpy as np

from .spec import KernelSpec, StateSlot
from .family import Family, Layouts, nchw_only
from .util import parallel_if


def runs_batch_stats(node, target, layouts: Layouts) -> bool:
    """A BatchNorm2d with batch statistics, on NCHW tensors."""
    return node.op.batch_stats and layouts.nchw


def batchnorm_batch_stats(spec: KernelSpec, target) -> None:
    op = spec.node.op
    n, c, h, w = spec.in_shapes[0]
    spec.template = "batchnorm_train.c.j2"
    for name in ("weight", "bias"):
        if name in op.params:
            spec.constant(name, op.params[name], f"{c}")
    if op.update_stats:
        spec.add_state(StateSlot(
            layer=spec.node.name, role="running_stats", key=op.state_prefix,
            aliases=op.state_aliases,
            names=("running_mean", "running_var", "num_batches_tracked"),
            sizes=(c, c, 1),
            initial=(op.params["running_mean"], op.params["running_var"],
                     np.array([op.num_batches_tracked]))))
    spec.ctx = dict(
        n=n, channels=c, hw=h * w,
        # elements per channel: the divisor of the mean and the (biased) variance
        count=n * h * w, eps=op.eps, momentum=op.momentum,
        has_weight="weight" in op.params, has_bias="bias" in op.params,
        update_stats=op.update_stats, parallel=parallel_if(spec.out_numel * 8))
    spec.note = ("two-pass batch statistics in double, then normalise; threads over channels"
                 + ("; updates running statistics" if op.update_stats else ""))


BATCH_STATS = Family("batchnorm_batch_stats", runs_batch_stats, batchnorm_batch_stats,
                     reference=True)


#: LocalResponseNorm sums a tile of this many pixels per channel window at once (a stack
#: buffer the window's rows are added into, one vectorisable row at a time)
LRN_TILE = 256


def local_response_norm(spec: KernelSpec, target) -> None:
    """Per (n, c): window tables of channels, then per tile of pixels the float sum of the
    window's squares in channel order, then PyTorch's / size * alpha + k, pow, divide."""
    op = spec.node.op
    n, c = spec.in_shapes[0][:2]
    inner = spec.out_numel // (n * c)
    tile = min(inner, LRN_TILE)
    tiles = -(-inner // tile)
    windows = [op.window(ch, c) for ch in range(c)]
    spec.template = "local_response_norm.c.j2"
    spec.ctx = dict(
        n=n, c=c, inner=inner, tile=tile, tiles=tiles, last=inner - (tiles - 1) * tile,
        first=[a for a, _ in windows], end=[b for _, b in windows],
        size=op.size, alpha=op.alpha, beta=op.beta, k=op.k,
        parallel=parallel_if(spec.flops) and n * c > 1)
    spec.note = (f"local response norm over {op.size} channels, NCHW, window sums in tiles "
                 f"of {tile} pixels; threads over (n, c)")


LOCAL_RESPONSE_NORM = Family("local_response_norm", nchw_only, local_response_norm,
                             reference=True)
