"""Graph operations on traced tensors that are functions rather than layers."""
from __future__ import annotations

from .errors import ShapeError, TraceError
from .graph import Tensor, current_tracer
from .ops.shape import Cat, normalize_dim


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate traced tensors along `dim`, as torch.cat."""
    tracer = current_tracer()
    if tracer is None:
        raise TraceError("compiler.cat works on traced tensors inside forward")
    name = tracer.scoped_name("cat")
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else tensors
    if not isinstance(tensors, list) or not tensors:
        raise TraceError(f"{name}: expected a non-empty list or tuple of tensors")
    axis = normalize_dim(dim, len(tensors[0].shape)) if isinstance(tensors[0], Tensor) else 0
    if axis is None:
        raise ShapeError(f"{name} (cat): dim {dim} is out of range for "
                         f"{len(tensors[0].shape)}-D tensors")
    return tracer.emit(Cat(axis), tensors, name)
