"""ONNX values the importer leaves unevaluated until it sees who reads them.

Some ONNX patterns are cheap or possible in smelt only in context: a zero Pad is free as the
padding of the convolution reading it, and a Transpose that smelt cannot compute may only
be there to move an axis for a Softmax and back (how PyTorch exports softmax over channels
before opset 13). The walk keeps such a value lazy; a reader that understands it takes it as
it is, any other reader `force`s it.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..graph import Tensor


class Lazy:
    """A value of shape `shape` made by the ONNX node `name` from a traced tensor."""

    name: str
    tensor: Tensor

    @property
    def shape(self) -> tuple:
        raise NotImplementedError

    def force(self, walk) -> Tensor | None:
        """The value as a traced tensor, or None after reporting why it cannot be one."""
        raise NotImplementedError


class Padded(Lazy):
    """A zero Pad of the height and width: convolutions add it to their own padding."""

    def __init__(self, tensor: Tensor, begins: list, ends: list, name: str):
        self.tensor, self.begins, self.ends, self.name = tensor, begins, ends, name
        self.padded: Tensor | None = None

    @property
    def shape(self) -> tuple:
        n, c, h, w = self.tensor.shape
        return (n, c, h + self.begins[0] + self.ends[0], w + self.begins[1] + self.ends[1])

    def force(self, walk) -> Tensor:
        """A 1x1 depthwise identity convolution pads with zeros (smelt's Pad op has no
        constant mode), exactly: each value is multiplied by 1."""
        if self.padded is None:
            c = self.tensor.shape[1]
            (top, left), (bottom, right) = self.begins, self.ends
            op = ops.Conv2d(np.ones((c, 1, 1, 1), np.float32), None, (1, 1),
                            (top, bottom, left, right), (1, 1), c)
            self.padded = walk.tracer.emit(op, [self.tensor], walk.unique(self.name))
        return self.padded


class Permuted(Lazy):
    """A Transpose by `perm` that smelt cannot compute; Softmax and Transpose read through it
    (a softmax over a moved axis, and a transpose back)."""

    def __init__(self, tensor: Tensor, perm: tuple, name: str):
        self.tensor, self.perm, self.name = tensor, tuple(perm), name
        self.reported = False

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape[p] for p in self.perm)

    def force(self, walk) -> None:
        if not self.reported:
            self.reported = True
            walk.problem(self.name, "Transpose",
                         f"perm={list(self.perm)} on a tensor of shape {self.tensor.shape}: "
                         "smelt supports channel shuffles (Reshape-Transpose-Reshape), "
                         "depth-to-space patterns, transposes that only move dims of size 1, "
                         "and a transpose around a Softmax and back")
        return None
