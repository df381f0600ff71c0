"""The C of a kernel's fused steps: each elementwise op's expression, applied to one element,
with its operands indexed in their own layouts."""
from __future__ import annotations

from ..layout import offset
from ..ops.base import numel
from .cexpr import atom, lift


def operand_offset(spec, name: str, off, n, c, h, w):
    """The offset of the element the epilogue is at in fused operand `name` (in<i>)."""
    index = int(name[2:])
    layout, shape = spec.in_layouts[index], spec.in_shapes[index]
    if not layout.blocked and numel(shape) == numel(spec.out_shape):
        # an NCHW operand that is a view (an add fused through a Flatten) lists its
        # elements in the order of the NCHW output: index it by the output's shape
        shape = spec.out_shape
    if layout == spec.out_layout and shape == spec.out_shape:
        return off
    if len(shape) == len(spec.out_shape) and shape != spec.out_shape and \
            all(d == 1 for d in shape[2:]):
        return broadcast_offset(layout, shape, n, c)
    if h is None or w is None:
        raise ValueError(f"{spec.name}: operand {name} is {layout} but the output is "
                         f"{spec.out_layout}, and the template gives no coordinates")
    if not layout.blocked and spec.out_layout.blocked:
        c = clamped(c, shape[1])
    return offset(layout, shape, n, c, h, w)


def apply_steps(spec, steps: list, v: str, n, c, off, h=None, w=None) -> str:
    """C statements applying `steps` (a kernel's fused epilogue, or with `off` None its load
    prologue, whose operands are channel-wise) to the float variable `v`: each is its op's C
    expression (`c_apply`) for the element at (n, c, h, w), offset `off` in the output (index
    expressions)."""
    lines = []
    for step in steps:
        index = logical_index(spec, off, n, c, h, w) if step.op.position_dependent else None
        offsets = [operand_offset(spec, o, off, n, c, h, w) if off is not None else
                   broadcast_offset(spec.in_layouts[int(o[2:])], spec.in_shapes[int(o[2:])],
                                    n, c)
                   for o in step.operands]
        at = {"n": n, "c": c, "off": off, "index": index, "operands": step.operands,
              "operand_offsets": offsets,
              "param": lambda name, prefix=step.prefix: f"{prefix}_{name}",
              "seed": f"(uint64_t)state[{step.seed.offset}]" if step.seed else None}
        lines.append(f"{v} = {step.op.c_apply(v, at)};")
    return "\n".join(lines)


def logical_index(spec, off, n, c, h, w):
    """The element's index in its tensor's logical (row-major NCHW) order, whatever the
    output's layout: `off` itself in NCHW; for a blocked (N, C/V, H, W, V) output, from the
    channel and the pixel (h, w, or the pixel the offset holds)."""
    if spec.node.store is not None:
        raise ValueError(f"{spec.name}: a store pattern moves the element away from its "
                         "logical index (fuse_pixel_shuffle keeps such steps out)")
    if not spec.out_layout.blocked:
        return off
    channels, height, width = spec.out_shape[1:]
    pixel = lift(h) * width + w if h is not None and w is not None else \
        lift(off) // spec.out_layout.v % (height * width)
    return (lift(n) * channels + c) * (height * width) + pixel


def broadcast_offset(layout, shape, n, c):
    """The offset of the element a channel-wise operand (N or 1, C or 1, 1, ...) holds for
    batch n and channel c of the output. A padded lane of a blocked result (c >= C, zeroed
    afterwards) reads the last channel of an NCHW operand, never past its end."""
    n, c = (lift(n) if shape[0] > 1 else 0), (lift(c) if shape[1] > 1 else 0)
    if layout.blocked:
        return offset(layout, shape, n, c, 0, 0)
    return lift(n) * shape[1] + clamped(c, shape[1])


def clamped(c, channels: int):
    """Channel index `c`, or the last channel where `c` may reach past it (a padded lane of a
    blocked result, zeroed afterwards, reading an NCHW operand): as far as the loop ranges
    tell, it never reads past the operand's end."""
    c = lift(c)
    most = c.const
    for name, coef in c.terms.items():
        if name not in c.ranges:
            most = None
            break
        first, stop = c.ranges[name]
        most += max(coef * first, coef * (stop - 1))
    if most is not None and most < channels:
        return c
    return atom(f"(({c}) < {channels} ? ({c}) : {channels - 1})")
