"""smelt's compiler: trace a compiler.nn model (or import a PyTorch module or an ONNX file),
plan it, and generate shape-specialised C.

Public: trace(), compile(), cat(), manual_seed(), from_torch(), from_onnx(), check(), the nn
module, and interp (the NumPy reference interpreter).
"""
from . import interp, nn
from .driver import compile
from .errors import (CompileError, ShapeError, SmeltError, TraceError, UnsupportedArgumentError,
                     UnsupportedModelError)
from .graph import Graph, Tensor, trace
from .importers import check, from_onnx, from_torch
from .rng import manual_seed
from .tensor_ops import cat

__all__ = ["nn", "interp", "trace", "compile", "cat", "manual_seed", "from_torch", "from_onnx",
           "check", "Graph", "Tensor", "SmeltError", "ShapeError", "UnsupportedArgumentError",
           "UnsupportedModelError", "TraceError", "CompileError"]
