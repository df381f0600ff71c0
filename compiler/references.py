"""The references m.compare runs: every layer's value, under the names smelt's graphs use.

- None, a Graph or a compiler.nn module: smelt's NumPy interpreter (compiler.interp).
- A torch.nn.Module: torch.fx's interpreter. A module's calls are recorded under its qualified
  name (`layer1.0.relu`, once per call); a function or tensor method under its fx node name
  and as `<module>.<op>` the way smelt's tracer names it (`layer1.0.add`). Where fx cannot
  trace the module, forward hooks record every module's outputs.
- An ONNX path or ModelProto: ONNX Runtime when installed, else onnx's ReferenceEvaluator,
  with every node's output made a graph output. A node's value is recorded under its name and
  its output's name; for a file torch.onnx.export wrote, also under the module its scope
  names (`/layer1/layer1.0/relu_1/Relu`: the second call of `layer1.0.relu`, the last node in
  that scope) and as `<module>.<op>` (`/layer1/layer1.0/Add` -> `layer1.0.add`).

Names not found as they are are looked up in a loose form (lower case, any run of other
characters as one `_`), which tolerates importers that sanitise names.
"""
from __future__ import annotations

import copy
import os
import re

import numpy as np

from .graph import Graph
from .importers import is_onnx_model, is_torch_module, require
from .nn.module import Module

#: smelt's tracer's names for functions and methods that torch and ONNX name otherwise
KINDS = {"iadd": "add", "isub": "sub", "imul": "mul", "truediv": "div", "itruediv": "div",
         "reshape": "view", "concat": "cat"}


def loose(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


class Values:
    """A reference's layer values by (name, call), call counting from 0 in execution order."""

    def __init__(self):
        self.exact: dict[tuple, np.ndarray] = {}
        self.loose: dict[tuple, list] = {}
        self.calls: dict[str, int] = {}

    def add(self, name: str, value: np.ndarray, call: int | None = None) -> None:
        """Record `value` as call `call` of `name` (default: the name's next call); the first
        value recorded for a (name, call) stays."""
        if not name:
            return
        if call is None:
            call = self.calls.get(name, 0)
            self.calls[name] = call + 1
        if (name, call) in self.exact:
            return
        self.exact[name, call] = value
        same = self.loose.setdefault((loose(name), call), [])
        if not any(v is value for v in same):
            same.append(value)

    def find(self, name: str, call: int) -> np.ndarray | None:
        if (name, call) in self.exact:
            return self.exact[name, call]
        candidates = self.loose.get((loose(name), call), [])
        return candidates[0] if len(candidates) == 1 else None


def reference_values(reference, graph: Graph, inputs: list, step: int) -> tuple[Values, str]:
    """(the reference's values on `inputs`, what the reference is)."""
    if reference is None:
        return interp_values(graph, inputs, step), "smelt's NumPy interpreter"
    if isinstance(reference, Graph):
        return interp_values(reference, inputs, step), "a Graph on smelt's NumPy interpreter"
    if isinstance(reference, Module):
        from .graph import trace
        shapes = [x.shape for x in inputs]
        g = trace(reference, shapes if len(shapes) > 1 else shapes[0])
        return interp_values(g, inputs, step), \
            f"{type(reference).__name__} on smelt's NumPy interpreter"
    if is_torch_module(reference):
        return torch_values(reference, inputs), f"PyTorch {type(reference).__name__}"
    if is_onnx_model(reference):
        values, runner = onnx_values(reference, inputs)
        what = os.fspath(reference) if isinstance(reference, (str, os.PathLike)) else "ModelProto"
        return values, f"{what} on {runner}"
    raise TypeError(f"reference must be None, a torch.nn.Module, an ONNX path or ModelProto, "
                    f"a compiler.nn Module or a Graph, got {type(reference).__name__}")


def interp_values(graph: Graph, inputs: list, step: int) -> Values:
    from . import interp
    by_id = interp.evaluate(graph, *inputs, step=step)
    values = Values()
    for node in graph.inputs + graph.nodes:
        values.add(node.name, by_id[id(node)])
    return values


# --- PyTorch --------------------------------------------------------------------------------

def torch_values(module, inputs: list) -> Values:
    torch = require("torch", "torch")
    if module.training:             # running it would update the caller's BatchNorm statistics
        module = copy.deepcopy(module)
    xs = [torch.from_numpy(np.array(x, np.float32)) for x in inputs]
    values = Values()
    try:
        traced = torch.fx.symbolic_trace(module)
    except Exception:               # fx cannot trace everything: then record modules only
        traced = None
    with torch.no_grad():
        if traced is not None:
            recorder = fx_recorder(torch, traced, values)
            recorder.run(*xs)
            for name, value in recorder.fx_names:      # after smelt's names, which win
                values.add(name, value, 0)
        else:
            record_with_hooks(torch, module, xs, values)
    return values


def as_numpy(torch, value):
    """A copy (in-place ops may change the tensor later) as float32, or None if no tensor."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().float().numpy().copy()
    return None


def fx_recorder(torch, traced, values: Values):
    class Recorder(torch.fx.Interpreter):
        def __init__(self, module):
            super().__init__(module)
            self.counts: dict[str, int] = {}
            self.fx_names: list[tuple[str, np.ndarray]] = []

        def run_node(self, n):
            result = super().run_node(n)
            value = as_numpy(torch, result)
            if value is not None and n.op == "call_module":
                values.add(n.target, value)
            elif value is not None and n.op in ("call_function", "call_method"):
                values.add(self.scoped(n), value, 0)
                self.fx_names.append((n.name, value))
            return result

        def scoped(self, n) -> str:
            """The name smelt's tracer gives this call: `<module>.<op>`, `_k` from the second."""
            kind = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
            kind = KINDS.get(kind, kind)
            stack = n.meta.get("nn_module_stack") or {}
            scope = next(reversed(stack.values()), ("",))
            scope = scope[0] if isinstance(scope, tuple) else str(scope)
            base = f"{scope}.{kind}" if scope else kind
            count = self.counts.get(base, 0)
            self.counts[base] = count + 1
            return base if count == 0 else f"{base}_{count}"

    return Recorder(traced)


def record_with_hooks(torch, module, xs: list, values: Values) -> None:
    def hook(name):
        def record(_module, _args, output):
            value = as_numpy(torch, output)
            if value is not None:
                values.add(name, value)
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in module.named_modules() if name]
    try:
        module(*xs)
    finally:
        for h in handles:
            h.remove()


# --- ONNX -----------------------------------------------------------------------------------

def onnx_values(model, inputs: list) -> tuple[Values, str]:
    onnx = require("onnx", "onnx")
    if isinstance(model, (str, os.PathLike)):
        proto = onnx.load(os.fspath(model))
    else:
        proto = onnx.ModelProto()
        proto.CopyFrom(model)
    graph = proto.graph
    constants = {i.name for i in graph.initializer}
    feeds = [i.name for i in graph.input if i.name not in constants]
    if len(feeds) != len(inputs):
        raise ValueError(f"the ONNX model takes {len(feeds)} inputs, the compiled model "
                         f"{len(inputs)}")
    known = {o.name for o in graph.output}
    for node in graph.node:
        for name in node.output:
            if name and name not in known:
                graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
    names = [o.name for o in graph.output]
    feed = {name: np.asarray(x, np.float32) for name, x in zip(feeds, inputs)}
    try:
        import onnxruntime as ort
    except ImportError:
        from onnx.reference import ReferenceEvaluator
        results, runner = ReferenceEvaluator(proto).run(names, feed), "onnx.reference"
    else:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(proto.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        results, runner = session.run(names, feed), f"ONNX Runtime {ort.__version__}"
    by_output = {name: np.asarray(r) for name, r in zip(names, results)}
    values = Values()
    for name, x in zip(feeds, inputs):
        values.add(name, np.asarray(x, np.float32), 0)
    scopes = {}
    for node in graph.node:
        value = by_output.get(node.output[0]) if node.output else None
        if value is None or not np.issubdtype(value.dtype, np.floating):
            continue
        values.add(node.name, value, 0)
        values.add(node.output[0], value, 0)
        for key in torch_scope_names(node.name, node.op_type):
            scopes[key] = value          # a module's value: the last node in its scope
    for (name, call), value in scopes.items():
        values.add(name, value, call)
    return values, runner


def torch_scope_names(name: str, op_type: str) -> list[tuple[str, int]]:
    """(layer name, call) pairs a torch.onnx.export node name stands for:
    `/4/downsample/downsample.0/Conv` -> module `4.downsample.0`; `/3/relu_1/Relu` -> module
    `3.relu_1` or the second call of `3.relu`; `/3/Add_1` -> smelt's `3.add_1` as well."""
    if not name.startswith("/"):
        return []
    *scope, last = name[1:].split("/")
    parts = []
    for part in scope:                  # a Sequential's child is scoped `parent.index`
        if parts and part.startswith(parts[-1] + "."):
            part = part[len(parts[-1]) + 1:]
        parts.append(part)
    path = ".".join(parts)
    out = []
    if parts:
        out.append((path, 0))
        repeat = re.fullmatch(r"(.+)_(\d+)", parts[-1])
        if repeat:
            out.append((".".join(parts[:-1] + [repeat[1]]), int(repeat[2])))
    op = re.fullmatch(re.escape(op_type) + r"(_\d+)?", last)
    if op:
        kind = KINDS.get(op_type.lower(), op_type.lower()) + (op[1] or "")
        out.append((f"{path}.{kind}" if path else kind, 0))
    return out
