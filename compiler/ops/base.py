"""What every op says about itself: shape rule, NumPy reference, how it fuses, its cost."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Shape = tuple[int, ...]


class OpShapeError(Exception):
    """Raised by infer_shape; the tracer adds the layer name and the input shapes."""


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def c_float(value: float) -> str:
    """A float32 value as a C literal that round-trips exactly."""
    value = float(np.float32(value))
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    text = repr(value)
    if "e" not in text and "." not in text:
        text += ".0"
    return f"{text}f" if value >= 0 else f"({text}f)"


class Op:
    """Base class of ops. Subclasses implement the methods they need."""

    #: y[i] depends on x[i] alone (and on operands' [i] and per-channel constants): it fuses
    #: into the store of the kernel that produces x (after TVM's kElemWise)
    elementwise = False
    #: constants under PyTorch's names ("weight", "bias", "running_mean", ...)
    params: dict[str, np.ndarray] = {}
    #: the output is the input's buffer reinterpreted: no kernel runs (Flatten)
    is_view = False
    #: the op's kernel can apply elementwise ops to its results before storing them
    #: (False for views and for Cat, whose inputs are written straight into its buffer)
    absorbs_epilogue = True
    #: an elementwise op whose result depends on the element's batch or channel index
    channel_dependent = False
    #: an elementwise op whose result depends on the element's logical index (a per-element
    #: dropout mask): it gets that index as `at["index"]`, and no store pattern may move it
    position_dependent = False
    #: an elementwise op whose C is dozens of instructions (built on exp): a kernel that
    #: stores lane by lane applies it over whole rows instead, where it vectorises
    costly = False
    #: treats a 3-D input as one unbatched (C, H, W) image, as torch does: the tracer runs it
    #: on a batch of one (a view) and views the result back
    unbatched = False
    #: creates new channels (a convolution): it decides the layout of what follows it, where
    #: other ops with a blocked kernel keep their input's
    channel_source = False
    #: draws random numbers: its reference takes the call number `step`, and its kernel reads
    #: a seed from the model's state and the call number (dropout masks)
    random = False
    #: the state (a module's state_dict prefix) the op updates when it runs, if any: passes
    #: must keep the updates of one state in program order
    state_key: str | None = None

    @property
    def kind(self) -> str:
        return type(self).__name__

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise OpShapeError(message)

    def infer_shape(self, *shapes: Shape) -> Shape:
        raise NotImplementedError

    def reference(self, *inputs: np.ndarray) -> np.ndarray:
        """Plain NumPy semantics, shared with nothing in the templates (the test oracle)."""
        raise NotImplementedError

    def flops(self, in_shapes: list[Shape], out_shape: Shape) -> int:
        """Floating-point operations for one call; elementwise ops count one per output."""
        return numel(out_shape)

    def attrs(self) -> dict:
        """Attributes worth showing in a graph listing."""
        return {}

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attrs().items())
        return f"{self.kind}({args})"

    # --- elementwise ops used as fused epilogues ------------------------------------------
    #: how many extra tensor operands an elementwise op reads (Add reads one)
    extra_inputs = 0

    def c_apply(self, v: str, at: dict) -> str:
        """C expression applying this elementwise op to value `v`.

        `at` maps "n", "c", "off" to C expressions for the element's batch index, channel
        index and linear offset, "operands" to C pointers of the extra inputs and
        "operand_offsets" to the element's offset in each of them, "param" to a
        function naming the C pointer of one of the op's constants, and "seed" to the C
        expression of the op's random seed (ops with a `seed` attribute).
        """
        raise NotImplementedError(f"{self.kind} cannot be fused as an epilogue")


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)
