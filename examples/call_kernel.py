"""Compile a network, then call one of its generated C kernels directly on numpy arrays.

    python examples/call_kernel.py
"""
import numpy as np

import compiler
from compiler import nn


def main():
    compiler.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.Sigmoid(),
    ).eval()
    m = compiler.compile(net, (2, 3, 16, 16))
    for k in m.kernels:
        print(f"{k.name:24} {' + '.join(k.layers):28} in {k.in_shapes} {k.in_layouts} -> "
              f"out {k.out_shape} {k.out_layout}")

    # The first kernel is conv + batchnorm + relu fused into one C function. Inside the
    # model tensors may be channel-blocked (N, C/16, H, W, 16): k.in_shapes / k.out_shape
    # are the arrays as the kernel reads and writes them, k.from_nchw / k.to_nchw convert.
    first = m.kernels[0]
    x = np.random.default_rng(0).standard_normal(first.logical_in_shapes[0], dtype=np.float32)
    out = np.empty(first.out_shape, np.float32)
    first(first.from_nchw(x), out)                 # k(inputs..., out), checked before C runs

    # Check it against the NumPy reference of the same three layers.
    head = nn.Sequential(*list(net)[:3])
    expected = compiler.interp.run(compiler.trace(head, x.shape), x)
    error = np.abs(first.to_nchw(out) - expected).max()
    print(f"\n{first.name}: max |C - NumPy| = {error:.2e}")
    print("\nIts C source:\n")
    print(first.source)


if __name__ == "__main__":
    main()
