"""The numpy random generator behind parameter initialisation and dropout seeds."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Make parameter initialisation and dropout masks reproducible, like torch.manual_seed."""
    global _generator
    _generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    return _generator
