"""The errors smelt raises. Each names the layer it is about and the cause."""
from runtime.errors import CompileError, SmeltError

__all__ = ["SmeltError", "CompileError", "UnsupportedArgumentError", "ShapeError", "TraceError"]


class UnsupportedArgumentError(SmeltError, ValueError):
    """A layer was constructed with an argument value smelt does not implement."""


class ShapeError(SmeltError, ValueError):
    """A model does not type-check: a layer received a shape it cannot take."""


class TraceError(SmeltError, TypeError):
    """`forward` did something tracing cannot follow (e.g. used a value that is not a tensor)."""

