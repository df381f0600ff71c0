"""The base of every error smelt raises on purpose, and the C compiler's."""


class SmeltError(Exception):
    """Base class of every error smelt raises on purpose."""


class CompileError(SmeltError, RuntimeError):
    """The C compiler rejected generated code; the message carries its output and the source
    path."""
