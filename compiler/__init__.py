"""smelt's compiler: trace a compiler.nn model, plan it, and generate shape-specialised C.

Public: trace(), compile(), cat(), manual_seed(), and the nn module.
"""
from . import nn
from .driver import compile
from .errors import CompileError, ShapeError, SmeltError, TraceError, UnsupportedArgumentError
from .graph import Graph, Tensor, trace
from .rng import manual_seed
from .tensor_ops import cat

__all__ = ["nn", "trace", "compile", "cat", "manual_seed", "Graph", "Tensor", "SmeltError",
           "ShapeError", "UnsupportedArgumentError", "TraceError", "CompileError"]
