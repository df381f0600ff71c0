"""The errors smelt raises. Each names the layer it is about and the cause."""
from runtime.errors import CompileError, SmeltError

__all__ = ["SmeltError", "CompileError", "UnsupportedArgumentError", "ShapeError", "TraceError",
           "UnsupportedModelError"]


class UnsupportedArgumentError(SmeltError, ValueError):
    """A layer was constructed with an argument value smelt does not implement."""


class ShapeError(SmeltError, ValueError):
    """A model does not type-check: a layer received a shape it cannot take."""


class TraceError(SmeltError, TypeError):
    """`forward` did something tracing cannot follow (e.g. used a value that is not a tensor)."""



class UnsupportedModelError(SmeltError, ValueError):
    """A model (from PyTorch or ONNX) holds operators or arguments smelt cannot compile.
    `.problems` lists every one of them, found before anything is compiled."""

    def __init__(self, problems: list):
        self.problems = list(problems)
        lines = [f"  {p.node} ({p.op}): {p.reason}" for p in self.problems]
        super().__init__(f"the model has {len(self.problems)} unsupported part"
                         f"{'s' * (len(self.problems) != 1)}:\n" + "\n".join(lines))
