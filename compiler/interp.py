"""Run a Graph with the ops' NumPy references: the test oracle, and a debugging aid."""
from __future__ import annotations

import numpy as np

from .graph import Graph
from .ops import Dropout2dTrain


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
        arity = len(node.inputs) - sum(len(f.inputs) for f in node.fused)
        y = apply(node.op, [values[id(i)] for i in node.inputs[:arity]], step)
        operands = node.inputs[arity:]
        for f in node.fused:
            taken, operands = operands[:len(f.inputs)], operands[len(f.inputs):]
            y = apply(f.op, [y] + [values[id(i)] for i in taken], step)
        values[id(node)] = y
    outputs = [values[id(n)].copy() for n in graph.outputs]
    return outputs[0] if graph.single_output else tuple(outputs)


def apply(op, args, step: int) -> np.ndarray:
    if isinstance(op, Dropout2dTrain):
        return op.reference(*args, step=step)
    return op.reference(*args)
