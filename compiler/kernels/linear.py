"""Lowering of Linear: y = x @ W.T + b over the last dimension, any rank.

linear_rows is the reference (plain loops). linear_fast packs the weight into panels of NR
vectors of output features and runs a register-tiled GEMV (batch 1-3) or micro-GEMM (more
rows); it also reads a Flatten of a channel-blocked tensor as it lies in memory, its weight
columns permuted into the blocked order when the code is generated, so the layout pass need
not insert a Reorder before a classifier head.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.shape import Flatten
from .spec import KernelSpec
from .family import Family, Layouts, nchw_only
from .util import padded_bias, parallel_if

#: output features per work item: one row of the accumulator tile lives on the stack
COLUMN_BLOCK = 64


def element_dims(out_shape) -> dict:
    """Where output element (row r of the flattened leading dims, feature o) sits in dims 0
    and 1, for fused steps that depend on them: dim 0 at r / image_rows; dim 1 at o when it
    is the features (rank 2), else at r / channel_rows % channels (rank 1: always 0)."""
    lead = out_shape[:-1]
    if len(out_shape) == 2:
        return dict(image_rows=1, channel_is_feature=True, channel_rows=1, channels=1)
    if len(out_shape) < 2:
        return dict(image_rows=1, channel_is_feature=False, channel_rows=1, channels=1)
    return dict(image_rows=math.prod(lead[1:]), channel_is_feature=False,
                channel_rows=math.prod(lead[2:]), channels=lead[1])


def linear_rows(spec: KernelSpec, target) -> None:
    op = spec.node.op
    k, n_out = op.in_features, op.out_features
    rows = math.prod(spec.out_shape[:-1])
    block = min(n_out, COLUMN_BLOCK)
    spec.template = "linear.c.j2"
    spec.constant("weight_t", op.params["weight"].T, f"{k}x{n_out} (weight transposed)")
    if "bias" in op.params:
        spec.constant("bias", op.params["bias"], f"{n_out}")
    spec.ctx = dict(
        rows=rows, inputs=k, features=n_out, has_bias="bias" in op.params,
        # work items: (row, block of `block` output features); when the features do not
        # divide into blocks, the last block's `last_block` are counted at run time
        block=block, blocks=-(-n_out // block), ragged=n_out % block != 0,
        last_block=n_out - (-(-n_out // block) - 1) * block,
        **element_dims(spec.out_shape), parallel=parallel_if(spec.flops))
    spec.note = (f"reference GEMM, rows x {block}-feature blocks, weight packed (in, out), "
                 "threads over (row, block)")


# --- fast Linear: packed weight panels, register-tiled GEMV / micro-GEMM ---------------------

#: register tiles per ISA: batch rows M -> (rows per tile MR, weight vectors per tile NR,
#: k unroll KU). A tile keeps MR*NR*KU accumulators in vector registers and loads NR*KU weight
#: vectors per step of KU inputs, each used by MR broadcast FMAs (KERNELS.md sections 0, 3).
#: Batch 1 is a GEMV bound by the weight stream: 4 vectors x 2 k-steps = 8 independent chains
#: cover the FMA latency. From MR = 4 rows on it is the micro-GEMM of the GEMM row of the
#: table (AVX-512 8x48, AVX2 4x24). M beyond the largest key takes the largest tile, with a
#: tail tile for the remaining rows.
TILES = {
    "avx512": {1: (1, 4, 2), 2: (2, 4, 1), 3: (3, 4, 1), 4: (4, 4, 1), 5: (5, 4, 1),
               6: (6, 4, 1), 7: (7, 3, 1), 8: (8, 3, 1)},
    "avx2": {1: (1, 4, 2), 2: (2, 4, 1), 3: (3, 3, 1), 4: (4, 3, 1)},
    "generic": {1: (1, 4, 2), 2: (2, 4, 1), 3: (3, 3, 1), 4: (4, 3, 1)},
}
#: rows per work item when there are many rows (the panel is reused across them)
ROW_BLOCK = 64
#: a panel (K x NR*V weights) bigger than this is walked in K chunks when several row tiles
#: reuse it, so the chunk stays in L2; partial sums wait in the output rows
PANEL_BYTES = 256 * 1024


def pick_linear_tile(isa: str, rows: int) -> tuple[int, int, int]:
    table = TILES.get(isa, TILES["generic"])
    return table[min(rows, max(table))]


def flat_source(x):
    """The 4-D tensor that `x` flattens from dim 1 on (x = Flatten(1, -1) of it), or None."""
    if not isinstance(x.op, Flatten) or len(x.shape) != 2:
        return None
    src = x.inputs[0]
    if src.op.is_view or len(src.shape) != 4 or src.shape[0] != x.shape[0]:
        return None
    return src


def runs_linear_fast(node, target, layouts: Layouts) -> bool:
    """NCHW output and fused operands; the input NCHW, or a Flatten of a 4-D channel-blocked
    tensor consumed as it lies (its weight columns are permuted into the blocked order when
    the code is generated) unless a fused step reads a view too."""
    if node.prologue or node.store is not None or layouts.out.blocked:
        return False
    if any(lay.blocked for lay in layouts.ins[1:]):
        return False
    return not layouts.ins[0].blocked or (flat_source(node.inputs[0]) is not None and
                                          not any(i.op.is_view for i in node.inputs[1:]))


def blocked_columns(weight: np.ndarray, src_shape, v: int) -> np.ndarray:
    """(out, C*H*W) weight -> (out, ceil(C/V)*H*W*V): column k' of the result multiplies
    element k' of a flattened NCHW[V]c buffer; columns of padded channels are zero."""
    n_out = weight.shape[0]
    _, c, h, w = src_shape
    cb = -(-c // v)
    padded = np.zeros((n_out, cb * v, h, w), np.float32)
    padded[:, :c] = weight.reshape(n_out, c, h, w)
    return padded.reshape(n_out, cb, v, h, w).transpose(0, 1, 3, 4, 2).reshape(n_out, -1)


def pack_panels(weight: np.ndarray, v: int, nr: int) -> np.ndarray:
    """(out, K) -> panels of NR*V output features: [group][K][NR*V] (the last group holds the
    remaining vectors), output features zero-padded to whole vectors."""
    n_out, k = weight.shape
    nb = -(-n_out // v)
    padded = np.zeros((nb * v, k), np.float32)
    padded[:n_out] = weight
    return np.concatenate([padded[g * v:(g + nr) * v].T.ravel() for g in range(0, nb, nr)])


def linear_fast(spec: KernelSpec, target) -> None:
    node, op = spec.node, spec.node.op
    weight = op.params["weight"]
    in_layout = spec.in_layouts[0]
    if in_layout.blocked:
        weight = blocked_columns(weight, flat_source(node.inputs[0]).shape, in_layout.v)
    v = target.vector_floats
    n_out, kp = weight.shape
    rows = math.prod(spec.out_shape[:-1])
    mr, nr, ku = pick_linear_tile(target.isa, rows)
    nb = -(-n_out // v)
    groups = -(-nb // nr)
    nr_last = nb - (groups - 1) * nr
    tiles = -(-rows // mr)
    tiles_per_block = min(tiles, max(1, ROW_BLOCK // mr))
    row_blocks = -(-tiles // tiles_per_block)
    chunks = 1
    if tiles_per_block > 1 and kp * nr * v * 4 > PANEL_BYTES:
        chunks = -(-kp * nr * v * 4 // PANEL_BYTES)
    kc = -(-kp // chunks)
    chunks = -(-kp // kc)
    bias = padded_bias(op, nb * v)
    last_chunk = kp - (chunks - 1) * kc
    uniform = nr_last == nr and n_out == groups * nr * v
    spec.template = "linear_fast.c.j2"
    spec.constant("weight", pack_panels(weight, v, nr),
                  f"{groups} panel{'s' * (groups > 1)} of {kp} x {nr * v} (last {nr_last * v})")
    spec.constant("bias", bias, f"{n_out} (+{nb * v - n_out} zero lanes)")
    spec.ctx = dict(
        v=v, rows=rows, inputs=kp, features=n_out,
        # the register tile: mr rows x nr vectors of output features, ku steps over the
        # inputs unrolled into separate accumulators (summed at the end)
        mr=mr, nr=nr, ku=ku,
        # weight panels [panel][input][panel_width]; all but the last are panel_floats long
        # and hold nr whole vectors of real features (full_panels of them); the last holds
        # last_panel["nr"] vectors of which last_panel["features"] are real, or is full too
        # (last_panel None)
        panels=groups, panel_width=nr * v, panel_floats=kp * nr * v,
        full_panels=groups if uniform else groups - 1,
        last_panel=None if uniform else dict(nr=nr_last, features=n_out - (groups - 1) * nr * v),
        # work items: (block of tiles_per_block row tiles, panel); with past_rows the last
        # block has fewer tiles (it stops at the last row); with row_tail the last tile has
        # only row_tail rows
        row_blocks=row_blocks, tiles_per_block=tiles_per_block,
        past_rows=row_blocks * tiles_per_block > tiles, row_tail=rows % mr,
        # the inputs in chunks of chunk_len (the last one last_chunk long, counted at run
        # time when ragged_chunks); a chunk is k_steps unrolled steps of ku, then k_rest
        # inputs one by one from rest_from
        chunks=chunks, chunk_len=kc, last_chunk=last_chunk, ragged_chunks=last_chunk != kc,
        k_steps=kc // ku, k_rest=kc % ku, rest_from=kc // ku * ku,
        **element_dims(spec.out_shape), parallel=parallel_if(spec.flops))
    reads = f"{in_layout} flattened ({kp} inputs)" if in_layout.blocked else f"{kp} inputs"
    spec.note = (f"reads {reads}; {'GEMV' if rows < 4 else 'GEMM'} tile "
                 f"{mr} row{'s' * (mr > 1)} x {nr} vectors of {v}"
                 + (f" x {ku} k-steps" if ku > 1 else "")
                 + (f", {chunks} k-chunks of {kc}" if chunks > 1 else "")
                 + ", weight panels [group][k][features], threads over (row block, panel)")


LINEAR_FAST = Family("linear_fast", runs_linear_fast, linear_fast)
LINEAR_ROWS = Family("linear_rows", nchw_only, linear_rows, reference=True)
