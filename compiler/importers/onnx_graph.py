"""ONNX models as smelt Graphs: read the file, fix the input shapes, walk the nodes in order.

Each node is folded when all its inputs are constants (onnx_fold), mapped to smelt ops by
the operator table (onnx_ops), or refused. Refusals are collected, not raised one by one:
a refused node's outputs become stand-ins with the shapes ONNX's shape inference gives
them, so the nodes after it are checked as well, and a model with any problem raises one
UnsupportedModelError listing them all before a Graph exists. smelt nodes are named after
the ONNX nodes (their name, else their first output), so plans and kernels speak the file's
language.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ShapeError, UnsupportedModelError
from ..graph import (Graph, Input, Node, Tensor, Tracer, format_shape, live_nodes,
                     normalize_input_shapes)
from . import Problem, onnx_fold, onnx_ops
from .onnx_lazy import Lazy

#: the oldest opset of the standard domain the importer reads (PyTorch's old exports use 6)
MIN_OPSET = 6
DOMAINS = ("", "ai.onnx")


class Refused:
    """What a refused node produced: a stand-in tensor of the shape ONNX infers, or None when
    inference cannot tell (the nodes reading it are then only checked for their op type)."""

    def __init__(self, tensor: Tensor | None):
        self.tensor = tensor


class Skip(Exception):
    """The node reads what a refused node produced: it is not checked any further."""


def load(model):
    """A ModelProto from a path (external weights load from beside the file) or as given."""
    if isinstance(model, (str, os.PathLike)):
        return onnx.load(os.fspath(model))
    return model


def import_model(model, input_shape=None) -> Graph:
    """The smelt Graph of an ONNX model; raises UnsupportedModelError listing every part
    smelt cannot compile."""
    walk = Walk(load(model), input_shape)
    walk.run()
    if walk.problems:
        raise UnsupportedModelError(walk.problems)
    if walk.symbolic:
        raise ValueError(walk.symbolic + ": pass input_shape to fix them")
    title = os.path.basename(os.fspath(model)) if isinstance(model, (str, os.PathLike)) \
        else model.graph.name or "ONNX model"
    return walk.graph(title)


def problems(model, input_shape=None) -> list[Problem]:
    """Every part of the model smelt cannot compile (symbolic dimensions count as 1)."""
    walk = Walk(load(model), input_shape)
    walk.run()
    return walk.problems


def declared_shape(value) -> tuple | None:
    """A value's dims as the file declares them (None for symbolic ones), or None."""
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                 for d in t.shape.dim)


def dims_text(value) -> str:
    """A value's declared dims as text, symbolic ones by name (batchx3x224x224)."""
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return "of unknown rank"
    return "x".join(str(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0
                    else d.dim_param or "?" for d in t.shape.dim)


class Walk:
    """One pass over an ONNX graph, building the smelt graph and the list of problems."""

    def __init__(self, model, input_shape):
        self.model = model
        self.problems: list[Problem] = []
        self.tracer = Tracer({}, {})
        self.names: set[str] = set()
        self.state: OrderedDict = OrderedDict()     # the constants smelt's ops hold, by name
        self.inferred: dict | None = None
        graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in DOMAINS), 1)
        if self.opset < MIN_OPSET:
            self.problem("(model)", "opset", f"opset {self.opset} is older than the oldest "
                         f"smelt reads ({MIN_OPSET}); upgrade it with onnx.version_converter")
        self.values: dict = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.consumers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        for out in graph.output:
            self.consumers[out.name] = self.consumers.get(out.name, 0) + 1
        self.inputs = self.make_inputs([v for v in graph.input if v.name not in self.values],
                                       input_shape)

    # --- inputs ----------------------------------------------------------------------------
    def make_inputs(self, sources, input_shape) -> list[Node]:
        """Input nodes of the given shapes, or of the file's with symbolic dims as 1 (then
        `symbolic` says which, for import_model to refuse)."""
        declared = [declared_shape(v) for v in sources]
        self.symbolic = ""
        if input_shape is not None:
            shapes, _ = normalize_input_shapes(input_shape)
            if len(shapes) != len(sources):
                raise ValueError(f"input_shape gives {len(shapes)} shape(s), the model has "
                                 f"{len(sources)} input(s): {[v.name for v in sources]}")
            for v, want, have in zip(sources, declared, shapes):
                if want is not None and (len(want) != len(have) or any(
                        w is not None and w != h for w, h in zip(want, have))):
                    raise ValueError(f"input {v.name!r} is {dims_text(v)} in the file; "
                                     f"input_shape gives {format_shape(have)}")
        else:
            unknown = [f"{v.name!r} ({dims_text(v)})" for v, s in zip(sources, declared)
                       if s is None or None in s]
            if any(s is None for s in declared):
                raise ValueError(f"the shape of input(s) {', '.join(unknown)} is not in the "
                                 "file: pass input_shape")
            if unknown:
                self.symbolic = f"input(s) {', '.join(unknown)} have symbolic dimensions"
            shapes = [tuple(1 if d is None else d for d in s) for s in declared]
        nodes = []
        for v, shape in zip(sources, shapes):
            elem = v.type.tensor_type.elem_type
            if elem != onnx.TensorProto.FLOAT:
                self.problem(v.name, "input", f"inputs must be float32, this one is "
                             f"{onnx.helper.tensor_dtype_to_np_dtype(elem)}")
            node = Node(Input(shape), [], shape, self.unique(v.name))
            self.values[v.name] = Tensor(node, self.tracer)
            nodes.append(node)
        return nodes

    # --- the walk --------------------------------------------------------------------------
    def run(self) -> None:
        if self.opset < MIN_OPSET:      # operators this old differ in too many ways to check
            return
        for index, proto in enumerate(self.model.graph.node):
            self.visit(proto, proto.name or (proto.output[0] if proto.output else "") or
                       f"{proto.op_type}_{index}")
        for out in self.model.graph.output:
            value = self.values.get(out.name)
            if isinstance(value, np.ndarray):
                self.problem(out.name, "output", "the output is a constant: smelt compiles "
                             "tensors computed from the model's inputs")
            elif isinstance(value, Lazy):
                self.values[out.name] = value.force(self)

    def visit(self, proto, name: str) -> None:
        if proto.domain not in DOMAINS:
            self.problem(name, proto.op_type, f"operators of domain {proto.domain!r} are not "
                         "supported (only the standard ONNX domain)")
            return self.refuse_outputs(proto)
        for i in proto.input:
            if i and i not in self.values:
                raise ValueError(f"ONNX node {name!r} reads {i!r}, which no earlier node, "
                                 "initializer or input produces")
        inputs = [self.values[i] if i else None for i in proto.input]
        if any(isinstance(v, Refused) and v.tensor is None for v in inputs):
            if proto.op_type not in onnx_ops.OPS and proto.op_type not in onnx_fold.RULES:
                self.problem(name, proto.op_type, f"operator {proto.op_type} is not supported")
            return self.refuse_outputs(proto)
        if proto.op_type in ("Shape", "Size"):       # a constant: the data is not needed
            x = inputs[0].tensor if isinstance(inputs[0], Refused) else inputs[0]
            if isinstance(x, (Tensor, Lazy)):
                inputs[0] = np.broadcast_to(np.float32(0), x.shape)
        if all(v is None or isinstance(v, np.ndarray) for v in inputs) and \
                onnx_fold.foldable(proto.op_type):
            try:
                outputs = onnx_fold.fold(proto, inputs, self.opset)
            except Exception as e:          # the reference evaluator raises anything
                self.problem(name, proto.op_type, f"cannot evaluate this constant node: {e}")
                return self.refuse_outputs(proto)
            for out, value in zip(proto.output, outputs):
                self.values[out] = np.asarray(value)
            return
        handler = onnx_ops.OPS.get(proto.op_type)
        if handler is None:
            self.problem(name, proto.op_type, f"operator {proto.op_type} is not supported")
            return self.refuse_outputs(proto)
        node = OnnxNode(self, proto, name)
        try:
            result = handler(node)
        except Skip:
            return self.refuse_outputs(proto)
        except ShapeError as e:     # smelt's shape rules or limits refuse what ONNX allows
            node.refuse(str(e))
        if node.refused or result is None:
            return self.refuse_outputs(proto)
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        for i, out in enumerate(proto.output):
            value = results[i] if i < len(results) else None
            if value is None and out and self.consumers.get(out):
                node.refuse(f"output {i} ({out!r}) is not supported")
                return self.refuse_outputs(proto)
            if out:
                self.values[out] = value

    def refuse_outputs(self, proto) -> None:
        """Stand-ins for a refused node's outputs, shaped as ONNX infers them."""
        if self.inferred is None:
            self.inferred = self.infer_shapes()
        for out in proto.output:
            shape = self.inferred.get(out)
            tensor = None
            if shape is not None:
                tensor = Tensor(Node(Input(shape), [], shape, out), self.tracer)
            self.values[out] = Refused(tensor)

    def infer_shapes(self) -> dict:
        """Every value's static shape by ONNX shape inference, with our input shapes."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        sources = [v for v in model.graph.input if v.name in
                   {n.name for n in self.inputs}]
        for v, node in zip(sources, self.inputs):
            dims = v.type.tensor_type.shape.dim
            del dims[:]
            for d in node.shape:
                dims.add().dim_value = d
        try:
            model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:           # inference is a courtesy: without it, checks stop earlier
            return {}
        out = {}
        for v in list(model.graph.value_info) + list(model.graph.output):
            shape = declared_shape(v)
            if shape is not None and None not in shape:
                out[v.name] = shape
        return out

    # --- helpers for the operator table ---------------------------------------------------
    def problem(self, node: str, op: str, reason: str) -> None:
        self.problems.append(Problem(node, op, reason))

    def unique(self, name: str) -> str:
        base, count = name, 0
        while name in self.names:
            count += 1
            name = f"{base}_{count}"
        self.names.add(name)
        return name

    def graph(self, title: str) -> Graph:
        outputs = []
        for out in self.model.graph.output:
            value = self.values[out.name]
            want = declared_shape(out)
            if want is not None and None not in want and tuple(want) != value.shape:
                raise ShapeError(f"output {out.name!r}: the file declares "
                                 f"{format_shape(want)}, smelt computed "
                                 f"{format_shape(value.shape)}")
            outputs.append(value.node)
        return Graph(self.inputs, live_nodes(self.tracer.nodes, outputs), outputs,
                     len(outputs) == 1, self.state, title)


class OnnxNode:
    """One ONNX node as the operator table sees it: attributes, inputs (constants or traced
    tensors), and the means to refuse it or emit smelt ops named after it."""

    def __init__(self, walk: Walk, proto, name: str):
        self.walk, self.proto, self.name = walk, proto, name
        self.op_type, self.opset = proto.op_type, walk.opset
        self.attrs = onnx_fold.attributes(proto)
        self.refused = False

    def attr(self, key: str, default=None):
        return self.attrs.get(key, default)

    def has(self, i: int) -> bool:
        return i < len(self.proto.input) and self.proto.input[i] != ""

    def value(self, i: int):
        """Input i: a numpy constant, a Tensor, a Lazy value, or None when absent."""
        if not self.has(i):
            return None
        value = self.walk.values[self.proto.input[i]]
        if isinstance(value, Refused):
            if value.tensor is None:
                raise Skip
            return value.tensor
        return value

    def const(self, i: int, what: str) -> np.ndarray | None:
        """Input i, which must be a constant (None when absent or refused)."""
        value = self.walk.values[self.proto.input[i]] if self.has(i) else None
        if isinstance(value, Refused):
            raise Skip
        if value is None or isinstance(value, np.ndarray):
            return value
        self.refuse(f"{what} (input {i}) must be a constant, but it is computed from the "
                    "model's input")
        return None

    def param(self, i: int, what: str) -> np.ndarray | None:
        """A constant input that smelt's op keeps as a parameter, as float32."""
        value = self.const(i, what)
        if value is None:
            return None
        value = np.asarray(value, np.float32)
        self.walk.state[self.proto.input[i]] = value
        return value

    def tensor(self, i: int) -> Tensor | None:
        """Input i, which must be computed from the model's input."""
        value = self.value(i)
        if isinstance(value, (Tensor, Lazy)):
            return self.as_tensor(value)
        self.refuse(f"input {i} is a constant here; only tensors computed from the model's "
                    "input are supported")
        return None

    def as_tensor(self, value) -> Tensor:
        """A traced tensor or a lazy value as a traced tensor (skipping the node when a lazy
        value cannot be one: its maker is reported instead)."""
        if isinstance(value, Lazy):
            value = value.force(self.walk)
            if value is None:
                raise Skip
        return value

    def uses(self, i: int = 0) -> int:
        """How many nodes (and graph outputs) read output i."""
        return self.walk.consumers.get(self.proto.output[i], 0)

    def refuse(self, reason: str) -> None:
        self.walk.problem(self.name, self.op_type, reason)
        self.refused = True

    def emit(self, op, inputs: list[Tensor]) -> Tensor:
        """A smelt node for (part of) this ONNX node; later parts get a numbered name."""
        return self.walk.tracer.emit(op, inputs, self.walk.unique(self.name))
