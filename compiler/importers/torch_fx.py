"""from_torch: a torch.nn.Module as a smelt Graph, through torch.fx.

fx traces `forward` symbolically, keeping every torch.nn layer whole (a call_module node
named by the layer's qualified name). The walk then visits every fx node once, in order,
driving smelt's own tracer: layers run their compiler.nn twins (torch_modules.py), functions
and methods their converters (torch_functions.py), and Python arithmetic on sizes is simply
evaluated, as the shapes are known. Every node smelt cannot take becomes a Problem and the
walk goes on, so all of them are raised together and no graph comes out of a model with
one. Without input shapes (compiler.check) tensors are unknown and only what can be known
without them is checked.
"""
from __future__ import annotations

import inspect
import re

import torch
import torch.fx as fx

from .. import graph as smelt_graph
from ..errors import ShapeError, TraceError, UnsupportedArgumentError, UnsupportedModelError
from ..graph import Graph, Input, Node, Tensor, Tracer, live_nodes, normalize_input_shapes
from . import Problem
from .torch_context import UNKNOWN, UNKNOWN_TENSOR, Context, Unknown, Unsupported, is_tensor, \
    known
from .torch_functions import METHODS, Pending, lookup
from .torch_modules import Layers, to_numpy, twin_class

#: functions whose calls on plain Python values (sizes) are evaluated as they are
PYTHON_MODULES = {"_operator", "operator", "builtins", "math"}


def pieces(node: fx.Node, tracer: fx.Tracer) -> int | None:
    """How many tensors forward's *inputs holds, or a chunk (into a constant number) or
    split (into listed sizes) returns, as far as it can be told without shapes (chunk may
    return fewer, when the channels run out: the walk then reports the missing piece)."""
    if node.op == "placeholder" and node.target.startswith("*"):
        return tracer.varargs if not node.target.startswith("**") else None
    name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
    if node.op not in ("call_method", "call_function") or name not in ("chunk", "split"):
        return None
    count = node.args[1] if len(node.args) > 1 else \
        node.kwargs.get("chunks", node.kwargs.get("split_size_or_sections"))
    if name == "chunk" and isinstance(count, int):
        return count
    return len(count) if name == "split" and isinstance(count, (list, tuple)) else None


class CountedProxy(fx.Proxy):
    """fx's proxy, with a len() when it holds a known number of tensors (list(xs))."""

    def __len__(self) -> int:
        n = pieces(self.node, self.tracer)
        return n if n is not None else super().__len__()


class LeafTracer(fx.Tracer):
    """fx's tracer, keeping whole every layer smelt maps: torch.nn's layers (as fx does)
    and subclasses of them that keep their forward. `varargs`: how many tensors forward's
    *inputs receives."""

    def __init__(self, varargs: int):
        super().__init__()
        self.varargs = varargs

    def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
        where = getattr(type(m), "__module__", None) or ""      # classes made by type() lack it
        return twin_class(m) is not None or where.startswith(("torch.nn.", "torch.ao.nn.")) \
            and not isinstance(m, torch.nn.Sequential)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return CountedProxy(node, self)

    def iter(self, obj: fx.Proxy):
        """Iterating a proxy of a known number of tensors (fx unpacks `a, b = ...` itself):
        `for p in x.chunk(4, 1)`, `[f(p) for p in x.split([2, 6], 1)]`, forward's *inputs."""
        n = pieces(obj.node, self)
        return iter([obj[i] for i in range(n)]) if n is not None else super().iter(obj)


def trace(module: torch.nn.Module, inputs: int) -> fx.Graph:
    """The fx graph of `module`, or the reason fx cannot trace it (forward branching on a
    tensor's value, say) as an UnsupportedModelError. torch.export is no way out: it refuses
    data-dependent branches too, and traces into ATen ops, below the layers and names this
    importer maps. A model that is one layer is that layer's call (fx would trace into it)."""
    if twin_class(module) is not None:
        graph = fx.Graph()
        args = [graph.placeholder(f"input{i}" if inputs > 1 else "input") for i in range(inputs)]
        graph.output(graph.call_module("", tuple(args)))
        return graph
    named = [p for p in inspect.signature(module.forward).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    tracer = LeafTracer(max(inputs - len(named), 0))
    try:
        return tracer.trace(module)
    except Exception as e:                     # whatever forward raised on fx's proxies
        where = next(reversed(tracer.module_stack), "") if tracer.module_stack else ""
        raise UnsupportedModelError([Problem(
            where or type(module).__name__, "forward",
            f"torch.fx cannot trace it ({type(e).__name__}: {e}); forward must do the same "
            "thing for every input (no branching on tensor values, no tensors as Python "
            "numbers)")]) from None


def import_module(module: torch.nn.Module, input_shape) -> Graph | None:
    """`module` as a smelt Graph for `input_shape`, weights included. With input_shape=None
    the model is only checked (returns None). Raises UnsupportedModelError listing every
    unsupported layer, function, method or argument."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    shapes = None if input_shape is None else normalize_input_shapes(input_shape)[0]
    return Walk(module, trace(module, 1 if shapes is None else len(shapes)), shapes).run()


class Walk:
    """One pass over the fx graph, emitting into a smelt tracer and collecting problems."""

    def __init__(self, module: torch.nn.Module, fx_graph: fx.Graph, shapes: list | None):
        self.module, self.fx_graph, self.shapes = module, fx_graph, shapes
        self.tracer = Tracer({}, {})
        # a function's node never takes a layer's name (`layer1.relu` the layer, `..._1` F.relu)
        self.tracer.used_names = {name: 1 for name, _ in module.named_modules() if name}
        self.state = None if shapes is None else \
            {k: to_numpy(v) for k, v in module.state_dict().items()}
        self.layers = Layers(module, self.tracer, self.state)
        self.env: dict[fx.Node, object] = {}
        self.inputs: list[Node] = []
        self.result: list = []
        self.single = True
        self.problems: list[Problem] = []
        self.shape_error: ShapeError | None = None

    def run(self) -> Graph | None:
        previous = smelt_graph.current_tracer()
        smelt_graph._tracing.tracer = self.tracer      # compiler.nn layers emit into it
        try:
            for node in self.fx_graph.nodes:
                self.visit(node)
        finally:
            smelt_graph._tracing.tracer = previous
        if self.problems:
            raise UnsupportedModelError(self.problems)
        if self.shape_error is not None:
            raise self.shape_error
        if self.shapes is None:
            return None
        outputs = [t.node for t in self.result]
        return Graph(self.inputs, live_nodes(self.tracer.nodes, outputs), outputs,
                     self.single, self.state, type(self.module).__name__)

    def visit(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            self.env[node] = self.placeholder(node)
            return
        args, kwargs = fx.node.map_arg((node.args, node.kwargs), self.env.__getitem__)
        if node.op == "output":
            self.output(node, args[0])
            return
        ctx = Context(self.tracer, re.sub(r"_\d+$", "", node.name))
        self.tracer.scope.append(scope_of(node))
        try:
            self.env[node] = self.convert(node, ctx, args, kwargs)
        except (Unsupported, UnsupportedArgumentError, TraceError) as e:
            op, reason = op_name(self.module, node), str(e)
            name = (node.target or op) if node.op == "call_module" else ctx.name
            reason = reason[len(op) + 2:] if reason.startswith(f"{op}: ") else reason
            self.problems.append(Problem(name, op, reason))
            self.env[node] = UNKNOWN
        except ShapeError as e:                        # reported unless problems explain it
            self.shape_error = self.shape_error or e
            self.env[node] = UNKNOWN_TENSOR
        finally:
            self.tracer.scope.pop()

    def convert(self, node: fx.Node, ctx: Context, args: tuple, kwargs: dict):
        if node.op == "get_attr":
            raise Unsupported("a tensor attribute used directly in forward (a parameter or "
                              "buffer outside a layer) is not supported; smelt takes weights "
                              "through layers")
        if node.op == "call_module":
            require_done(args, None)
            return self.layers.call(node.target, args, kwargs)
        if node.op == "call_method":
            convert = METHODS.get(node.target)
            if convert is None:
                require_done(args, None)
                if is_tensor(args[0]) or not known(args[0]) and hasattr(torch.Tensor,
                                                                         node.target):
                    raise Unsupported(f"Tensor.{node.target} is not supported")
                if not known(args, kwargs):
                    return UNKNOWN
                return getattr(args[0], node.target)(*args[1:], **kwargs)   # on a size
        else:
            target = node.target
            python = getattr(target, "__module__", None) in PYTHON_MODULES
            if python and not any(is_tensor(v) or isinstance(v, Pending) for v in args):
                if not known(args, kwargs):
                    return UNKNOWN
                try:
                    return target(*args, **kwargs)                       # size arithmetic
                except (IndexError, KeyError, TypeError, ValueError) as e:
                    raise Unsupported(f"{type(e).__name__}: {e}") from None
            convert = lookup(target)
            if convert is None:
                raise Unsupported(f"{function_name(target)} is not supported")
        require_done(args, convert)
        return call(convert, ctx, args, kwargs)

    def placeholder(self, node: fx.Node):
        """The next input, named as forward's argument; *inputs: a tuple of the rest."""
        if node.target.startswith("**"):
            return {}
        if node.target.startswith("*"):
            if self.shapes is None:
                return UNKNOWN
            rest = range(len(self.shapes) - len(self.inputs))
            return tuple(self.next_input(f"{node.target[1:]}{i}") for i in rest)
        if self.shapes is not None and len(self.inputs) < len(self.shapes):
            return self.next_input(node.target)
        if node.args:                                  # forward(x, extra=default)
            return node.args[0]
        if self.shapes is None:
            return UNKNOWN_TENSOR
        raise TypeError(f"{type(self.module).__name__}.forward takes more tensors than "
                        f"input_shape gives ({len(self.shapes)})")

    def next_input(self, name: str) -> Tensor:
        shape = self.shapes[len(self.inputs)]
        self.inputs.append(Node(Input(shape), [], shape, name))
        return Tensor(self.inputs[-1], self.tracer)

    def output(self, node: fx.Node, value) -> None:
        self.single = not isinstance(value, (tuple, list))
        values = [value] if self.single else list(value)
        bad = [v for v in values if not is_tensor(v) and not isinstance(v, Unknown)]
        if bad or not values:
            self.problems.append(Problem("output", "return", "forward must return a tensor or "
                                         f"a tuple of tensors, got {value!r}"))
        elif pending := [v for v in values if isinstance(v, Pending)]:
            self.problems.append(Problem("output", "return", pending[0].reason))
        if self.shapes is not None and len(self.inputs) != len(self.shapes):
            raise TypeError(f"{type(self.module).__name__}.forward takes {len(self.inputs)} "
                            f"tensors, input_shape gives {len(self.shapes)}")
        self.result = values


def require_done(args: tuple, convert) -> None:
    """A half-done pattern (Pending) goes on only into the converters that complete it."""
    for v in args:
        if isinstance(v, Pending) and convert not in v.accepted_by:
            raise Unsupported(v.reason)


def call(convert, ctx: Context, args: tuple, kwargs: dict):
    """A converter with the call's arguments; arguments the torch function does not take
    (or smelt does not know) are unsupported."""
    try:
        inspect.signature(convert).bind(ctx, *args, **kwargs)
    except TypeError as e:
        raise Unsupported(f"these arguments are not supported: {e}") from None
    return convert(ctx, *args, **kwargs)


def scope_of(node: fx.Node) -> str:
    """The qualified name of the module whose forward made the call ("" at the root)."""
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack), "") if stack else ""


def op_name(module, node: fx.Node) -> str:
    if node.op == "call_module":
        return type(module.get_submodule(node.target)).__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "get_attr":
        return "get_attr"
    return function_name(node.target)


def function_name(target) -> str:
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    module = {"_operator": "operator", "torch._C._nn": "torch.nn.functional",
              "torch._C._VariableFunctions": "torch"}.get(module, module)
    return f"{module}.{name}" if module else name
