"""What the converters of torch.fx nodes work with: the node's Context (its smelt name and
how to emit into smelt's tracer), Unsupported (why a node cannot be taken) and UNKNOWN.

UNKNOWN stands for a value the walk cannot know: every tensor when `compiler.check` runs
without input shapes (UNKNOWN_TENSOR: it is known to be a tensor, so what is done to it can
still be checked), sizes computed from them, and whatever an unsupported node produces.
Converters check every argument they can and return an unknown value instead of emitting
when an input is unknown, so one walk finds every problem of a model.
"""
from __future__ import annotations

from ..graph import Tensor, Tracer


class Unknown:
    def __init__(self, tensor: bool):
        self.tensor = tensor

    def __repr__(self) -> str:
        return "<unknown tensor>" if self.tensor else "<unknown>"


UNKNOWN = Unknown(tensor=False)
UNKNOWN_TENSOR = Unknown(tensor=True)


def is_tensor(v) -> bool:
    return isinstance(v, Tensor) or v is UNKNOWN_TENSOR


def known(*values) -> bool:
    """No unknown value anywhere in `values` (looking into tuples, lists, dicts and slices)."""
    for v in values:
        if isinstance(v, Unknown):
            return False
        if isinstance(v, (tuple, list)) and not known(*v):
            return False
        if isinstance(v, dict) and not known(*v.values()):
            return False
        if isinstance(v, slice) and not known(v.start, v.stop, v.step):
            return False
    return True


class Unsupported(Exception):
    """A node smelt cannot compile; the message says why (and what is supported)."""


class Context:
    """One fx node being converted: `kind` names its function-style smelt nodes
    (`layer1.0.add`, as compiler.nn names them) inside the module whose forward made the
    call, which is the tracer's current scope."""

    def __init__(self, tracer: Tracer, kind: str):
        self.tracer = tracer
        self.kind = kind
        self._name: str | None = None

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.tracer.scoped_name(self.kind)
        return self._name

    def emit(self, op, *inputs):
        if not known(*inputs):
            return UNKNOWN_TENSOR
        return self.tracer.emit(op, list(inputs), self.name)

    def eltwise(self, op, x, inplace: bool = False):
        """An elementwise op; in place, `x` (and its views) names the result afterwards."""
        self.require_tensor(x)
        if not known(x):
            return UNKNOWN_TENSOR
        if inplace:
            return self.tracer.emit_inplace(op, x, self.name)
        return self.tracer.emit(op, [x], self.name)

    def call(self, layer, *inputs):
        """Run a compiler.nn layer made for this node (F.max_pool2d as nn.MaxPool2d), so the
        node gets that layer's checks and ops, under this node's name."""
        for x in inputs:
            self.require_tensor(x)
        if not known(*inputs):
            return UNKNOWN_TENSOR
        self.tracer.module_names[id(layer)] = self.name
        return layer(*inputs)

    @staticmethod
    def require_tensor(x) -> None:
        if not is_tensor(x) and x is not UNKNOWN:
            raise Unsupported(f"expected a tensor, got {type(x).__name__} {x!r}")
