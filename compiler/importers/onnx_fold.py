"""Constant folding for ONNX imports.

A node whose inputs are all known when the file is read (initializers, Constant nodes, the
shapes of traced tensors) is evaluated here with NumPy, so shape arithmetic (Shape -> Gather
-> Unsqueeze -> Concat -> Reshape) and arithmetic on weights never reach smelt's graph. The
common operators are written out below; any other standard operator falls back to onnx's
reference evaluator, except the random ones (their value is not a constant).
"""
from __future__ import annotations

import functools

import numpy as np
from onnx import helper, numpy_helper

#: operators whose "constant" result would differ from run to run
RANDOM = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
          "Bernoulli", "Multinomial"}


def attributes(node) -> dict:
    """A node's attributes as Python values (tensors as numpy arrays, strings as str)."""
    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif a.type == a.TENSOR:
            value = numpy_helper.to_array(value)
        out[a.name] = value
    return out


def foldable(op_type: str) -> bool:
    return op_type not in RANDOM


def fold(node, inputs: list, opset: int) -> list[np.ndarray]:
    """The outputs of `node` (a NodeProto of the default domain) given its constant inputs
    (None for an absent optional input)."""
    rule = RULES.get(node.op_type)
    if rule is not None:
        out = rule(inputs, attributes(node), opset)
        return list(out) if isinstance(out, (list, tuple)) else [out]
    return reference(node, inputs, opset)


def reference(node, inputs: list, opset: int) -> list[np.ndarray]:
    """Any other operator, through onnx's reference implementation."""
    from onnx.reference import ReferenceEvaluator
    names = [name for name in node.input]
    feeds = {name: value for name, value in zip(names, inputs) if name}
    evaluator = ReferenceEvaluator(node, opsets={"": opset})
    return [np.asarray(v) for v in evaluator.run(None, feeds)]


# --- the common operators ------------------------------------------------------------------

def axes_of(inputs, attrs, opset, since: int, rank: int | None = None):
    """`axes` from an input (opset >= since) or an attribute, normalised if rank is given."""
    if opset >= since:
        axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
    else:
        axes = attrs.get("axes")
    if axes is None:
        return None
    axes = [int(a) for a in np.asarray(axes).reshape(-1)]
    return axes if rank is None else [a % rank for a in axes]


def constant(inputs, attrs, opset):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            if key.startswith("value_float"):
                return np.asarray(value, np.float32)
            if key.startswith("value_int"):
                return np.asarray(value, np.int64)
            return np.asarray(value)
    raise ValueError(f"Constant with attributes {sorted(attrs)} is not supported")


def constant_of_shape(inputs, attrs, opset):
    value = attrs.get("value", np.zeros(1, np.float32))
    return np.full(tuple(int(d) for d in inputs[0]), value.reshape(-1)[0], value.dtype)


def shape(inputs, attrs, opset):
    dims = np.array(inputs[0].shape, np.int64)
    return dims[attrs.get("start", 0):attrs.get("end", None)]


def gather(inputs, attrs, opset):
    data, indices = inputs
    axis = attrs.get("axis", 0) % max(data.ndim, 1)
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    return np.take(data, indices, axis=axis)


def unsqueeze(inputs, attrs, opset):
    x = inputs[0]
    axes = axes_of(inputs, attrs, opset, 13)
    for a in sorted(a % (x.ndim + len(axes)) for a in axes):
        x = np.expand_dims(x, a)
    return x


def squeeze(inputs, attrs, opset):
    x = inputs[0]
    axes = axes_of(inputs, attrs, opset, 13, x.ndim)
    return np.squeeze(x, axis=tuple(axes)) if axes is not None else np.squeeze(x)


def slice_(inputs, attrs, opset):
    x = inputs[0]
    if opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes"), None
    else:
        starts, ends = inputs[1], inputs[2]
        axes = inputs[3] if len(inputs) > 3 else None
        steps = inputs[4] if len(inputs) > 4 else None
    axes = range(len(starts)) if axes is None else [int(a) % x.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        index[axis] = slice(int(start), int(end), int(step))
    return x[tuple(index)]


def reshape(inputs, attrs, opset):
    x, target = inputs[0], [int(d) for d in inputs[1]]
    if not attrs.get("allowzero", 0):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return x.reshape(target)


def cast(inputs, attrs, opset):
    return inputs[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))


def legacy_broadcast(a, b, attrs, opset):
    """Opsets before 7 broadcast b into a from `axis` when `broadcast` is set."""
    if opset < 7 and attrs.get("broadcast") and "axis" in attrs and b.ndim:
        axis = attrs["axis"] % a.ndim
        b = b.reshape(b.shape + (1,) * (a.ndim - axis - b.ndim))
    return a, b


def divide(a, b):
    """ONNX's Div: integers truncate toward zero (NumPy's // floors)."""
    if np.issubdtype(a.dtype, np.integer):
        q = a // b
        return q + ((q < 0) & (q * b != a))
    return a / b


def binary(fn):
    def rule(inputs, attrs, opset):
        a, b = legacy_broadcast(inputs[0], inputs[1], attrs, opset)
        with np.errstate(all="ignore"):
            return np.asarray(fn(a, b)).astype(np.result_type(a, b))
    return rule


def compare(fn):
    def rule(inputs, attrs, opset):
        return np.asarray(fn(*legacy_broadcast(inputs[0], inputs[1], attrs, opset)))
    return rule


def unary(fn):
    def rule(inputs, attrs, opset):
        with np.errstate(all="ignore"):
            return np.asarray(fn(inputs[0])).astype(inputs[0].dtype)
    return rule


def concat(inputs, attrs, opset):
    return np.concatenate([x for x in inputs if x is not None], axis=attrs["axis"])


def expand(inputs, attrs, opset):
    x, target = inputs
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(int(d) for d in target))).copy()


def range_(inputs, attrs, opset):
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs)
    return np.arange(start, limit, delta).astype(start.dtype)


def dropout(inputs, attrs, opset):
    return inputs[0], np.ones(inputs[0].shape, bool)


RULES = {
    "Constant": constant, "ConstantOfShape": constant_of_shape, "Shape": shape,
    "Size": lambda inputs, attrs, opset: np.array(inputs[0].size, np.int64),
    "Gather": gather, "Unsqueeze": unsqueeze, "Squeeze": squeeze, "Slice": slice_,
    "Reshape": reshape, "Cast": cast, "Concat": concat, "Expand": expand, "Range": range_,
    "Identity": lambda inputs, attrs, opset: inputs[0],
    "Dropout": dropout,
    "Transpose": lambda inputs, attrs, opset: np.transpose(inputs[0], attrs.get("perm")),
    "Flatten": lambda inputs, attrs, opset: inputs[0].reshape(
        int(np.prod(inputs[0].shape[:attrs.get("axis", 1)])), -1),
    "Add": binary(np.add), "Sub": binary(np.subtract), "Mul": binary(np.multiply),
    "Div": binary(divide), "Pow": binary(np.power), "Equal": compare(np.equal),
    "Less": compare(np.less), "Greater": compare(np.greater),
    "Sum": lambda inputs, attrs, opset: functools.reduce(np.add, inputs),
    "Neg": unary(np.negative), "Sqrt": unary(np.sqrt), "Reciprocal": unary(np.reciprocal),
    "Abs": unary(np.abs), "Floor": unary(np.floor), "Ceil": unary(np.ceil),
}
