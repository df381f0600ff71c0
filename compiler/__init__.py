"""smelt's compiler: trace a compiler.nn model, plan it, and generate shape-specialised C.

Public: trace(), compile(), cat(), manual_seed(), the nn module, and interp (the NumPy
reference interpreter).
"""
from . import interp, nn
from .driver import compile
from .errors import CompileError, ShapeError, SmeltError, TraceError, UnsupportedArgumentError
from .graph import Graph, Tensor, trace
from .rng import manual_seed
from .tensor_ops import cat

__all__ = ["nn", "interp", "trace", "compile", "cat", "manual_seed", "Graph", "Tensor",
           "SmeltError", "ShapeError", "UnsupportedArgumentError", "TraceError", "CompileError"]
