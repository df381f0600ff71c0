"""A digest of everything the templates read, computed without rendering them.

The C a plan produces is a pure function of smelt's own code (the templates and the Python
that lowers, emits and builds) and of what each template reads from a KernelSpec (name,
ctx, constants' names and offsets, steps' C, shapes, layouts, ...). Hashing those inputs
lets a warm compile find its cached program and binary without running Jinja at all.
Weights are not inputs: they live in the parameter blob.
"""
from __future__ import annotations

import functools
import hashlib

from pathlib import Path

import numpy as np

from .env import templates_dir


@functools.cache
def code_digest() -> str:
    """sha256 over every template and every Python file of the compiler and runtime
    packages: any edit or upgrade that could change the emitted C or the binary changes it."""
    packages = Path(__file__).resolve().parents[2]
    files = [*templates_dir().glob("*.j2"), *(packages / "compiler").rglob("*.py"),
             *(packages / "runtime").rglob("*.py")]
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.as_posix()):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def canonical(value):
    """A repr-stable form of template inputs (numpy values spelled out in full)."""
    if isinstance(value, dict):
        return tuple((k, canonical(v)) for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(value.tobytes()).hexdigest()
        return ("ndarray", str(value.dtype), value.shape, digest)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return float.hex(value)
    return value


def step_text(step) -> str:
    """The C a fused step renders to, with placeholder indices: captures its literals."""
    at = {"n": "N", "c": "C", "off": "OFF", "index": "INDEX", "operands": step.operands,
          "operand_offsets": [f"OFF_{o}" for o in step.operands],
          "param": lambda name: f"{step.prefix}_{name}",
          "seed": f"state[{step.seed.offset}]" if step.seed else None}
    return f"{type(step.op).__name__}:{step.op.c_apply('V', at)}"


def kernel_inputs(k) -> tuple:
    return (k.name, k.template, k.family, k.note, k.inplace, tuple(k.layers), tuple(k.kinds),
            canonical(k.in_shapes), canonical(k.out_shape), k.flops,
            tuple(str(lay) for lay in k.in_layouts), str(k.out_layout), canonical(k.ctx),
            tuple((c.cname, c.array.shape, c.offset, c.note) for c in k.constants),
            tuple((s.layer, s.role, s.key, s.names, s.sizes, s.offset) for s in k.state_slots),
            tuple(step_text(s) for s in k.steps), tuple(step_text(s) for s in k.prologue_steps))


def fingerprint(plan, calls: list[str], title: str, version: str, build: str) -> str:
    """Digest of the program `plan` renders to, plus `build` (flags, compiler, CPU)."""
    h = hashlib.sha256()
    for part in (code_digest(), title, version, build, plan.vector_floats,
                 plan.arena_floats, len(plan.graph.inputs), len(plan.graph.outputs),
                 tuple(calls), *(kernel_inputs(k) for k in plan.kernels)):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()
