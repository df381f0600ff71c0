"""The data-movement part of the ONNX operator table (onnx_ops holds the rest): views,
reshapes, transposes, slices, concatenation, padding. Data that only changes shape is a view
(no copy); a Transpose is one only in the patterns smelt has an op for.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..graph import Tensor
from . import onnx_fold
from .onnx_lazy import Padded, Permuted

#: this module's operators (onnx_ops.OPS holds every one)
OPS: dict = {}


def registrar(table: dict):
    """A decorator registering a handler in `table` for the given ONNX operators."""
    def handles(*op_types):
        def register(fn):
            for op_type in op_types:
                table[op_type] = fn
            return fn
        return register
    return handles


handles = registrar(OPS)


def ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def view(n, x: Tensor, shape) -> Tensor:
    """`x` reinterpreted as `shape` (no copy): a view of the tensor behind any views of x."""
    shape = ints(shape)
    while x.node.op.is_view:
        x = Tensor(x.node.inputs[0], x._tracer)
    if shape == x.shape:
        return x
    if len(x.shape) == 4 and shape == (x.shape[0], int(np.prod(x.shape[1:]))):
        return n.emit(ops.Flatten(1, -1), [x])
    return n.emit(ops.View(shape), [x])


def lift(n, x: Tensor) -> Tensor:
    """(N, C, L) as (N, C, 1, L), so 1-D convolutions and pools run as 2-D ones."""
    return view(n, x, x.shape[:2] + (1, x.shape[2])) if len(x.shape) == 3 else x


def unlift(n, y: Tensor, rank: int) -> Tensor:
    return view(n, y, y.shape[:2] + (y.shape[3],)) if rank == 3 else y


def as_2d(values, rank: int, pad) -> tuple:
    """Per-axis values of a 1-D op as the 2-D op's (the added axis first)."""
    return tuple(values) if rank == 2 else (pad,) + tuple(values)


@handles("Identity")
def identity(n):
    return n.value(0)


@handles("Flatten")
def flatten(n):
    x = n.tensor(0)
    if x is None:
        return None
    axis = int(n.attr("axis", 1)) % (len(x.shape) + 1)
    return view(n, x, (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:]))))


@handles("Reshape")
def reshape(n):
    x, target = n.tensor(0), n.const(1, "the shape")
    if n.refused or x is None:
        return None
    target = [int(d) for d in target]
    if not n.attr("allowzero", 0):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(x.shape)) // max(known, 1)
    if int(np.prod(target)) != int(np.prod(x.shape)):
        n.refuse(f"cannot reshape {x.shape} to {target}")
        return None
    return view(n, x, target)


@handles("Squeeze", "Unsqueeze")
def squeeze(n):
    x = n.tensor(0)
    if x is None:
        return None
    axes = n.const(1, "axes") if n.opset >= 13 else n.attr("axes")
    if n.refused:
        return None
    stand_in = np.broadcast_to(np.float32(0), x.shape)
    shape = onnx_fold.RULES[n.op_type]([stand_in, axes], {"axes": axes}, n.opset).shape
    return view(n, x, shape)


@handles("Concat")
def concat(n):
    xs = [n.tensor(i) for i in range(len(n.proto.input)) if n.has(i)]
    if n.refused or None in xs:
        return None
    if len(xs) == 1:
        return xs[0]
    return n.emit(ops.Cat(int(n.attr("axis")) % len(xs[0].shape)), xs)


@handles("Cast")
def cast(n):
    x = n.tensor(0)
    if n.attr("to") != 1:
        n.refuse(f"casting to {n.attr('to')} (smelt computes in float32)")
    return None if n.refused else x


@handles("Transpose")
def transpose(n):
    x = n.value(0)
    rank = len(x.shape)
    perm = ints(n.attr("perm", range(rank - 1, -1, -1)))
    if isinstance(x, Permuted):                      # a transpose back, or another one
        x, perm, name = x.tensor, tuple(x.perm[p] for p in perm), x.name
    else:
        x, name = n.as_tensor(x), n.name
    shape = tuple(x.shape[p] for p in perm)
    if [p for p in perm if x.shape[p] != 1] == [i for i in range(rank) if x.shape[i] != 1]:
        return view(n, x, shape)              # only size-1 dims move: a view
    source = Tensor(x.node.inputs[0], x._tracer) if isinstance(x.node.op, ops.View) else None
    if source is not None and len(source.shape) == 4:
        y = shuffle(n, source, x.shape, perm)
        if y is not None:
            return view(n, y, shape)
    return Permuted(x, perm, name)           # refused unless a Softmax reads through it


def shuffle(n, x: Tensor, split: tuple, perm: tuple) -> Tensor | None:
    """The data movement of a Reshape of x to `split` and a Transpose by `perm`, when it is a
    channel shuffle or a depth-to-space (its result then only needs a view)."""
    b, c, h, w = x.shape
    if perm == (0, 2, 1, 3, 4) and len(split) == 5 and split[0] == b and \
            split[1] * split[2] == c and split[3:] == (h, w):
        return n.emit(ops.ChannelShuffle(split[1]), [x])
    if len(split) == 6 and split[0] == b and split[4:] == (h, w):
        if perm == (0, 1, 4, 2, 5, 3) and split[2] == split[3]:       # CRD: PixelShuffle
            return n.emit(ops.PixelShuffle(split[2]), [x])
        if perm == (0, 3, 4, 1, 5, 2) and split[1] == split[2]:       # DCR
            return depth_to_space(n, x, split[1], "DCR")
    return None


def depth_to_space(n, x: Tensor, r: int, mode: str) -> Tensor:
    """DCR reads channel (i * r + j) * C + c where CRD (PixelShuffle) reads
    c * r * r + i * r + j: a channel shuffle in r * r groups first makes one the other."""
    if mode == "DCR" and r > 1:
        x = n.emit(ops.ChannelShuffle(r * r), [x])
    return n.emit(ops.PixelShuffle(r), [x])


@handles("DepthToSpace")
def depth_to_space_op(n):
    x = n.tensor(0)
    mode = n.attr("mode", "DCR")
    if x is not None and len(x.shape) != 4:
        n.refuse(f"a {len(x.shape)}-D input (smelt takes N x C x H x W)")
    if mode not in ("DCR", "CRD"):
        n.refuse(f"mode={mode!r}")
    return None if n.refused else depth_to_space(n, x, int(n.attr("blocksize")), mode)


@handles("Split")
def split(n):
    x = n.tensor(0)
    if x is None:
        return None
    axis = int(n.attr("axis", 0)) % len(x.shape)
    sizes = n.const(1, "split") if n.opset >= 13 else n.attr("split")
    count = len(n.proto.output)
    if sizes is None:
        size = -(-x.shape[axis] // count)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(count)]
    if axis != 1:
        n.refuse(f"splitting along axis {axis}: smelt slices channels (axis 1)")
    if n.refused:
        return None
    starts = np.cumsum([0] + [int(s) for s in sizes])
    return [n.emit(ops.ChannelSlice(int(a), int(b)), [x]) for a, b in zip(starts, starts[1:])]


@handles("Slice")
def slice_(n):
    x = n.tensor(0)
    if x is None:
        return None
    if n.opset < 10:
        starts, ends, axes, steps = n.attr("starts"), n.attr("ends"), n.attr("axes"), None
    else:
        starts, ends, axes, steps = (n.const(i, what) for i, what in
                                     ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")))
    if n.refused:
        return None
    rank = len(x.shape)
    axes = range(len(starts)) if axes is None else [int(a) % rank for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    kept = {}
    for axis, start, end, step in zip(axes, starts, ends, steps):
        span = range(x.shape[axis])[slice(int(start), int(end), int(step))]
        if span != range(x.shape[axis]):
            kept[axis] = span
    if not kept:
        return x
    if list(kept) != [1] or kept[1].step != 1 or len(kept[1]) == 0:
        n.refuse(f"slicing {dict((a, (r.start, r.stop, r.step)) for a, r in kept.items())} "
                 f"of a tensor of shape {x.shape}: smelt slices a contiguous range of "
                 "channels (axis 1)")
        return None
    return n.emit(ops.ChannelSlice(kept[1].start, kept[1].stop), [x])


# --- padding ---------------------------------------------------------------------------------

PAD_MODES = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@handles("Pad")
def pad(n):
    x = n.tensor(0)
    mode = n.attr("mode", "constant")
    if n.opset < 11:
        pads, value = n.attr("pads", n.attr("paddings")), n.attr("value", 0.0)
    else:
        pads, value = n.const(1, "pads"), n.const(2, "constant_value")
        value = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
    axes = n.const(3, "axes") if n.opset >= 18 else None
    if pads is None:
        n.refuse("no pads given")
    if n.refused or x is None:
        return None
    rank = len(x.shape)
    axes = range(rank) if axes is None else [int(a) % rank for a in axes]
    begins, ends = [0] * rank, [0] * rank
    pads = [int(p) for p in pads]
    for i, axis in enumerate(axes):
        begins[axis], ends[axis] = pads[i], pads[i + len(axes)]
    if any(begins[:2] + ends[:2]) or rank not in (3, 4) or min(begins + ends) < 0:
        n.refuse(f"pads {pads} of a {rank}-D tensor: smelt pads the spatial dims of 3-D and "
                 "4-D tensors, by non-negative amounts")
    if mode == "constant" and value != 0:
        n.refuse(f"constant padding with {value}: smelt pads with zeros")
    if mode != "constant" and mode not in PAD_MODES:
        n.refuse(f"mode={mode!r}")
    if n.refused:
        return None
    if not any(begins + ends):
        return x
    (top, left), (bottom, right) = as_2d(begins[2:], rank - 2, 0), as_2d(ends[2:], rank - 2, 0)
    if mode != "constant":
        y = n.emit(ops.Pad(PAD_MODES[mode], (top, bottom, left, right)), [lift(n, x)])
        return unlift(n, y, rank)
    padded = Padded(lift(n, x), [top, left], [bottom, right], n.name)
    if rank == 4 and n.uses() == len(readers(n)) and \
            all(n.walk.model.graph.node[i].op_type == "Conv" for i in readers(n)):
        return padded          # every reader is a convolution: it pads for free
    return unlift(n, padded.force(n.walk), rank)


def readers(n) -> list[int]:
    """Indices of the ONNX nodes that read the node's first output."""
    out = n.proto.output[0]
    return [i for i, node in enumerate(n.walk.model.graph.node) if out in node.input]
