"""The errors smelt raises. Each names the layer it is about and the cause."""


class SmeltError(Exception):
    """Base class of every error smelt raises on purpose."""


class UnsupportedArgumentError(SmeltError, ValueError):
    """A layer was constructed with an argument value smelt does not implement."""


class ShapeError(SmeltError, ValueError):
    """A model does not type-check: a layer received a shape it cannot take."""


class TraceError(SmeltError, TypeError):
    """`forward` did something tracing cannot follow (e.g. used a value that is not a tensor)."""


class CompileError(SmeltError, RuntimeError):
    """The C compiler rejected generated code; the message carries its output and the source path."""
