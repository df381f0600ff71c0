"""KernelSpec: everything a template needs to emit one C function.

A kernel family's lowering (compiler/kernels/family.py) fills in the template name, its
literal context and constants.

Conventions every template keeps:
- sizes, strides and offsets are literals from `spec.ctx`; tables are `static const`;
- the fused epilogue runs at the store: `k.epilogue(v, n=, c=, off=)` with the element's
  batch index, channel index and offset in the *output's* physical layout (fused operands
  always share the output's layout);
- a blocked tensor is (N, ceil(C/V), H, W, V) and its padded lanes (channel >= C) are zero:
  every blocked kernel stores zeros there, and may rely on reading zeros there;
- parallel loops: `num_threads(nthreads) if(<ctx.parallel>)`, no shared writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..codegen.cexpr import lift
from ..codegen.frame import extra_args
from ..codegen.steps import apply_steps
from ..graph import Node
from ..layout import Layout, offset, physical_shape
from ..ops.base import Op, numel

Shape = tuple[int, ...]


@dataclass
class StateSlot:
    """Float64 state kept by the compiled model: BatchNorm running statistics (shared by every
    call of a module) and dropout seeds (so the C source does not depend on them). A kernel
    may hold several; templates find one by (layer, role), never by its position."""

    layer: str                   # the node it belongs to (the kernel's anchor or a fused step)
    role: str                    # what it holds for that layer: "running_stats", "seed"
    key: str                     # state_dict prefix, e.g. "features.1" ("" for a root module)
    names: tuple[str, ...]       # e.g. ("running_mean", "running_var", "num_batches_tracked")
    sizes: tuple[int, ...]
    initial: tuple[np.ndarray, ...]
    aliases: tuple[str, ...] = ()   # further prefixes of the same (shared) module
    offset: int = -1


@dataclass
class Step:
    """One elementwise op applied to a kernel's result before it is stored."""

    op: Op
    operands: list[str]          # C pointers of its extra inputs (the residual of an add)
    prefix: str                  # C name prefix of its constants
    seed: StateSlot | None = None   # where a random op's seed lives (read at run time)


@dataclass
class Constant:
    """An array packed into the model's parameter blob, read by one kernel."""

    cname: str
    array: np.ndarray
    note: str
    offset: int = -1             # float index in the blob, set when the blob is laid out


@dataclass
class KernelSpec:
    name: str                    # C function name, e.g. k003_features_3
    node: Node
    in_shapes: list[Shape]
    out_shape: Shape
    template: str = ""
    ctx: dict = field(default_factory=dict)
    constants: list[Constant] = field(default_factory=list)
    state_slots: list[StateSlot] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    prologue_steps: list[Step] = field(default_factory=list)   # applied to in0 as loaded
    family: str = ""             # which lowering produced it (for the plan and tests)
    in_place_ok: bool = False    # its family may write out over in0 (the memory plan decides)
    note: str = ""               # one line for the header: layout, tiling, threading
    source: str = ""             # the rendered C function
    inplace: bool = False        # out aliases in0 (set by the memory plan): no `restrict`

    @property
    def layers(self) -> list[str]:
        return self.node.layers

    @property
    def in_layouts(self) -> list[Layout]:
        return [i.layout for i in self.node.inputs]

    @property
    def out_layout(self) -> Layout:
        return self.node.layout

    @property
    def in_physical(self) -> list[tuple]:
        """The shapes of the input arrays as they sit in memory (blocked or not). A view of a
        blocked tensor (a Flatten that a Linear reads as it lies) is its source's blocked
        buffer, flattened after dim 0: (N, C/V*H*W*V)."""
        shapes = []
        for i in self.node.inputs:
            src = i
            while src.op.is_view and src.layout.blocked:
                src = src.inputs[0]
            phys = physical_shape(src.shape, src.layout)
            shapes.append(phys if src is i else (phys[0], numel(phys[1:])))
        return shapes

    @property
    def out_physical(self) -> tuple:
        return physical_shape(self.out_shape, self.node.layout)

    @property
    def any_blocked(self) -> bool:
        return self.out_layout.blocked or any(lay.blocked for lay in self.in_layouts)

    @property
    def kinds(self) -> list[str]:
        """Op kinds in the order they apply, like `layers`."""
        n = self.node
        kinds = [p.op.kind for p in n.prologue] + (["Cat"] if n.concat_of is not None else []) + \
            [n.op.kind] + [f.op.kind for f in n.folded]
        fused = [f.op.kind for f in n.fused]
        if n.store is not None:
            fused.insert(n.store_after, n.store.op.kind)
        return kinds + fused

    @property
    def flops(self) -> int:
        total = self.node.op.flops(self.in_shapes[:self.anchor_arity], self.out_shape)
        total += sum(p.op.flops([self.in_shapes[0]], self.in_shapes[0]) for p in self.node.prologue)
        return total + sum(f.op.flops([self.out_shape], self.out_shape) for f in self.node.fused)

    @property
    def anchor_arity(self) -> int:
        """Inputs of the main op; fused steps' operands follow them."""
        return self.node.anchor_arity

    def constant(self, cname: str, array: np.ndarray, note: str = "") -> str:
        """A float32 array the kernel reads as `cname` (any view: it is copied into the blob)."""
        self.constants.append(Constant(cname, np.asarray(array, dtype=np.float32), note))
        return cname

    def add_state(self, slot: StateSlot) -> StateSlot:
        if any(s.key == slot.key for s in self.state_slots):
            raise ValueError(f"{self.name}: two state slots for {slot.key!r}")
        self.state_slots.append(slot)
        return slot

    def state_offset(self, role: str, layer: str | None = None) -> int:
        """Where the one slot of `layer` (default: the kernel's own node) for `role` starts in
        the state array, once laid out: `state + {{ k.state_offset("running_stats") }}`."""
        layer = self.node.name if layer is None else layer
        found = [s for s in self.state_slots if (s.layer, s.role) == (layer, role)]
        if len(found) != 1 or found[0].offset < 0:
            raise KeyError(f"{self.name}: no single laid-out {role} state slot for {layer!r}")
        return found[0].offset

    def epilogue(self, v: str, n, c, off, h=None, w=None) -> str:
        """C statements applying every fused step to the float variable `v`, the result
        element at offset `off` of the output, (n, c, h, w) its coordinates (index
        expressions). An operand in another layout than the output (only where a family
        allows it) is indexed from the coordinates."""
        return apply_steps(self, self.steps, v, n, c, off, h, w)

    def prologue(self, v: str, n, c) -> str:
        """C statements applying the load prologue (channel-wise ops) to the input value `v`."""
        return apply_steps(self, self.prologue_steps, v, n, c, None)

    def out_offset(self, n, c, h, w):
        """Where the kernel's result element (n, c, h, w) goes in `out`: its offset in the
        output's layout, after the store pattern (a PixelShuffle(r) moves channel c of
        pixel (h, w) to channel c / r^2 of pixel (h*r + c / r % r, w*r + c % r))."""
        if self.node.store is None:
            return offset(self.out_layout, self.out_shape, n, c, h, w)
        r = self.node.store.op.r
        c = lift(c)
        return offset(self.out_layout, self.out_shape, n, c // (r * r), lift(h) * r + c // r % r,
                      lift(w) * r + c % r)

    def in_offset(self, index: int, n, c, h, w):
        """The offset of element (n, c, h, w) of input `index` in its own layout."""
        return offset(self.in_layouts[index], self.in_shapes[index], n, c, h, w)

    def add_step(self, op: Op, operands: list[str], prefix: str, name: str, first=False,
                 prologue=False) -> None:
        """Apply elementwise `op` in this kernel's epilogue (first, or after the others), or in
        its load prologue: its constants join the kernel's, a random op's seed gets a state
        slot."""
        seed = None
        if op.random:
            seed = self.add_state(StateSlot(
                layer=name, role="seed", key=f"{self.name}.{prefix}",
                names=("seed",), sizes=(1,), initial=(np.array([op.seed], np.float64),)))
        step = Step(op, operands, prefix, seed)
        steps = self.prologue_steps if prologue else self.steps
        steps.insert(0, step) if first else steps.append(step)
        for pname, array in op.params.items():
            self.constant(f"{prefix}_{pname}", array, f"{name} {pname}")

    @property
    def call_args(self) -> list[str]:
        """What the kernel takes after its arrays (params, state, step, nthreads; see
        compiler/codegen/frame.py)."""
        return extra_args(self)

    @property
    def uses_step(self) -> bool:
        """A random op draws from this call's number (dropout masks)."""
        return any(s.seed is not None for s in self.steps + self.prologue_steps)

    @property
    def parallel(self) -> bool:
        """The kernel spreads its loop over threads (the lowering decides, by its work)."""
        return bool(self.ctx.get("parallel"))

    @property
    def out_numel(self) -> int:
        return numel(self.out_shape)
