"""torch.nn's default initialisation distributions, drawn from smelt's numpy generator."""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import numpy as np

from ..rng import generator

_skip = threading.local()


@contextmanager
def uninitialised():
    """Layers made inside get uninitialised parameters and draw no random numbers: an
    importer fills them with the weights of the model it imports."""
    before = getattr(_skip, "on", False)
    _skip.on = True
    try:
        yield
    finally:
        _skip.on = before


def uniform(shape, bound: float) -> np.ndarray:
    if getattr(_skip, "on", False):
        return np.empty(shape, np.float32)
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
