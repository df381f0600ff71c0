"""The function table: torch functions, Tensor methods and Python operators that CNNs call in
forward, each as a converter taking the node's Context and the call's arguments (with the
torch function's signature and defaults). A converter checks every argument it can, then
emits smelt ops (or runs a compiler.nn layer made from the arguments, for the same checks
and ops as a compiler.nn model); an argument value it cannot take raises Unsupported.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np
import torch
import torch.nn.functional as F

from .. import nn, ops
from ..graph import Tensor, resolve_shape
from ..nn.init import uninitialised
from ..tensor_ops import cat as smelt_cat
from .torch_context import UNKNOWN, UNKNOWN_TENSOR, Context, Unsupported, is_tensor, known

#: torch function (or Python operator) -> converter(ctx, *args, **kwargs)
FUNCTIONS: dict = {}
#: Tensor method name -> converter(ctx, self, *args, **kwargs)
METHODS: dict = {}


def function(*targets):
    def register(convert):
        for target in targets:
            FUNCTIONS[target] = convert
        return convert
    return register


def method(*names):
    def register(convert):
        for name in names:
            METHODS[name] = convert
        return convert
    return register


def lookup(target):
    """The converter of a called function: by identity, else torchvision's stochastic_depth,
    which it wraps with torch.fx.wrap so that it stays one call in the graph."""
    try:
        if target in FUNCTIONS:
            return FUNCTIONS[target]
    except TypeError:                  # unhashable
        return None
    if getattr(target, "__name__", "") == "stochastic_depth":
        return stochastic_depth
    return None


def is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class Pending:
    """A value that is only half a pattern: only the converters in `accepted_by` may take it
    (any other use of it is unsupported, for `reason`)."""

    accepted_by: tuple = ()
    reason = ""


def layer(ctx: Context, name: str, x, *args, **kwargs):
    """Run compiler.nn's layer `name` made from the call's arguments (its constructor checks
    them as for a compiler.nn model)."""
    cls = getattr(nn, name, None)
    if cls is None:
        raise Unsupported(f"smelt has no {name} layer")
    if not known(args, kwargs):
        return UNKNOWN_TENSOR
    try:
        with uninitialised():
            made = cls(*args, **kwargs)
    except TypeError as e:
        raise Unsupported(str(e)) from None
    return ctx.call(made, x)


# --- arithmetic: tensors, channel-wise tensors (N x C x 1 x 1) and numbers -----------------
ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv}


def binary(ctx: Context, kind: str, a, b, inplace: bool = False):
    """a + b (- * /) with smelt's traced Tensor arithmetic (numbers alone: Python's)."""
    if not all(is_tensor(v) or is_number(v) or isinstance(v, Expanded) or not known(v)
               for v in (a, b)):
        raise Unsupported(f"operands must be tensors or numbers, got {type(a).__name__} and "
                          f"{type(b).__name__}")
    if not known(a, b):
        return UNKNOWN_TENSOR if is_tensor(a) or is_tensor(b) else UNKNOWN
    expected = np.broadcast_shapes(*(getattr(v, "shape", ()) for v in (a, b)))
    a, b = (v.tensor if isinstance(v, Expanded) else v for v in (a, b))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        check_broadcast(kind, a.shape, b.shape)
    y = ARITHMETIC[kind](a, b)
    if isinstance(y, Tensor) and y.shape != expected:        # the expanded operand is larger
        raise Unsupported(Expanded.reason)
    if inplace:
        if not isinstance(a, Tensor) or y.shape != a.shape:
            raise Unsupported(f"in-place {kind} must keep the shape of its tensor")
        return ctx.tracer.overwrite(a, y, ctx.name)
    return y


def check_broadcast(kind: str, a, b) -> None:
    """smelt's binary ops take operands of one shape, or a second one of N x C x 1 x 1 (or
    1 x C x 1 x 1, ...) shape; + and * take that one first too."""
    def channel_wise(full, part):
        return len(full) == len(part) and all(y in (x, 1) for x, y in zip(full, part)) and \
            all(y == 1 for y in part[2:])

    if a == b or channel_wise(a, b) or kind in ("add", "mul") and channel_wise(b, a):
        return
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return                              # torch would refuse too: smelt's shape error
    raise Unsupported(f"broadcasting {tuple(a)} with {tuple(b)} is not supported; smelt takes "
                      "operands of one shape, or a channel-wise one (N x C x 1 x 1)"
                      + ("" if kind in ("add", "mul") else " as the second operand"))


def no_alpha(alpha) -> None:
    if alpha != 1:
        raise Unsupported(f"alpha={alpha!r} is not supported; only alpha=1")


@function(operator.add, torch.add)
@method("add")
def add(ctx, input, other, *, alpha=1):
    no_alpha(alpha)
    return binary(ctx, "add", input, other)


@function(operator.sub, torch.sub, torch.subtract)
@method("sub", "subtract")
def sub(ctx, input, other, *, alpha=1):
    no_alpha(alpha)
    return binary(ctx, "sub", input, other)


@function(operator.mul, torch.mul, torch.multiply)
@method("mul", "multiply")
def mul(ctx, input, other):
    return binary(ctx, "mul", input, other)


@function(operator.truediv, torch.div, torch.true_divide)
@method("div", "true_divide")
def div(ctx, input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        raise Unsupported(f"rounding_mode={rounding_mode!r} is not supported; only None")
    return binary(ctx, "div", input, other)


@method("add_")
def add_(ctx, input, other, *, alpha=1):
    no_alpha(alpha)
    return binary(ctx, "add", input, other, inplace=True)


@method("sub_")
def sub_(ctx, input, other, *, alpha=1):
    no_alpha(alpha)
    return binary(ctx, "sub", input, other, inplace=True)


@method("mul_")
def mul_(ctx, input, other):
    return binary(ctx, "mul", input, other, inplace=True)


@method("div_")
def div_(ctx, input, other):
    return binary(ctx, "div", input, other, inplace=True)


@function(operator.neg, torch.neg)
@method("neg")
def neg(ctx, input):
    return binary(ctx, "mul", input, -1.0)


# --- activations ---------------------------------------------------------------------------
def unary(op, inplace: bool = False):
    def convert(ctx, input):
        return ctx.eltwise(op(), input, inplace)
    return convert


def with_inplace(op):
    def convert(ctx, input, inplace=False):
        return ctx.eltwise(op(), input, inplace)
    return convert


for _targets, _methods, _convert in [
        ((F.relu, torch.relu), ("relu",), with_inplace(ops.ReLU)),
        ((F.relu_, torch.relu_), ("relu_",), unary(ops.ReLU, inplace=True)),
        ((F.relu6,), (), with_inplace(ops.ReLU6)),
        ((F.hardswish,), (), with_inplace(ops.Hardswish)),
        ((F.hardsigmoid,), (), with_inplace(ops.Hardsigmoid)),
        ((F.silu,), (), with_inplace(ops.SiLU)),
        ((F.selu, torch.selu), ("selu",), with_inplace(ops.SELU)),
        ((F.sigmoid, torch.sigmoid), ("sigmoid",), unary(ops.Sigmoid)),
        ((torch.sigmoid_,), ("sigmoid_",), unary(ops.Sigmoid, inplace=True)),
        ((F.tanh, torch.tanh), ("tanh",), unary(ops.Tanh)),
        ((torch.tanh_,), ("tanh_",), unary(ops.Tanh, inplace=True))]:
    function(*_targets)(_convert)
    method(*_methods)(_convert)


@function(F.hardtanh)
def hardtanh(ctx, input, min_val=-1.0, max_val=1.0, inplace=False):
    if not known(min_val, max_val):
        return UNKNOWN_TENSOR
    return ctx.eltwise(ops.Hardtanh(min_val, max_val), input, inplace)


@function(F.leaky_relu)
def leaky_relu(ctx, input, negative_slope=0.01, inplace=False):
    if not known(negative_slope):
        return UNKNOWN_TENSOR
    return ctx.eltwise(ops.LeakyReLU(negative_slope), input, inplace)


@function(F.elu)
def elu(ctx, input, alpha=1.0, inplace=False):
    if not known(alpha):
        return UNKNOWN_TENSOR
    return ctx.eltwise(ops.ELU(alpha), input, inplace)


@function(torch.clamp, torch.clip)
@method("clamp", "clip")
def clamp(ctx, input, min=None, max=None):
    """clamp(min=0) is a ReLU, clamp(lo, hi) a Hardtanh."""
    if not known(min, max):
        return UNKNOWN_TENSOR
    if not all(v is None or is_number(v) for v in (min, max)):
        raise Unsupported("only number bounds are supported (not tensors)")
    if min is not None and max is not None:
        return ctx.eltwise(ops.Hardtanh(min, max), input)
    if min == 0 and max is None:
        return ctx.eltwise(ops.ReLU(), input)
    raise Unsupported(f"clamp(min={min!r}, max={max!r}) is not supported; give both bounds, "
                      "or min=0 alone")


@function(F.softmax, torch.softmax)
@method("softmax")
def softmax(ctx, input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        raise Unsupported(f"dtype={dtype!r} is not supported; smelt computes in float32")
    return layer(ctx, "Softmax", input, dim)


# --- pooling, resizing, dropout --------------------------------------------------------------
@function(F.max_pool2d)
def max_pool2d(ctx, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return layer(ctx, "MaxPool2d", input, kernel_size, stride, padding, dilation,
                 return_indices, ceil_mode)


@function(F.avg_pool2d)
def avg_pool2d(ctx, input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return layer(ctx, "AvgPool2d", input, kernel_size, stride, padding, ceil_mode,
                 count_include_pad, divisor_override)


@function(F.adaptive_avg_pool2d)
def adaptive_avg_pool2d(ctx, input, output_size):
    return layer(ctx, "AdaptiveAvgPool2d", input, output_size)


@function(F.adaptive_max_pool2d)
def adaptive_max_pool2d(ctx, input, output_size, return_indices=False):
    return layer(ctx, "AdaptiveMaxPool2d", input, output_size, return_indices)


@function(F.interpolate, F.upsample)
def interpolate(ctx, input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if antialias:
        raise Unsupported("antialias=True is not supported; only antialias=False")
    return layer(ctx, "Upsample", input, size, scale_factor, mode, align_corners,
                 recompute_scale_factor)


@function(F.upsample_nearest)
def upsample_nearest(ctx, input, size=None, scale_factor=None):
    return layer(ctx, "Upsample", input, size, scale_factor, "nearest")


@function(F.upsample_bilinear)
def upsample_bilinear(ctx, input, size=None, scale_factor=None):
    return layer(ctx, "Upsample", input, size, scale_factor, "bilinear", True)


@function(F.pixel_shuffle)
def pixel_shuffle(ctx, input, upscale_factor):
    return layer(ctx, "PixelShuffle", input, upscale_factor)


@function(F.local_response_norm)
def local_response_norm(ctx, input, size, alpha=1e-4, beta=0.75, k=1.0):
    return layer(ctx, "LocalResponseNorm", input, size, alpha, beta, k)


def dropout_layer(ctx, name, input, p, training, inplace):
    if not known(training):
        return UNKNOWN_TENSOR
    if not training:                     # what torch does: the input itself
        return input
    return layer(ctx, name, input, p, inplace)


@function(F.dropout)
def dropout(ctx, input, p=0.5, training=True, inplace=False):
    return dropout_layer(ctx, "Dropout", input, p, training, inplace)


@function(F.dropout2d)
def dropout2d(ctx, input, p=0.5, training=True, inplace=False):
    return dropout_layer(ctx, "Dropout2d", input, p, training, inplace)


def stochastic_depth(ctx, input, p, mode, training=True):
    """torchvision.ops.stochastic_depth: the input itself in eval mode (or with p = 0)."""
    if not known(p, training):
        return UNKNOWN_TENSOR
    if training and p > 0:
        raise Unsupported("stochastic depth in train mode (random per-sample drops) is not "
                          "supported; compile the model in eval mode")
    return input


# --- shapes ----------------------------------------------------------------------------
@function(torch.flatten)
@method("flatten")
def flatten(ctx, input, start_dim=0, end_dim=-1):
    if not known(input, start_dim, end_dim):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    return input.flatten(start_dim, end_dim)


def as_shape(shape) -> tuple:
    """view(2, 3), view((2, 3)) and view([2, 3]) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


@method("view", "reshape")
def view(ctx, input, *shape):
    shape = as_shape(shape)
    if not all(isinstance(d, int) or not known(d) for d in shape):
        raise Unsupported(f"view/reshape takes a shape of ints, got {shape!r} (no dtype views)")
    if not known(input, shape):
        return UNKNOWN_TENSOR
    if isinstance(input, Shuffled):
        return input.view(ctx, shape)
    ctx.require_tensor(input)
    return input.view(*shape)


@function(torch.reshape)
def reshape(ctx, input, shape):
    return view(ctx, input, shape)


@method("contiguous")
def contiguous(ctx, input, memory_format=torch.contiguous_format):
    if memory_format is not torch.contiguous_format:
        raise Unsupported(f"memory_format={memory_format} is not supported")
    return input


@function(torch.squeeze)
@method("squeeze")
def squeeze(ctx, input, dim=None):
    if not known(input, dim):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    rank = len(input.shape)
    dims = range(rank) if dim is None else [d % rank for d in as_shape((dim,))]
    return input.view(*[s for i, s in enumerate(input.shape) if i not in dims or s != 1])


@function(torch.unsqueeze)
@method("unsqueeze")
def unsqueeze(ctx, input, dim):
    if not known(input, dim):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    shape = list(input.shape)
    shape.insert(dim % (len(shape) + 1), 1)
    return input.view(*shape)


class Expanded(Pending):
    """y.expand_as(x) or y.expand(sizes): y itself, which smelt's + - * / broadcast (an
    N x C x 1 x 1 operand), so only they may take it."""

    reason = "an expanded tensor is only supported as an operand of + - * / that broadcast it"

    def __init__(self, tensor: Tensor, shape: tuple):
        self.tensor, self.shape = tensor, shape


@method("expand_as")
def expand_as(ctx, input, other):
    if not known(input, other):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    return Expanded(input, other.shape)


@method("expand")
def expand(ctx, input, *sizes):
    sizes = as_shape(sizes)
    if not known(input, sizes):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    have = (1,) * (len(sizes) - len(input.shape)) + tuple(input.shape)
    return Expanded(input, tuple(h if s == -1 else s for s, h in zip(sizes, have)))


@method("float", "detach")
def same(ctx, input):
    """x.float() and x.detach() are x itself (smelt computes in float32; no gradients)."""
    ctx.require_tensor(input)
    return input


@function(torch.clone)
@method("clone")
def clone(ctx, input, *, memory_format=torch.preserve_format):
    return ctx.emit(ops.Copy(), input)


@method("size")
def size(ctx, input, dim=None):
    if not known(input, dim):
        return UNKNOWN
    ctx.require_tensor(input)
    return input.size(dim)


@method("dim", "ndimension")
def dim(ctx, input):
    return len(input.shape) if known(input) else UNKNOWN


@method("numel", "nelement")
def numel(ctx, input):
    return math.prod(input.shape) if known(input) else UNKNOWN


@function(getattr)
def getattr_(ctx, obj, name, *default):
    """x.shape and x.ndim; other attributes of a tensor are not supported."""
    if name not in ("shape", "ndim"):
        raise Unsupported(f"the tensor attribute .{name} is not supported (only .shape and "
                          ".ndim)")
    if not known(obj):
        return UNKNOWN
    return obj.shape if name == "shape" else len(obj.shape)


@method("mean")
@function(torch.mean)
def mean(ctx, input, dim=None, keepdim=False, *, dtype=None):
    """The mean over the spatial dims, the last two of an N x C x H x W (or C x H x W)
    tensor: a global average pool."""
    if dtype is not None:
        raise Unsupported(f"dtype={dtype!r} is not supported; smelt computes in float32")
    dims = (dim,) if isinstance(dim, int) else tuple(dim) if isinstance(dim, (tuple, list)) \
        else ()
    ranks = [len(input.shape)] if isinstance(input, Tensor) else [3, 4]
    if known(dim) and not any(all(isinstance(d, int) for d in dims) and
                              sorted(d % r for d in dims) == [r - 2, r - 1] for r in ranks):
        raise Unsupported(f"the mean over dim={dim!r} is not supported; only over the last two "
                          "dims of an N x C x H x W (or C x H x W) tensor")
    if not known(input, dim, keepdim):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    return input.mean(dims, bool(keepdim))


@function(torch.cat, torch.concat)
def cat(ctx, tensors, dim=0):
    if not isinstance(tensors, (tuple, list)):
        raise Unsupported(f"expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not known(tensors, dim):
        return UNKNOWN_TENSOR
    return smelt_cat(list(tensors), dim)


@function(torch.concatenate)
def concatenate(ctx, tensors, axis=0):
    return cat(ctx, tensors, axis)


@function(torch._assert)
def assert_(ctx, condition, message):
    """torchvision's shape checks: nothing to compile (torch checks them when it runs)."""
    return None


# --- channel slicing and shuffling ---------------------------------------------------------------
def channel_dim(name: str, dim, input) -> None:
    """Slicing ops split along the channels (dim 1) only."""
    if not known(dim):
        return
    rank = len(input.shape) if isinstance(input, Tensor) else 4
    if not isinstance(dim, int) or dim % rank != 1:
        raise Unsupported(f"{name} along dim={dim!r} is not supported; only along the "
                          "channels (dim=1)")


@function(torch.chunk)
@method("chunk")
def chunk(ctx, input, chunks, dim=0):
    channel_dim("chunk", dim, input)
    if not known(input, chunks):
        return (UNKNOWN_TENSOR,) * chunks if known(chunks) else UNKNOWN
    ctx.require_tensor(input)
    return input.chunk(chunks, dim)


@function(torch.split)
@method("split")
def split(ctx, input, split_size_or_sections, dim=0):
    channel_dim("split", dim, input)
    if not known(input, split_size_or_sections):
        return UNKNOWN
    ctx.require_tensor(input)
    return input.split(split_size_or_sections, dim)


@function(operator.getitem)
def getitem(ctx, input, index):
    """Indexing a tensor: only a slice of its channels, x[:, a:b]."""
    whole = slice(None)
    index = index if isinstance(index, tuple) else (index,)
    rest = index[2:] if index[2:] != (Ellipsis,) else ()
    if len(index) < 2 or index[0] != whole or not isinstance(index[1], slice) or \
            index[1].step not in (None, 1) or any(i != whole for i in rest):
        raise Unsupported(f"indexing a tensor with {index!r} is not supported; only a slice of "
                          "its channels, x[:, a:b]")
    if not known(input, index):
        return UNKNOWN_TENSOR
    start, stop, _ = index[1].indices(input.shape[1])
    return ctx.emit(ops.ChannelSlice(start, stop), input)


class Shuffled(Pending):
    """A channel shuffle in the making: x.view(n, g, c / g, h, w).transpose(1, 2) has been
    emitted as ChannelShuffle(g) of x; contiguous() keeps it, and only a view back to
    x's shape completes it."""

    reason = ("a transpose is only supported as the channel shuffle x.view(n, g, c // g, h, w) "
              "-> transpose(1, 2) -> contiguous() -> view(n, c, h, w)")

    def __init__(self, result: Tensor, shape: tuple):
        self.result, self.shape = result, shape

    def view(self, ctx, shape):
        if resolve_shape(ctx.name, self.shape, shape) != self.result.shape:
            raise Unsupported(self.reason)
        return self.result


@function(torch.transpose, torch.swapaxes, torch.swapdims)
@method("transpose", "swapaxes", "swapdims")
def transpose(ctx, input, dim0, dim1):
    if known(dim0, dim1) and sorted((dim0 % 5, dim1 % 5)) != [1, 2]:
        raise Unsupported(Shuffled.reason)
    if not known(input, dim0, dim1):
        return UNKNOWN_TENSOR
    ctx.require_tensor(input)
    node = input.node
    grouped = len(input.shape) == 5 and isinstance(node.op, ops.View) and \
        len(node.inputs[0].shape) == 4
    n, g, cg, h, w = input.shape if grouped else (0,) * 5
    if not grouped or node.inputs[0].shape != (n, g * cg, h, w):
        raise Unsupported(Shuffled.reason)
    source = Tensor(node.inputs[0], ctx.tracer, input._aliases)
    return Shuffled(ctx.emit(ops.ChannelShuffle(g), source), (n, cg, g, h, w))


@function(torch.channel_shuffle, F.channel_shuffle)
def channel_shuffle(ctx, input, groups):
    return layer(ctx, "ChannelShuffle", input, groups)


Shuffled.accepted_by = (view, reshape, contiguous)
Expanded.accepted_by = (add, sub, mul, div, add_, sub_, mul_, div_)
