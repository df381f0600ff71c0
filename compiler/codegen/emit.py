"""Plan -> one C translation unit, the cffi declarations, and the constant blobs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ops.eltwise import SELU_ALPHA, SELU_SCALE
from .env import render

KERNEL_ARGS = "const float *params, double *state, uint64_t step, int nthreads"


@dataclass
class Program:
    source: str                  # the C the user reads (m.source)
    cdef: str                    # declarations for cffi
    params: np.ndarray           # float32 blob every kernel's constants live in
    state: np.ndarray            # float64 blob of mutable state (running statistics)
    state_slots: dict            # state_dict prefix -> StateSlot (with its offset)


def kernel_signature(spec) -> str:
    ins = "".join(f"const float *in{i}, " for i in range(len(spec.in_shapes)))
    return f"void {spec.name}({ins}float *out, {KERNEL_ARGS})"


def entry_signature(n_in: int, n_out: int, restrict: bool) -> str:
    r = "restrict " if restrict else ""
    ins = ", ".join(f"const float *{r}in{i}" for i in range(n_in))
    outs = ", ".join(f"float *{r}out{j}" for j in range(n_out))
    return (f"{ins}, {outs}, const float *{r}params, double *{r}state, float *{r}arena, "
            "uint64_t step, int nthreads")


def layout_constants(kernels) -> np.ndarray:
    """Give every constant a 64-byte aligned offset in one float32 blob."""
    chunks, offset = [], 0
    for k in kernels:
        for c in k.constants:
            c.offset = offset
            size = -(-c.array.size // 16) * 16
            chunk = np.zeros(size, np.float32)
            chunk[:c.array.size] = c.array.ravel()
            chunks.append(chunk)
            offset += size
    return np.concatenate(chunks) if chunks else np.zeros(16, np.float32)


def layout_state(kernels) -> tuple[np.ndarray, dict]:
    """One float64 region per stateful module, shared by every kernel that calls it."""
    slots, values, offset = {}, [], 0
    for k in kernels:
        for slot in k.state_slots:
            if slot.key in slots:
                slot.offset = slots[slot.key].offset
                continue
            slot.offset = offset
            slots[slot.key] = slot
            for size, initial in zip(slot.sizes, slot.initial):
                values.append(np.asarray(initial, np.float64).reshape(size))
                offset += size
    state = np.concatenate(values) if values else np.zeros(1, np.float64)
    return state, slots


def emit(plan, title: str, version: str) -> Program:
    kernels = plan.kernels
    params = layout_constants(kernels)
    state, slots = layout_state(kernels)
    for k in kernels:
        k.source = render(k.template, k=k).strip("\n")
    calls = []
    for k in kernels:
        args = [plan.storage_of(i).c_expr() for i in k.node.inputs]
        args += [plan.storage_of(k.node).c_expr(), "params", "state", "step", "nthreads"]
        calls.append(f"{k.name}({', '.join(args)})")
    n_in, n_out = len(plan.graph.inputs), len(plan.graph.outputs)
    common = render("common.h.j2", version=version, title=title, kernel_count=len(kernels),
                    vector_floats=max(4, plan.vector_floats),
                    total_mflops=sum(k.flops for k in kernels) / 1e6,
                    selu_scale=SELU_SCALE, selu_alpha_scale=float(
                        np.float32(SELU_ALPHA) * np.float32(SELU_SCALE)))
    source = render("model.c.j2", common=common.strip("\n"), kernels=kernels, calls=calls,
                    arena_floats=plan.arena_floats,
                    entry_args=entry_signature(n_in, n_out, restrict=True))
    cdef = "\n".join([kernel_signature(k) + ";" for k in kernels] +
                     [f"void smelt_forward({entry_signature(n_in, n_out, restrict=False)});"])
    return Program(source, cdef, params, state, slots)
