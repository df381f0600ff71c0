"""What the command line names: a model (an ONNX file or `file.py:factory`) and its shapes."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..importers import is_torch_module
from ..nn.module import Module


class UsageError(Exception):
    """The command was asked for something it cannot do as given (exit status 2)."""


class ModelError(Exception):
    """The model itself failed: its factory raised, or it does not check (exit status 1)."""


def parse_shape(text: str) -> tuple[int, ...]:
    """`1x3x224x224` -> (1, 3, 224, 224); argparse's `type` for --shape."""
    try:
        shape = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1x3x224x224")
    return shape


@dataclass
class Source:
    """A model named on the command line, loaded."""

    spec: str                   # as written
    kind: str                   # "onnx", "torch" or "smelt" (a compiler.nn module)
    model: object               # the ONNX path, or the module the factory returned
    shapes: list[tuple] | None  # from --shape; None: from the ONNX file

    @property
    def input_shape(self):
        """compile()'s input_shape: one shape, a list of them, or None."""
        if not self.shapes:
            return None
        return self.shapes[0] if len(self.shapes) == 1 else list(self.shapes)


def load(spec: str, shapes: list[tuple] | None, train: bool = False) -> Source:
    """The model behind `spec`, in eval mode unless `train`."""
    if spec.endswith(".onnx"):
        if not os.path.isfile(spec):
            raise UsageError(f"no such ONNX file: {spec}")
        return Source(spec, "onnx", spec, shapes or None)
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise UsageError(f"{spec!r}: expected an ONNX file (model.onnx) or a Python factory "
                         "(path/to/file.py:function)")
    if not shapes:
        raise UsageError(f"{spec}: a Python factory needs --shape (e.g. --shape 1x3x224x224)")
    module = call_factory(Path(path), name)
    if isinstance(module, Module):
        kind = "smelt"
    elif is_torch_module(module):
        kind = "torch"
    else:
        raise UsageError(f"{spec} returned a {type(module).__name__}, not a compiler.nn or "
                         "torch.nn module")
    module.train(train)
    return Source(spec, kind, module, list(shapes))


def call_factory(path: Path, name: str):
    """Import `path` as a module (its directory on sys.path, so it may import its neighbours)
    and call `name()`."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    module_name = f"smelt_factory_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
        sys.modules[module_name] = module        # pickles of its classes find them
        factory = getattr(module, name, None)
        if not callable(factory):
            raise UsageError(f"{path} has no function {name}()")
        return factory()
    except UsageError:
        raise
    except Exception as e:
        trace = traceback.format_exception(type(e), e, e.__traceback__.tb_next)  # theirs
        raise ModelError(f"{path}:{name}() failed:\n" + "".join(trace).rstrip()) from None
    finally:
        sys.path.remove(str(path.resolve().parent))
