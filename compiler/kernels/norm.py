"""Lowering of BatchNorm2d with batch statistics (train mode, or track_running_stats=False).

Eval-mode BatchNorm with running statistics never gets here: fold_bn merges it into the
convolution in front, bn_to_affine turns the rest into a fusable ChannelAffine.
"""
from __future__ import annotations

import numpy as np

from .spec import KernelSpec, StateSlot
from .family import Family, Layouts
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
