"""The layer graph: nodes in execution order, each with its op, inputs, shape and layer name.

`trace(model, input_shape)` runs `model.forward` on symbolic `Tensor`s; every layer call
appends a `Node` whose output shape is inferred on the spot, so a model that does not
type-check fails at the layer that breaks it.
"""
from __future__ import annotations

import copy
import threading
from typing import Iterable, Sequence

import numpy as np

from .errors import ShapeError, TraceError
from .layout import NCHW
from .limits import shape_problem
from .ops.base import Op, OpShapeError

Shape = tuple[int, ...]


def format_shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


class Node:
    """One layer call, and after planning, everything that runs in its kernel.

    The planner's decisions live here:
    - `folded`: nodes merged into this one's constants (an eval BatchNorm after a conv);
    - `fused`: elementwise nodes applied to the result before it is stored, in order. A fused
      node's `inputs` hold only its extra operands (the residual of an add); the value
      flowing through the chain is implicit. Those operands are also appended to the
      anchor's `inputs`, so `inputs` always lists everything the kernel reads;
    - `prologue`: elementwise nodes applied to input 0 as it is loaded (channel-wise, so
      padding stays zero); their operands (a channel-wise scale) follow the node's own
      inputs in `inputs`, before the fused steps' operands;
    - `store`: an index-only node (PixelShuffle) that decides where results are stored;
      `fused[:store_after]` apply before it, the rest after it;
    - `slice_of`: (cat node, float offset) when this node's output is written straight into
      a slice of a concatenation's buffer;
    - `concat_of`: the cat node whose inputs this node reads directly, as one input
      concatenated along channels (its leading inputs are then the cat's pieces).
    `shape` is always the shape of what the node finally produces.
    """

    def __init__(self, op: Op, inputs: list[Node], shape: Shape, name: str):
        self.op = op
        self.inputs = inputs
        self.shape = shape
        self.name = name
        self.folded: list[Node] = []
        self.fused: list[Node] = []
        self.prologue: list[Node] = []
        self.store: Node | None = None
        self.store_after = 0
        self.slice_of: tuple[Node, int] | None = None
        self.concat_of: Node | None = None
        self.layout = NCHW                 # physical layout of the output (compiler/layout.py)
        self.id = -1

    @property
    def layers(self) -> list[str]:
        """Qualified names of every layer this node runs, in the order they apply."""
        names = [p.name for p in self.prologue] + \
            ([self.concat_of.name] if self.concat_of is not None else []) + \
            [self.name] + [f.name for f in self.folded]
        fused = [f.name for f in self.fused]
        if self.store is not None:
            fused.insert(self.store_after, self.store.name)
        return names + fused

    @property
    def anchor_arity(self) -> int:
        """How many of `inputs` the node's own op reads; the prologue's operands, then the
        fused steps' operands follow."""
        return len(self.inputs) - sum(len(f.inputs) for f in self.fused + self.prologue)

    def __repr__(self) -> str:
        return f"%{self.id} {self.name or '<input>'}: {self.op.kind} -> {format_shape(self.shape)}"


class Graph:
    """Inputs, compute nodes in a valid execution order, and outputs."""

    def __init__(self, inputs: list[Node], nodes: list[Node], outputs: list[Node],
                 single_output: bool = True, state: dict | None = None, title: str = ""):
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
        self.single_output = single_output
        self.state = state if state is not None else {}   # the traced model's state_dict
        self.title = title                  # what the model was (its class, its file)
        self.renumber()

    def renumber(self) -> None:
        for i, node in enumerate(self.inputs + self.nodes):
            node.id = i

    def consumers(self, node: Node) -> list[Node]:
        """Nodes that read `node`, counting fused steps' extra inputs too."""
        return [n for n in self.nodes if any(i is node for i in n.inputs)]

    def fanout(self, node: Node) -> int:
        """How many times `node` is read, graph outputs included."""
        uses = sum(1 for n in self.nodes for i in n.inputs if i is node)
        return uses + sum(1 for o in self.outputs if o is node)

    def replace_uses(self, old: Node, new: Node) -> None:
        for n in self.nodes:
            n.inputs = [new if i is old else i for i in n.inputs]
            for f in n.fused:
                f.inputs = [new if i is old else i for i in f.inputs]
        self.outputs = [new if o is old else o for o in self.outputs]

    def copy(self) -> Graph:
        """A deep copy of the structure; ops are copied shallowly (passes replace arrays, never
        mutate them)."""
        memo: dict[int, Node] = {}

        def clone(node: Node) -> Node:
            if id(node) not in memo:
                new = copy.copy(node)
                new.op = copy.copy(node.op)
                memo[id(node)] = new
                new.inputs = [clone(i) for i in node.inputs]
                new.folded = [clone(f) for f in node.folded]
                new.fused = [clone(f) for f in node.fused]
                new.prologue = [clone(f) for f in node.prologue]
                new.store = clone(node.store) if node.store is not None else None
                if node.slice_of is not None:
                    new.slice_of = (clone(node.slice_of[0]), node.slice_of[1])
                if node.concat_of is not None:
                    new.concat_of = clone(node.concat_of)
            return memo[id(node)]

        return Graph([clone(n) for n in self.inputs], [clone(n) for n in self.nodes],
                     [clone(n) for n in self.outputs], self.single_output, self.state,
                     self.title)

    def __str__(self) -> str:
        ins = ", ".join(f"%{n.id}: {format_shape(n.shape)}" for n in self.inputs)
        outs = ", ".join(f"%{n.id}" for n in self.outputs)
        lines = [f"graph({ins}) -> ({outs})"]
        width = max([len(n.name) for n in self.nodes] + [4])
        for n in self.nodes:
            args = ", ".join(f"%{i.id}" for i in n.inputs)
            lines.append(f"  %{n.id:<3} {n.name:<{width}}  {n.op.describe():<48} ({args}) "
                         f"-> {format_shape(n.shape)}")
            for f in n.prologue + n.folded + n.fused + ([n.store] if n.store else []):
                lines.append(f"  {'':4} {'+ ' + f.name:<{width}}  {f.op.describe()}")
        return "\n".join(lines)

    __repr__ = __str__


class Input(Op):
    """A graph input: a placeholder with a fixed shape."""

    def __init__(self, shape: Shape):
        self.shape = shape

    def describe(self) -> str:
        return f"Input({format_shape(self.shape)})"


# --- tracing -------------------------------------------------------------------------------

_tracing = threading.local()


class Tensor:
    """A symbolic tensor seen by `forward` while tracing: it has a shape but no data."""

    __slots__ = ("node", "_tracer", "_aliases")

    def __init__(self, node: Node, tracer: Tracer, aliases: list[Tensor] | None = None):
        self.node = node
        self._tracer = tracer
        # every tensor viewing the same storage as this one (views such as Flatten join
        # their input's list), as torch's in-place ops change what all of them see
        self._aliases = [] if aliases is None else aliases
        self._aliases.append(self)

    @property
    def shape(self) -> Shape:
        return self.node.shape

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return len(self.shape)

    ndim = property(dim)

    # --- arithmetic: with a tensor (same shape, or channel-wise), or with a number ----------
    def _binary(self, other, op_name: str, scalar_kind: str, swapped: bool = False) -> Tensor:
        from .ops import eltwise
        name = self._tracer.scoped_name(op_name.lower())
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return self._tracer.emit(eltwise.ScalarOp(scalar_kind, other), [self], name)
        if not isinstance(other, Tensor):
            raise TraceError(f"{name}: expected a tensor or a number, got "
                             f"{type(other).__name__}")
        op = getattr(eltwise, op_name)()
        a, b = (other, self) if swapped else (self, other)
        if op.commutative and len(b.shape) == len(a.shape) and \
                sum(b.shape) > sum(a.shape):          # the full-size operand first
            a, b = b, a
        return self._tracer.emit(op, [a, b], name)

    def __add__(self, other):
        return self._binary(other, "Add", "add")

    def __radd__(self, other):
        return self._binary(other, "Add", "add", swapped=True)

    def __sub__(self, other):
        return self._binary(other, "Sub", "sub")

    def __rsub__(self, other):
        return self._binary(other, "Sub", "rsub", swapped=True)

    def __mul__(self, other):
        return self._binary(other, "Mul", "mul")

    def __rmul__(self, other):
        return self._binary(other, "Mul", "mul", swapped=True)

    def __truediv__(self, other):
        return self._binary(other, "Div", "div")

    def __rtruediv__(self, other):
        return self._binary(other, "Div", "rdiv", swapped=True)

    def __neg__(self):
        return self._binary(-1.0, "Mul", "mul")

    # --- shape -------------------------------------------------------------------------
    def view(self, *shape) -> Tensor:
        """The same elements in another shape (-1 for one inferred dimension), no copy."""
        from .ops.shape import Flatten, View
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
            else tuple(shape)
        name = self._tracer.scoped_name("view")
        shape = resolve_shape(name, self.shape, shape)
        if shape == self.shape:
            return self
        if len(self.shape) == 4 and shape == (self.shape[0], int(np.prod(self.shape[1:]))):
            return self._tracer.emit(Flatten(1, -1), [self], name)
        return self._tracer.emit(View(shape), [self], name)

    reshape = view

    def contiguous(self) -> Tensor:
        return self

    def mean(self, dim=None, keepdim: bool = False) -> Tensor:
        """The mean over the spatial dimensions (the last two of a 4-D or an unbatched 3-D
        tensor), as a global average pool (keepdim: N x C x 1 x 1, else N x C)."""
        from .ops.pool import AdaptiveAvgPool2d
        name = self._tracer.scoped_name("mean")
        rank = len(self.shape)
        dims = (dim,) if isinstance(dim, int) else tuple(dim) if dim is not None else ()
        if rank not in (3, 4) or sorted(d % rank for d in dims) != [rank - 2, rank - 1]:
            raise TraceError(f"{name}: only the mean over the last two dims of a 4-D (or 3-D) "
                             f"tensor is supported, got dim={dim!r} for shape {self.shape}")
        y = self._tracer.emit(AdaptiveAvgPool2d((1, 1)), [self], name)
        return y if keepdim else y.view(*self.shape[:-2])

    def split(self, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along dim 1 (channels), as torch.split: an int gives pieces of that size
        (the last one smaller), a list gives their sizes."""
        name = self._tracer.scoped_name("split")
        channels = self._channel_dim(name, dim)
        sizes = split_size_or_sections
        if isinstance(sizes, int) and not isinstance(sizes, bool) and sizes > 0:
            sizes = [min(sizes, channels - start) for start in range(0, channels, sizes)]
        elif not (isinstance(sizes, (list, tuple)) and all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)
                and sum(sizes) == channels):
            raise ShapeError(f"{name}: split sizes {split_size_or_sections!r} do not divide "
                             f"the {channels} channels of shape {self.shape}")
        return self._channel_pieces(name, list(sizes))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`chunks` pieces along dim 1 (channels) of ceil(C / chunks) channels each, the last
        smaller (and fewer pieces when they run out), as torch.chunk."""
        name = self._tracer.scoped_name("chunk")
        channels = self._channel_dim(name, dim)
        if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 1:
            raise TraceError(f"{name}: chunks must be a positive int, got {chunks!r}")
        size = -(-channels // chunks)
        return self._channel_pieces(
            name, [min(size, channels - start) for start in range(0, channels, size)])

    def _channel_dim(self, name: str, dim) -> int:
        """The number of channels, or a TraceError unless `dim` is dim 1 of a >= 2-D tensor."""
        rank = len(self.shape)
        if not isinstance(dim, int) or rank < 2 or not -rank <= dim < rank or dim % rank != 1:
            raise TraceError(f"{name}: only pieces along dim 1 (channels) are supported, got "
                             f"dim={dim!r} for shape {self.shape}")
        return self.shape[1]

    def _channel_pieces(self, name: str, sizes: list[int]) -> tuple[Tensor, ...]:
        from .ops.shape import ChannelSlice
        if len(sizes) == 1:
            return (self,)
        pieces, start = [], 0
        for i, size in enumerate(sizes):
            if size == 0:               # torch returns an empty tensor; smelt has none
                raise ShapeError(f"{name}: piece {i} would have no channels (sizes {sizes})")
            pieces.append(self._tracer.emit(ChannelSlice(start, start + size), [self],
                                            f"{name}.{i}"))
            start += size
        return tuple(pieces)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        from .ops.shape import Flatten
        return self._tracer.emit(Flatten(start_dim, end_dim), [self],
                                 self._tracer.scoped_name("flatten"))

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, node={self.node.name!r})"

    def __array__(self, *args, **kwargs):
        raise TraceError(f"{self.node.name}: a traced tensor has no values; it cannot be "
                         "converted to a numpy array inside forward")

    def __bool__(self):
        raise TraceError(f"{self.node.name}: control flow on a traced tensor's value is not "
                         "supported; forward must do the same thing for every input")


class Tracer:
    """Collects the nodes that `forward` emits and names them after the calling module."""

    def __init__(self, module_names: dict[int, str], module_paths: dict[int, list[str]]):
        self.module_names = module_names          # id -> first qualified name
        self.module_paths = module_paths          # id -> every path (a shared module has several)
        self.scope: list[str] = [""]
        self.nodes: list[Node] = []
        self.used_names: dict[str, int] = {}

    def module_name(self, module) -> str:
        name = self.module_names.get(id(module))
        return name if name is not None else f"<unnamed {type(module).__name__}>"

    def layer_name(self, kind: str) -> str:
        """The qualified name of the module being called (its class name at the root)."""
        return self.scope[-1] or kind

    def scoped_name(self, kind: str) -> str:
        """A fresh name for a function-style node (`+`, cat) inside the current module."""
        base = f"{self.scope[-1]}.{kind}" if self.scope[-1] else kind
        count = self.used_names.get(base, 0)
        self.used_names[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def emit(self, op: Op, inputs: Sequence, name: str) -> Tensor:
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TraceError(f"{name} ({op.kind}): expected a traced tensor as input, "
                                 f"got {type(t).__name__}")
            if t._tracer is not self:
                raise TraceError(f"{name} ({op.kind}): input comes from a different trace")
        shapes = [t.shape for t in inputs]
        if op.unbatched and shapes and all(len(s) == 3 for s in shapes):
            node = self.emit_unbatched(op, [t.node for t in inputs], name)
            if node is not None:
                return Tensor(node, self)
        node = Node(op, [t.node for t in inputs], self.infer(op, shapes, name), name)
        self.nodes.append(node)
        return Tensor(node, self, inputs[0]._aliases if op.is_view else None)

    def infer(self, op: Op, shapes: list[Shape], name: str, shown=None) -> Shape:
        """The op's output shape, or a ShapeError naming the layer and the input shapes
        (`shown`, if the user's shapes differ from the ones the op sees)."""
        try:
            shape = tuple(int(d) for d in op.infer_shape(*shapes))
        except OpShapeError as e:
            got = ", ".join(format_shape(s) for s in shown or shapes)
            raise ShapeError(f"{name} ({op.kind}): {e} (input shape{'s' * (len(shapes) > 1)} "
                             f"{got})") from None
        # before any pass or kernel does work in proportion to it
        if (problem := shape_problem(shape)) is not None:
            raise ShapeError(f"{name} ({op.kind}): output shape {format_shape(shape)} is too "
                             f"large: {problem}")
        return shape

    def emit_unbatched(self, op: Op, inputs: list[Node], name: str) -> Node | None:
        """An op that reads a 3-D input as one unbatched (C, H, W) image, as torch does, runs
        on a batch of one: views of its inputs as (1, C, H, W), the op, and a view of the
        result without the batch dim (views cost nothing, and a view of a view back to the
        batch of one is that batch of one, so consecutive layers stay 4-D and fuse and block
        as usual). None if the op does not take the batched shapes (a broadcast that only
        works in 3-D); then it runs on the 3-D shapes."""
        from .ops.shape import View
        shapes = [(1,) + x.shape for x in inputs]
        try:
            op.infer_shape(*shapes)
        except OpShapeError:
            try:
                op.infer_shape(*[x.shape for x in inputs])
                return None
            except OpShapeError:
                pass                        # report the batched error, on the user's shapes
        shape = self.infer(op, shapes, name, shown=[x.shape for x in inputs])
        node = Node(op, [self.batch_of_one(x) for x in inputs], shape, name)
        result = Node(View(shape[1:]), [node], shape[1:], f"{name}.unbatched")
        self.nodes += [node, result]
        return result

    def batch_of_one(self, x: Node) -> Node:
        """`x` (C, H, W) viewed as (1, C, H, W): the node it was viewed from, if it was."""
        from .ops.shape import View
        if isinstance(x.op, View) and x.inputs[0].shape == (1,) + x.shape:
            return x.inputs[0]
        view = Node(View((1,) + x.shape), [x], (1,) + x.shape, f"{x.name}.batched")
        self.nodes.append(view)
        return view

    def emit_inplace(self, op: Op, x: Tensor, name: str) -> Tensor:
        """`op` applied to `x` in place: `x` and every view of its storage now name the
        result, reshaped to their own shapes, so later uses see the new values as in torch."""
        return self.overwrite(x, self.emit(op, [x], name), name)

    def overwrite(self, x: Tensor, y: Tensor, name: str) -> Tensor:
        """`x` and every view of its storage now name `y`'s values (an in-place op of torch's
        whose result `y` was emitted), each in its own shape."""
        from .ops.shape import View
        for t in x._aliases:
            if t is x or t.shape == y.shape:
                t.node = y.node
            else:
                t.node = self.emit(View(t.shape), [y], f"{name}.view").node
        return x


def resolve_shape(name: str, have: Shape, shape: tuple) -> Shape:
    """`shape` with its one -1 worked out so that it holds as many elements as `have`."""
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape) or \
            sum(d == -1 for d in shape) > 1 or any(d < -1 for d in shape):
        raise TraceError(f"{name}: {shape} is not a shape (ints, at most one -1)")
    total, known = int(np.prod(have)), int(np.prod([d for d in shape if d != -1]))
    if -1 in shape:
        if known == 0 or total % known:
            raise ShapeError(f"{name}: cannot view a tensor of shape {have} as {shape}")
        shape = tuple(total // known if d == -1 else d for d in shape)
    if int(np.prod(shape)) != total:
        raise ShapeError(f"{name}: cannot view a tensor of shape {have} as {shape}")
    return tuple(shape)


def current_tracer() -> Tracer | None:
    return getattr(_tracing, "tracer", None)


def normalize_input_shapes(input_shape) -> tuple[list[Shape], bool]:
    """`(1, 3, 8, 8)` -> one input; `[(1, 3, 8, 8), (1, 4)]` -> several.
    Returns (shapes, several)."""
    def as_shape(s) -> Shape:
        if not isinstance(s, (tuple, list)) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in s):
            raise TypeError("input_shape must be a tuple of ints or a list of such tuples, "
                            f"got {s!r}")
        if any(d <= 0 for d in s):
            raise ValueError(f"input_shape {tuple(s)} has a dimension <= 0")
        if (problem := shape_problem(s)) is not None:
            raise ShapeError(f"input_shape {tuple(s)} is too large: {problem}")
        return tuple(s)

    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return [as_shape(s) for s in input_shape], True
    return [as_shape(input_shape)], False


def trace(model, input_shape) -> Graph:
    """Run `model.forward` on symbolic tensors of `input_shape` and return the layer graph."""
    from .nn.module import Module
    if not isinstance(model, Module):
        raise TypeError(f"trace expects a compiler.nn.Module, got {type(model).__name__}")
    shapes, _ = normalize_input_shapes(input_shape)
    if current_tracer() is not None:
        raise TraceError("trace() cannot be called from inside a forward being traced")
    paths: dict[int, list[str]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        paths.setdefault(id(m), []).append(name)
    tracer = Tracer({m_id: names[0] for m_id, names in paths.items()}, paths)
    inputs = [Node(Input(s), [], s, f"input{i}" if len(shapes) > 1 else "input")
              for i, s in enumerate(shapes)]
    _tracing.tracer = tracer
    try:
        result = model(*[Tensor(n, tracer) for n in inputs])
    finally:
        _tracing.tracer = None
    single = isinstance(result, Tensor)
    results = [result] if single else result
    if not isinstance(results, (tuple, list)) or not results or not all(
            isinstance(r, Tensor) for r in results):
        raise TraceError(f"{type(model).__name__}.forward must return a tensor or a tuple of "
                         f"tensors, got {type(result).__name__}")
    outputs = [r.node for r in results]
    state = model.state_dict()      # the arrays themselves; compile() snapshots them once
    return Graph(inputs, live_nodes(tracer.nodes, outputs), outputs, single, state,
                 type(model).__name__)


def live_nodes(nodes: Iterable[Node], outputs: list[Node]) -> list[Node]:
    """The nodes the outputs depend on, in their original order (dead branches dropped).
    A node that updates state (a train BatchNorm's running statistics) is live even if
    nothing reads its result: torch updates the statistics all the same."""
    nodes = list(nodes)
    live: set[int] = set()
    stack = list(outputs) + [n for n in nodes if n.op.state_key is not None]
    while stack:
        n = stack.pop()
        if id(n) not in live:
            live.add(id(n))
            stack.extend(n.inputs)
    return [n for n in nodes if id(n) in live]
