"""Compile a small residual CNN classifier to native code, run it, and look inside.

    python examples/classifier.py
"""
import time

import numpy as np

import compiler
from compiler import nn


class Block(nn.Module):
    """conv -> bn -> relu, plus the input (a residual block)."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x))) + x


def main():
    compiler.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
        Block(16), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        Block(32),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10), nn.Softmax(dim=1),
    ).eval()

    start = time.perf_counter()
    m = compiler.compile(net, (1, 3, 32, 32))
    print(f"compiled in {time.perf_counter() - start:.2f} s "
          f"({len(m.kernels)} kernels, cache: {m.library_path.parent})\n")
    print(m.plan, "\n")

    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32), dtype=np.float32)
    probs = m(x)
    reference = compiler.interp.run(compiler.trace(net, x.shape), x)
    print("class probabilities:", np.round(probs[0], 3))
    print(f"max difference from the NumPy reference: {np.abs(probs - reference).max():.2e}\n")

    k = m.kernels[2]
    print(f"kernel {k.name} runs {' + '.join(k.layers)} ({k.flops / 1e6:.2f} MFLOP):\n")
    print(k.source)


if __name__ == "__main__":
    main()
