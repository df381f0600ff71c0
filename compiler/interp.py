"""Run a Graph with the ops' NumPy references: the test oracle, and a debugging aid."""
from __future__ import annotations

import numpy as np

from .graph import Graph


def run(graph: Graph, *inputs: np.ndarray, step: int = 0):
    """Evaluate `graph` (traced or planned, fused nodes included) on numpy inputs.

    `step` is the call number that seeds Dropout2d masks, as in the compiled model."""
    if len(inputs) != len(graph.inputs):
        raise TypeError(f"the graph takes {len(graph.inputs)} inputs, got {len(inputs)}")
    values = {}
    for node, x in zip(graph.inputs, inputs):
        x = np.asarray(x, dtype=np.float32)
        if x.shape != node.shape:
            raise ValueError(f"input {node.name}: expected shape {node.shape}, got {x.shape}")
        values[id(node)] = x
    for node in graph.nodes:
        values[id(node)] = run_node(node, values, step)
    outputs = [values[id(n)].copy() for n in graph.outputs]
    return outputs[0] if graph.single_output else tuple(outputs)


def run_node(node, values: dict, step: int) -> np.ndarray:
    """One node with everything the planner merged into it: prologue, op, epilogue, store."""
    args = [values[id(i)] for i in node.inputs[:node.anchor_arity]]
    if node.concat_of is not None:                 # the leading inputs are a cat's pieces
        args = [np.concatenate(args, axis=node.concat_of.op.dim)]
    operands = node.inputs[node.anchor_arity:]
    for p in node.prologue:
        taken, operands = operands[:len(p.inputs)], operands[len(p.inputs):]
        args[0] = apply(p.op, [args[0]] + [values[id(i)] for i in taken], step)
    y = apply(node.op, args, step)
    for position, f in enumerate(node.fused):
        if node.store is not None and position == node.store_after:
            y = apply(node.store.op, [y], step)
        taken, operands = operands[:len(f.inputs)], operands[len(f.inputs):]
        y = apply(f.op, [y] + [values[id(i)] for i in taken], step)
    if node.store is not None and node.store_after == len(node.fused):
        y = apply(node.store.op, [y], step)
    return y


def apply(op, args, step: int) -> np.ndarray:
    if op.random:
        return op.reference(*args, step=step)
    return op.reference(*args)
