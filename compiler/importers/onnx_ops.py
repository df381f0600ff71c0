"""The operator table: each ONNX operator (with a traced input) as the smelt ops that
compiler.nn layers emit. Data movement (views, transposes, slices, padding) is in
onnx_shapes, resizing in onnx_resize; OPS holds them all.

A handler reads its node's attributes and inputs, refuses (`n.refuse`) every attribute or
input it cannot map, and only then emits; it returns the values of the node's outputs (None
for an output it does not produce). 1-D spatial ops (N, C, L) run as 2-D ones on an
(N, C, 1, L) view.
"""
from __future__ import annotations

import numpy as np

from .. import limits, ops
from ..graph import Tensor
from ..rng import generator
from . import onnx_shapes, onnx_windows
from .onnx_lazy import Padded, Permuted
from .onnx_resize import resize
from .onnx_shapes import as_2d, ints, lift, unlift, view

#: ONNX operator -> handler(OnnxNode): the values of the node's outputs, or None if refused
OPS: dict = {**onnx_shapes.OPS, "Resize": resize, "Upsample": resize}
handles = onnx_shapes.registrar(OPS)


def same_f32(a: float, b: float) -> bool:
    return np.float32(a) == np.float32(b)


def spatial(n, x: Tensor, what: str) -> bool:
    """Whether x has one or two spatial dims (refusing the node otherwise)."""
    if x is not None and len(x.shape) not in (3, 4):
        n.refuse(f"{what} over {len(x.shape) - 2} spatial dimension(s) (input "
                 f"{x.shape}): smelt supports 1 and 2")
        return False
    return x is not None


def window_attrs(n, rank: int, kernel) -> tuple | None:
    """strides and dilations, each within smelt's limits (None after refusing)."""
    strides = ints(n.attr("strides", [1] * rank))
    dilations = ints(n.attr("dilations", [1] * rank))
    for what, values in (("kernel_shape", kernel), ("strides", strides),
                         ("dilations", dilations)):
        if any(v > limits.MAX_KERNEL or v < 1 for v in values):
            n.refuse(f"{what}={list(values)}: each must be in 1..{limits.MAX_KERNEL} "
                     "(compiler/limits.py: MAX_KERNEL)")
    return None if n.refused else (strides, dilations)


# --- convolutions ----------------------------------------------------------------------------

def conv_geometry(n, x: Tensor, w, what: str) -> tuple | None:
    """(spatial rank, kernel, strides, dilations) of a convolution of x by the weight w
    (None after refusing, or when x or w is unknown)."""
    if not spatial(n, x, what) or w is None:
        return None
    rank = len(x.shape) - 2
    kernel = ints(w.shape[2:])
    windows = window_attrs(n, rank, kernel)
    return None if windows is None else (rank, kernel, *windows)


@handles("Conv")
def conv(n):
    source, w = n.value(0), n.param(1, "the weight")
    bias = n.param(2, "the bias")
    padded = source if isinstance(source, Padded) else None   # its padding becomes ours
    x = padded.tensor if padded else n.tensor(0)
    geometry = conv_geometry(n, x, w, "convolution")
    if geometry is None:
        return None
    rank, kernel, strides, dilations = geometry
    pads = onnx_windows.padding(n.attrs, source.shape[2:], kernel, strides, dilations)
    if isinstance(pads, str):
        n.refuse(pads)
    if n.refused:
        return None
    begins, ends = list(as_2d(pads[0], rank, 0)), list(as_2d(pads[1], rank, 0))
    if padded:
        begins = [a + b for a, b in zip(begins, padded.begins)]
        ends = [a + b for a, b in zip(ends, padded.ends)]
    if min(begins + ends) < 0:
        n.refuse(f"negative pads {pads[0] + pads[1]} (cropping) are not supported")
        return None
    weight = w if rank == 2 else w[:, :, None, :]
    op = ops.Conv2d(weight, bias, as_2d(strides, rank, 1), (begins[0], ends[0], begins[1],
                    ends[1]), as_2d(dilations, rank, 1), int(n.attr("group", 1)))
    return unlift(n, n.emit(op, [lift(n, x)]), len(x.shape))


@handles("ConvTranspose")
def conv_transpose(n):
    x, w = n.tensor(0), n.param(1, "the weight")
    bias = n.param(2, "the bias")
    geometry = conv_geometry(n, x, w, "transposed convolution")
    if geometry is None:
        return None
    rank, kernel, strides, dilations = geometry
    pads = onnx_windows.conv_transpose_padding(n.attrs, x.shape[2:], kernel, strides,
                                               dilations)
    if isinstance(pads, str):
        n.refuse(pads)
        return None
    crop, output_padding = pads
    weight = w if rank == 2 else w[:, :, None, :]
    op = ops.ConvTranspose2d(weight, bias, as_2d(strides, rank, 1), as_2d(crop, rank, 0),
                             as_2d(output_padding, rank, 0), int(n.attr("group", 1)),
                             as_2d(dilations, rank, 1))
    return unlift(n, n.emit(op, [lift(n, x)]), len(x.shape))


# --- normalisation ---------------------------------------------------------------------------

@handles("BatchNormalization")
def batch_norm(n):
    x = n.tensor(0)
    gamma, beta, mean, var = (n.param(i, what) for i, what in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    eps = float(n.attr("epsilon", 1e-5))
    extra_outputs = [o for o in n.proto.output[1:] if o]
    training = bool(n.attr("training_mode", 0)) or (n.opset < 14 and bool(extra_outputs)) \
        or (n.opset < 7 and not n.attr("is_test", 0))
    if n.opset < 9 and not n.attr("spatial", 1):
        n.refuse("spatial=0 (statistics per activation, not per channel) is not supported")
    if training and any(n.uses(i) for i in range(1, len(n.proto.output))):
        n.refuse("training mode with its running statistics as outputs is not supported; "
                 "export the model in eval mode")
    if training and x is not None and len(x.shape) != 4:
        n.refuse(f"batch statistics (training mode) of a {len(x.shape)}-D input: smelt "
                 "computes them for 4-D inputs")
    if n.refused or x is None:
        return None
    c = x.shape[1] if len(x.shape) > 1 else 0
    if training or len(x.shape) == 4:    # an eval BatchNorm2d folds into the conv before it
        op = ops.BatchNorm2d(c, eps, 1 - float(n.attr("momentum", 0.9)), gamma, beta, mean,
                             var, training, False)
        return n.emit(op, [x])
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return n.emit(ops.ChannelAffine(scale, beta - mean * scale), [x])


@handles("LRN")
def lrn(n):
    x = n.tensor(0)
    size = int(n.attr("size"))
    if size % 2 == 0:
        n.refuse(f"size={size}: ONNX centres an even window one channel later than "
                 "PyTorch's LocalResponseNorm; smelt supports odd sizes")
    if n.refused:
        return None
    return n.emit(ops.LocalResponseNorm(size, float(n.attr("alpha", 1e-4)),
                                        float(n.attr("beta", 0.75)),
                                        float(n.attr("bias", 1.0))), [x])


# --- activations -----------------------------------------------------------------------------

def activation(make):
    def handler(n):
        x = n.tensor(0)
        op = make(n)
        return None if n.refused or op is None else n.emit(op, [x])
    return handler


SELU_DEFAULTS = (1.67326319217681884765625, 1.05070102214813232421875)


def selu(n):
    alpha, gamma = n.attr("alpha", SELU_DEFAULTS[0]), n.attr("gamma", SELU_DEFAULTS[1])
    if same_f32(alpha, SELU_DEFAULTS[0]) and same_f32(gamma, SELU_DEFAULTS[1]):
        return ops.SELU()
    n.refuse(f"alpha={alpha}, gamma={gamma}: smelt's SELU has the standard constants only")
    return None


OPS.update({
    "Relu": activation(lambda n: ops.ReLU()),
    "Sigmoid": activation(lambda n: ops.Sigmoid()),
    "Tanh": activation(lambda n: ops.Tanh()),
    "HardSwish": activation(lambda n: ops.Hardswish()),
    "LeakyRelu": activation(lambda n: ops.LeakyReLU(float(n.attr("alpha", 0.01)))),
    "Elu": activation(lambda n: ops.ELU(float(n.attr("alpha", 1.0)))),
    "Selu": activation(selu),
    "Neg": activation(lambda n: ops.ScalarOp("mul", -1.0)),
    "Reciprocal": activation(lambda n: ops.ScalarOp("rdiv", 1.0)),
})


@handles("PRelu")
def prelu(n):
    x, slope = n.tensor(0), n.param(1, "the slope")
    if n.refused:
        return None
    if n.opset < 7 and slope.ndim == 1:           # PRelu-6: one slope per channel
        slope = slope.reshape((-1,) + (1,) * (len(x.shape) - 2))
    aligned = (1,) * (len(x.shape) - slope.ndim) + slope.shape
    if slope.size == 1:
        return n.emit(ops.LeakyReLU(float(slope.reshape(-1)[0])), [x])
    if len(aligned) != len(x.shape) or len(x.shape) < 2 or aligned[1] != x.shape[1] or \
            any(d != 1 for i, d in enumerate(aligned) if i != 1):
        n.refuse(f"a slope of shape {slope.shape} for an input of shape {x.shape}: smelt "
                 "takes one slope, or one per channel")
        return None
    # relu(x) - a * relu(-x), exactly: one of the two terms is always zero
    negative = n.emit(ops.ReLU(), [n.emit(ops.ScalarOp("mul", -1.0), [x])])
    scaled = n.emit(ops.ChannelAffine(-slope.reshape(-1), np.zeros(x.shape[1])), [negative])
    return n.emit(ops.Add(), [n.emit(ops.ReLU(), [x]), scaled])


@handles("HardSigmoid")
def hard_sigmoid(n):
    x = n.tensor(0)
    alpha, beta = float(n.attr("alpha", 0.2)), float(n.attr("beta", 0.5))
    if n.refused:
        return None
    if same_f32(alpha, 1 / 6) and beta == 0.5:        # PyTorch's Hardsigmoid
        return n.emit(ops.Hardsigmoid(), [x])
    y = n.emit(ops.ScalarOp("mul", alpha), [x])       # max(0, min(1, alpha * x + beta))
    return n.emit(ops.Hardtanh(0.0, 1.0), [n.emit(ops.ScalarOp("add", beta), [y])])


@handles("Clip")
def clip(n):
    x = n.tensor(0)
    if n.opset < 11:
        lo, hi = n.attr("min", -np.inf), n.attr("max", np.inf)
    else:
        lo, hi = (n.const(i, what) for i, what in ((1, "min"), (2, "max")))
        lo = -np.inf if lo is None else float(np.asarray(lo).reshape(-1)[0])
        hi = np.inf if hi is None else float(np.asarray(hi).reshape(-1)[0])
    if n.refused:
        return None
    lo = -np.inf if lo <= np.finfo(np.float32).min else float(lo)
    hi = np.inf if hi >= np.finfo(np.float32).max else float(hi)
    if lo == 0 and hi == 6:
        return n.emit(ops.ReLU6(), [x])
    if lo == 0 and hi == np.inf:
        return n.emit(ops.ReLU(), [x])
    return n.emit(ops.Hardtanh(lo, hi), [x])


@handles("Max", "Min")
def clamp(n):
    """The max or min of a tensor and constants (PyTorch exports clamp so): a clamp."""
    values = [n.value(i) for i in range(len(n.proto.input)) if n.has(i)]
    tensors = [v for v in values if not isinstance(v, np.ndarray)]
    consts = [v for v in values if isinstance(v, np.ndarray)]
    if len(tensors) != 1 or any(c.size != 1 for c in consts):
        n.refuse(f"{n.op_type} of {len(tensors)} tensors and constants of shapes "
                 f"{[c.shape for c in consts]}: smelt takes one tensor and single values")
        return None
    x = n.as_tensor(tensors[0])
    if not consts:
        return x
    bound = [float(c.reshape(-1)[0]) for c in consts]
    if n.op_type == "Min":
        return n.emit(ops.Hardtanh(-np.inf, min(bound)), [x])
    if max(bound) == 0:
        return n.emit(ops.ReLU(), [x])
    return n.emit(ops.Hardtanh(max(bound), np.inf), [x])


@handles("Softmax")
def softmax(n):
    x = n.value(0)
    permuted = x if isinstance(x, Permuted) else None    # softmax over a moved axis
    x = permuted.tensor if permuted else n.as_tensor(x)
    shape = permuted.shape if permuted else x.shape
    rank = len(shape)
    axis = int(n.attr("axis", 1 if n.opset < 13 else -1)) % max(rank, 1)
    if n.opset >= 13 or all(d == 1 for d in shape[axis + 1:]):
        if permuted is None:
            return n.emit(ops.Softmax(axis), [x])
        y = n.emit(ops.Softmax(permuted.perm[axis]), [x])
        return Permuted(y, permuted.perm, permuted.name)
    # before opset 13: the softmax of the input flattened to 2-D at `axis`
    x = n.as_tensor(permuted) if permuted else x
    rows = int(np.prod(x.shape[:axis]))
    y = n.emit(ops.Softmax(1), [view(n, x, (rows, int(np.prod(x.shape[axis:]))))])
    return view(n, y, x.shape)


@handles("Dropout")
def dropout(n):
    x = n.tensor(0)
    training = n.const(2, "training_mode") if n.opset >= 12 else None
    ratio = n.const(1, "ratio") if n.opset >= 12 else n.attr("ratio", 0.5)
    p = 0.5 if ratio is None else float(np.asarray(ratio).reshape(-1)[0])
    if n.refused:
        return None
    if training is None or not bool(training) or p == 0:
        return [x, None]                      # inference: the identity (no mask output)
    seed = int(generator().integers(0, 2**53))   # as compiler.nn.Dropout draws it
    return [n.emit(ops.DropoutTrain(p, seed), [x]), None]


# --- arithmetic ------------------------------------------------------------------------------

#: ONNX operator -> (smelt binary op, ScalarOp kind for x op c, for c op x)
ARITHMETIC = {"Add": (ops.Add, "add", "add"), "Sub": (ops.Sub, "sub", "rsub"),
              "Mul": (ops.Mul, "mul", "mul"), "Div": (ops.Div, "div", "rdiv")}


@handles("Add", "Sub", "Mul", "Div")
def arithmetic(n):
    a, b = n.value(0), n.value(1)
    if n.opset < 7 and n.attr("broadcast") and "axis" in n.attrs:   # legacy broadcasting
        if isinstance(b, np.ndarray):
            b = b.reshape(b.shape + (1,) * (len(a.shape) - n.attr("axis") - b.ndim))
        else:
            n.refuse("opset 6 broadcasting of a computed tensor along an axis")
            return None
    return combine(n, n.op_type, a, b, n.proto.input[0], n.proto.input[1])


@handles("Sum")
def sum_(n):
    values = [n.value(i) for i in range(len(n.proto.input))]
    consts = [v for v in values if isinstance(v, np.ndarray)]
    tensors = [v for v in values if not isinstance(v, np.ndarray)]
    y = tensors[0]
    for t in tensors[1:]:
        y = combine(n, "Add", y, t)
        if y is None:
            return None
    if consts:
        y = combine(n, "Add", y, sum(consts[1:], consts[0]))
    return y


def combine(n, kind: str, a, b, a_name: str = "", b_name: str = ""):
    """a <kind> b with numpy broadcasting, where a or b is a traced tensor."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        swapped = isinstance(a, np.ndarray)
        x, c = (b, a) if swapped else (a, b)
        x_name = b_name if swapped else a_name
        return with_constant(n, kind, n.as_tensor(x), c.astype(np.float32), swapped, x_name)
    a, b = n.as_tensor(a), n.as_tensor(b)
    if kind == "Mul":
        fused = gated(n, a, b)
        fused = gated(n, b, a) if fused is None else fused
        if fused is not None:
            return fused
    if len(a.shape) != len(b.shape):          # numpy aligns trailing dims
        rank = max(len(a.shape), len(b.shape))
        a, b = (view(n, t, (1,) * (rank - len(t.shape)) + t.shape) for t in (a, b))
    op_class = ARITHMETIC[kind][0]
    if broadcasts_into(b.shape, a.shape):
        return n.emit(op_class(), [a, b])
    if broadcasts_into(a.shape, b.shape):
        if op_class.commutative:
            return n.emit(op_class(), [b, a])
        if kind == "Sub":                     # a - b = -(b - a), exactly
            return n.emit(ops.ScalarOp("mul", -1.0), [n.emit(ops.Sub(), [b, a])])
    n.refuse(f"{kind} of tensors of shapes {a.shape} and {b.shape}: smelt supports equal "
             "shapes and operands broadcast over the spatial dims (N x C x 1 x 1)")
    return None


def broadcasts_into(small: tuple, big: tuple) -> bool:
    """small is big's shape, or broadcasts over big with 1s from the third dim on (smelt's
    binary ops: the same shape, or a per-(batch, channel) operand)."""
    return small == big or (len(small) == len(big) and
                            all(s in (b, 1) for s, b in zip(small[:2], big[:2])) and
                            all(s == 1 for s in small[2:]))


def gated(n, x: Tensor, gate: Tensor) -> Tensor | None:
    """x * sigmoid(x) as SiLU and x * hardsigmoid(x) as Hardswish, as PyTorch exports them."""
    if gate.node.inputs[:1] != [x.node]:
        return None
    if isinstance(gate.node.op, ops.Sigmoid):
        return n.emit(ops.SiLU(), [x])
    if isinstance(gate.node.op, ops.Hardsigmoid):
        return n.emit(ops.Hardswish(), [x])
    return None


def with_constant(n, kind: str, x: Tensor, c: np.ndarray, swapped: bool, x_name: str):
    """x <kind> c (or c <kind> x when swapped) for a constant c: a ScalarOp when c is one
    value, a ChannelAffine (or a Linear's bias) when it is one value per channel."""
    rank = max(len(x.shape), c.ndim)
    aligned = (1,) * (rank - c.ndim) + c.shape
    if rank > len(x.shape) or not all(a in (1, d) for a, d in zip(aligned, x.shape)):
        n.refuse(f"{kind} with a constant of shape {c.shape} broadcasts the tensor "
                 f"{x.shape} to a larger shape")
        return None
    op_class, kind_x, kind_c = ARITHMETIC[kind]
    if c.size == 1:
        return n.emit(ops.ScalarOp(kind_c if swapped else kind_x, float(c.reshape(-1)[0])),
                      [x])
    if kind == "Add" and isinstance(x.node.op, ops.Linear) and \
            "bias" not in x.node.op.params and n.walk.consumers.get(x_name) == 1 and \
            aligned[-1] == x.shape[-1] and all(d == 1 for d in aligned[:-1]):
        weight = x.node.op.params["weight"]    # MatMul + Add: one Linear with a bias
        return n.emit(ops.Linear(weight, c.reshape(-1)),
                      [Tensor(x.node.inputs[0], x._tracer)])
    if len(x.shape) < 2 or any(d != 1 for i, d in enumerate(aligned) if i != 1):
        n.refuse(f"{kind} with a constant of shape {c.shape} over a tensor of shape "
                 f"{x.shape}: smelt supports scalar and per-channel (dim 1) constants")
        return None
    v = c.reshape(-1).astype(np.float64)
    one, zero = np.ones_like(v), np.zeros_like(v)
    affine = {("Add", False): (one, v), ("Add", True): (one, v),
              ("Sub", False): (one, -v), ("Sub", True): (-one, v),
              ("Mul", False): (v, zero), ("Mul", True): (v, zero),
              ("Div", False): (1 / v, zero)}.get((kind, swapped))   # x / c as x * (1 / c)
    if affine is None:
        n.refuse("dividing a per-channel constant by a tensor is not supported")
        return None
    return n.emit(ops.ChannelAffine(*affine), [x])


# --- linear ----------------------------------------------------------------------------------

@handles("Gemm")
def gemm(n):
    a, b = n.tensor(0), n.param(1, "B")
    c = n.param(2, "C")
    alpha, beta = float(n.attr("alpha", 1.0)), float(n.attr("beta", 1.0))
    if n.attr("transA", 0):
        n.refuse("transA=1 (a transposed input) is not supported")
    if a is not None and len(a.shape) != 2:
        n.refuse(f"Gemm of a {len(a.shape)}-D input")
    if n.refused or b is None:
        return None
    weight = b.astype(np.float64) if n.attr("transB", 0) else b.T.astype(np.float64)
    bias = None
    if c is not None and beta != 0:
        out = weight.shape[0]
        if c.size not in (1, out) or c.size == out and c.ndim == 2 and c.shape[0] != 1:
            n.refuse(f"C of shape {c.shape}: smelt adds a bias per output feature")
            return None
        bias = np.broadcast_to(beta * c.reshape(-1).astype(np.float64), (out,))
        bias = bias.astype(np.float32)
    return n.emit(ops.Linear((alpha * weight).astype(np.float32), bias), [a])


@handles("MatMul")
def matmul(n):
    a, b = n.tensor(0), n.param(1, "the second operand")
    if b is not None and b.ndim != 2:
        n.refuse(f"a second operand of shape {b.shape}: smelt multiplies by a matrix")
    if n.refused or a is None:
        return None
    return n.emit(ops.Linear(np.ascontiguousarray(b.T), None), [a])


# --- pooling ---------------------------------------------------------------------------------

def pool(n, average: bool):
    x = n.tensor(0)
    if not spatial(n, x, "pooling"):
        return None
    rank = len(x.shape) - 2
    kernel = ints(n.attr("kernel_shape"))
    windows = window_attrs(n, rank, kernel)
    ceil, count_pad = bool(n.attr("ceil_mode", 0)), bool(n.attr("count_include_pad", 0))
    if average and windows is not None and any(d != 1 for d in windows[1]):
        n.refuse(f"dilations={list(windows[1])}: smelt's average pooling has none")
    if n.refused:
        return None
    strides, dilations = windows
    pads = onnx_windows.padding(n.attrs, x.shape[2:], kernel, strides, dilations)
    if isinstance(pads, str):
        n.refuse(pads)
        return None
    args = (as_2d(x.shape[2:], rank, 1), as_2d(kernel, rank, 1), as_2d(strides, rank, 1),
            as_2d(dilations, rank, 1), as_2d(pads[0], rank, 0), as_2d(pads[1], rank, 0))
    match = onnx_windows.match_pool(*args, ceil, count_pad, average)
    if match is None:
        n.refuse(f"pads {list(pads[0]) + list(pads[1])} with kernel {list(kernel)} and "
                 f"strides {list(strides)}: no smelt pooling (symmetric padding of at most "
                 "half the kernel, adaptive, or edge padding for a max) reads the same "
                 "windows")
        return None
    x = lift(n, x)
    if match[0] == "replicate":
        x = n.emit(ops.Pad("replicate", match[1]), [x])
        match = ("window", (0, 0), match[2])
    if match[0] == "adaptive":
        op = ops.AdaptiveAvgPool2d(match[1]) if average else ops.AdaptiveMaxPool2d(match[1])
    elif average:
        op = ops.AvgPool2d(args[1], args[2], match[1], match[2], count_pad, None)
    else:
        op = ops.MaxPool2d(args[1], args[2], match[1], match[2], args[3])
    return unlift(n, n.emit(op, [x]), rank + 2)


@handles("MaxPool")
def max_pool(n):
    y = pool(n, average=False)
    return None if y is None else [y, None]        # no indices output


@handles("AveragePool")
def average_pool(n):
    return pool(n, average=True)


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(n):
    x = n.tensor(0)
    if not spatial(n, x, "global pooling"):
        return None
    op = ops.AdaptiveAvgPool2d((1, 1)) if n.op_type == "GlobalAveragePool" else \
        ops.AdaptiveMaxPool2d((1, 1))
    return unlift(n, n.emit(op, [lift(n, x)]), len(x.shape))


@handles("ReduceMean", "ReduceMax")
def reduce_spatial(n):
    """A mean or max over spatial axes: an adaptive pool to size 1 along them."""
    x = n.tensor(0)
    if x is None:
        return None
    rank = len(x.shape)
    axes = n.const(1, "axes") if n.opset >= 18 else n.attr("axes")
    keep = bool(n.attr("keepdims", 1))
    if axes is None or len(axes) == 0:
        if n.opset >= 18 and n.attr("noop_with_empty_axes", 0):
            return x
        axes = range(rank)
    axes = sorted({int(a) % rank for a in np.asarray(axes).reshape(-1)})
    if rank not in (3, 4) or not axes or axes[0] < 2:
        n.refuse(f"reducing axes {axes} of a {rank}-D tensor: smelt reduces the spatial axes "
                 "(2 and 3) of 3-D and 4-D tensors")
    if n.refused:
        return None
    size = (1 if 2 in axes else None, 1 if 3 in axes else None) if rank == 4 else (None, 1)
    pool = ops.AdaptiveAvgPool2d if n.op_type == "ReduceMean" else ops.AdaptiveMaxPool2d
    y = n.emit(pool(size), [lift(n, x)])
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
    return view(n, y, shape)


OPS["Resize"] = OPS["Upsample"] = resize
