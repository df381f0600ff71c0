"""What the planner does to each example network: kernels before and after fusion, and the
arena against the tensors it holds.

    python -m benchmarks.plan_summary [--nets resnet18 small_unet]

Per network at its benchmark size (tests/nets.py, batch 1, eval mode), planned for this
machine without building anything: kernels with fuse=False and fuse=True, copy kernels left
in the fused plan (Copy, Cat or Reorder), the fused arena, the sum of every intermediate tensor the unfused plan
materialises (what a framework allocating each layer's output would hold), and twice the
largest (input + output) of any one fused kernel (issue 3's bound for the arena).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import compiler  # noqa: E402
from compiler.planner import plan  # noqa: E402
from compiler.target import Target  # noqa: E402
from tests.nets import NETWORKS  # noqa: E402

MIB = 1024 * 1024


def nbytes(shape) -> int:
    return 4 * int(np.prod(shape))


def summarize(name: str, target: Target) -> dict:
    compiler.manual_seed(0)
    model = NETWORKS[name].build(compiler.nn, compiler.cat, full=True).eval()
    graph = compiler.trace(model, NETWORKS[name].full_shape)
    unfused = plan(graph, fuse=False, target=target)
    fused = plan(graph, fuse=True, target=target)
    outputs = {id(n) for n in unfused.graph.outputs}
    intermediates = sum(nbytes(k.node.shape) for k in unfused.kernels
                        if id(k.node) not in outputs and not k.node.op.is_view)
    largest_io = max(sum(nbytes(s) for s in k.in_physical) + nbytes(k.out_physical)
                     for k in fused.kernels)
    return {"net": name, "unfused": len(unfused.kernels), "fused": len(fused.kernels),
            "copies": sum(bool(set(k.kinds) & {"Copy", "Cat", "Reorder"}) for k in fused.kernels),
            "arena": fused.arena_bytes, "intermediates": intermediates,
            "bound": 2 * largest_io}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="*", default=list(NETWORKS))
    args = parser.parse_args()
    target = Target.detect()
    print("| network | kernels unfused | kernels fused | copy kernels | arena MiB "
          "| sum of intermediates MiB | 2 x largest kernel I/O MiB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.nets:
        r = summarize(name, target)
        print(f"| {name} | {r['unfused']} | {r['fused']} | {r['copies']} "
              f"| {r['arena'] / MIB:.2f} | {r['intermediates'] / MIB:.2f} "
              f"| {r['bound'] / MIB:.2f} |")


if __name__ == "__main__":
    main()
