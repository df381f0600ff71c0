"""Layer cases that run on channel-blocked tensors (a convolution in front)."""
from ..frameworks import Case

CASES: list[Case] = []
