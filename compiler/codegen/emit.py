"""Plan -> C program (one readable source, split into translation units for a parallel build),
the cffi declarations, and the constant blobs."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from runtime.arrays import aligned_zeros, run_balanced
from ..ops.eltwise import SELU_ALPHA, SELU_SCALE
from .env import render
from .frame import entry_extras, entry_signature, kernel_call, kernel_signature, kernel_source

#: the function that runs a whole model
ENTRY = "smelt_forward"



@dataclass
class Program:
    params: np.ndarray           # float32 blob every kernel's constants live in (64-byte aligned)
    state: np.ndarray            # float64 blob of mutable state (running statistics, seeds)
    state_slots: dict            # state_dict prefix -> StateSlot (with its offset)
    calls: list[str]             # the entry point's kernel calls, in order
    entry_extras: list[str]      # what the entry point takes after its arrays
    cdef: str                    # declarations for cffi
    source: str = ""             # the whole C program, as the user reads it (m.source)
    units: list[str] = field(default_factory=list)   # the same, split for a parallel build


def layout_constants(kernels) -> np.ndarray:
    """Give every constant a 64-byte aligned offset in one float32 blob, and fill it."""
    offset = 0
    for k in kernels:
        for c in k.constants:
            c.offset = offset
            offset += -(-c.array.size // 16) * 16
    blob = aligned_zeros(max(offset, 16))
    constants = [c for k in kernels for c in k.constants]
    run_balanced([functools.partial(np.copyto, blob[c.offset:c.offset + c.array.size]
                                    .reshape(c.array.shape), c.array) for c in constants],
                 [4 * c.array.size for c in constants])
    return blob


def layout_state(kernels) -> tuple[np.ndarray, dict]:
    """One float64 region per stateful module, shared by every kernel that calls it."""
    slots, values, offset = {}, [], 0
    for k in kernels:
        for slot in k.state_slots:
            if slot.key in slots:
                first = slots[slot.key]
                if (first.role, first.names, first.sizes) != (slot.role, slot.names, slot.sizes):
                    raise ValueError(f"{k.name}: state {slot.key!r} laid out twice differently")
                slot.offset = first.offset
                continue
            slot.offset = offset
            slots[slot.key] = slot
            for size, initial in zip(slot.sizes, slot.initial):
                values.append(np.asarray(initial, np.float64).reshape(size))
                offset += size
    state = np.concatenate(values) if values else np.zeros(1, np.float64)
    return state, slots


def prepare(plan) -> Program:
    """Everything but the C text: blobs, offsets, the entry point's calls, cffi declarations."""
    kernels = plan.kernels
    params = layout_constants(kernels)
    state, slots = layout_state(kernels)
    calls = [kernel_call(k, [plan.storage_of(i).c_expr() for i in k.node.inputs],
                         plan.storage_of(k.node).c_expr()) for k in kernels]
    n_in, n_out = len(plan.graph.inputs), len(plan.graph.outputs)
    extras = entry_extras(kernels, plan.arena_floats)
    cdef = "\n".join([kernel_signature(k, restrict=False) + ";" for k in kernels] +
                     [entry_signature(ENTRY, n_in, n_out, extras, restrict=False) + ";"])
    return Program(params, state, slots, calls, extras, cdef)


def split(kernels, parts: int) -> list[list]:
    """Kernels dealt into `parts` groups of similar source size (gcc time grows with it)."""
    groups = [[] for _ in range(max(1, min(parts, len(kernels))))]
    sizes = [0] * len(groups)
    for k in sorted(kernels, key=lambda k: -len(k.source)):
        i = sizes.index(min(sizes))
        groups[i].append(k)
        sizes[i] += len(k.source)
    return [sorted(g, key=kernels.index) for g in groups]


def render_common(plan, title: str, version: str) -> str:
    """The program's opening: what it is, includes, vector types and the shared helpers."""
    kernels = plan.kernels
    return render("common.h.j2", version=version, title=title, kernel_count=len(kernels),
                  vector_floats=max(4, plan.vector_floats),
                  total_mflops=sum(k.flops for k in kernels) / 1e6,
                  selu_scale=SELU_SCALE, selu_alpha_scale=float(
                      np.float32(SELU_ALPHA) * np.float32(SELU_SCALE))).strip("\n")


def render_program(plan, program: Program, title: str, version: str) -> None:
    """Run the templates: each kernel's source, the whole program, and its build units."""
    kernels = plan.kernels
    for k in kernels:
        k.source = kernel_source(k)
    n_in, n_out = len(plan.graph.inputs), len(plan.graph.outputs)
    common = render_common(plan, title, version)

    def unit(members, entry: bool, prototypes: bool) -> str:
        return render("model.c.j2", common=common, kernels=members, calls=program.calls,
                      arena_floats=plan.arena_floats,
                      prototypes=[kernel_signature(k) for k in kernels
                                  if k not in members] if prototypes else [],
                      entry=entry_signature(ENTRY, n_in, n_out, program.entry_extras)
                      if entry else "")

    program.source = unit(kernels, entry=True, prototypes=False)
    groups = split(kernels, parts=min(4, os.cpu_count() or 1) if len(kernels) >= 8 else 1)
    program.units = [unit(g, entry=(i == len(groups) - 1), prototypes=len(groups) > 1)
                     for i, g in enumerate(groups)]
