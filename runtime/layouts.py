"""Converting numpy arrays between NCHW and the channel-blocked layout kernels may use.

A blocked tensor (N, C, H, W) is stored as (N, ceil(C/V), H, W, V) with zero padded lanes.
"""
from __future__ import annotations

import numpy as np


def to_blocked(x: np.ndarray, v: int) -> np.ndarray:
    n, c, h, w = x.shape
    blocks = -(-c // v)
    padded = np.zeros((n, blocks * v, h, w), np.float32)
    padded[:, :c] = x
    return np.ascontiguousarray(padded.reshape(n, blocks, v, h, w).transpose(0, 1, 3, 4, 2))


def to_nchw(x: np.ndarray, channels: int) -> np.ndarray:
    n, blocks, h, w, v = x.shape
    nchw = x.transpose(0, 1, 4, 2, 3).reshape(n, blocks * v, h, w)
    return np.ascontiguousarray(nchw[:, :channels])
