"""torch.nn's default initialisation distributions, drawn from smelt's numpy generator."""
from __future__ import annotations

import math

import numpy as np

from ..rng import generator


def uniform(shape, bound: float) -> np.ndarray:
    return generator().uniform(-bound, bound, size=shape).astype(np.float32)


def kaiming_uniform_default(shape, fan_in: int) -> np.ndarray:
    """kaiming_uniform_(a=sqrt(5)), torch's default for conv and linear weights:
    U(+-1/sqrt(fan_in))."""
    gain = math.sqrt(2.0 / (1 + 5))
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(shape, bound)


def bias_uniform(shape, fan_in: int) -> np.ndarray:
    """torch's default bias: U(+-1/sqrt(fan_in))."""
    return uniform(shape, 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0)
