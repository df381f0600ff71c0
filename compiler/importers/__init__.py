"""Models from elsewhere: PyTorch modules (torch.fx) and ONNX files, as smelt Graphs.

torch and onnx are optional: nothing here imports them until a model of theirs arrives, and
a missing one is an ImportError that says what to install. Every importer first lists every
operator or argument it cannot take (`check`), so an unsupported model fails as a whole,
before anything is compiled.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import UnsupportedModelError


@dataclass(frozen=True)
class Problem:
    """One part of a model smelt cannot compile."""

    node: str            # the node's name in the source model (qualified module name, ONNX name)
    op: str              # its operator (module class, function, ONNX op type)
    reason: str


@dataclass
class Report:
    """What `compiler.check` found: every unsupported part of a model (none when `ok`)."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return "supported: every operator and argument of the model compiles"
        rows = [("node", "op", "reason")] + [(p.node, p.op, p.reason) for p in self.problems]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows]
        return f"{len(self.problems)} unsupported:\n" + "\n".join(lines)

    __repr__ = __str__


def is_torch_module(model) -> bool:
    """A torch.nn.Module, recognised without importing torch."""
    return any(cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module"
               for cls in type(model).__mro__)


def is_onnx_model(model) -> bool:
    """An ONNX file path or an onnx.ModelProto, recognised without importing onnx."""
    if isinstance(model, (str, os.PathLike)):
        return str(model).endswith(".onnx")
    return type(model).__name__ == "ModelProto" and "onnx" in type(model).__module__


def require(package: str, extra: str):
    """Import an optional package, or say what to install."""
    import importlib
    try:
        return importlib.import_module(package)
    except ImportError as e:
        raise ImportError(f"this needs {package}, which is not installed: pip install "
                          f"'smelt[{extra}]' (or pip install {package})") from e


def from_torch(module, input_shape):
    """A torch.nn.Module as a smelt Graph (weights included), traced with torch.fx."""
    if input_shape is None:
        raise TypeError("from_torch needs input_shape (compiler.check(module) checks a module "
                        "without one)")
    require("torch", "torch")
    from . import torch_fx
    return torch_fx.import_module(module, input_shape)


def from_onnx(model, input_shape=None):
    """An ONNX model (a path or an onnx.ModelProto) as a smelt Graph (weights included)."""
    require("onnx", "onnx")
    from . import onnx_graph
    return onnx_graph.import_model(model, input_shape)


def check(model, input_shape=None) -> Report:
    """Every operator or argument of `model` smelt cannot compile, without raising: a torch
    module, an ONNX path or ModelProto, or a compiler.nn module."""
    if is_onnx_model(model):          # symbolic input dims need no input_shape to be checked
        require("onnx", "onnx")
        from . import onnx_graph
        return Report(onnx_graph.problems(model, input_shape))
    try:
        if is_torch_module(model):
            require("torch", "torch")
            from . import torch_fx
            torch_fx.import_module(model, input_shape)     # input_shape=None: checks only
        else:
            from ..graph import trace
            trace(model, input_shape)
    except UnsupportedModelError as e:
        return Report(e.problems)
    return Report()
