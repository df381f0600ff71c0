"""How far Winograd moves smelt's results: each benchmark network at full size, compiled with
exact=True (direct convolution) and without (Winograd F(2x2, 3x3) where it runs), against
PyTorch in float64, same weights and input as benchmarks.run.

    python -m benchmarks.winograd_error [--nets resnet18 ...] [--isa avx2]

Prints, per network, the largest error over the largest output magnitude, and the median
and largest elementwise relative error of the outputs larger than 1% of the largest.
"""
from __future__ import annotations

import argparse

import numpy as np

from . import suite


def errors(y: np.ndarray, expected: np.ndarray) -> tuple[float, float, float]:
    diff = np.abs(y.astype(np.float64) - expected)
    scale = np.abs(expected).max()
    large = np.abs(expected) > 0.01 * scale
    relative = diff[large] / np.abs(expected[large])
    return diff.max() / scale, float(np.median(relative)), float(relative.max())


def main(argv=None) -> None:
    import torch

    import compiler
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(suite.DEFAULT_NETS))
    parser.add_argument("--isa", choices=("avx512", "avx2", "generic"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{'network':22} {'kernels':7} {'winograd':>8} {'max/scale':>10} {'median rel':>11} "
          f"{'max rel':>9}")
    for name in args.nets:
        model = suite.build(name, torch.nn, torch.cat).eval()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in
                               suite.make_weights(name, "torch", False, args.seed).items()})
        x = suite.make_input(name, 1, False, args.seed)
        with torch.no_grad():
            expected = model.double()(torch.from_numpy(x).double()).numpy()
            model.float()
        for exact in (True, False):
            m = compiler.compile(model, x.shape, exact=exact, isa=args.isa)
            count = sum(k.family == "conv2d_winograd" for k in m.plan.kernels)
            worst, median, largest = errors(m(x), expected)
            print(f"{name:22} {'exact' if exact else 'auto':7} {count:8d} {worst:10.2e} "
                  f"{median:11.2e} {largest:9.2e}", flush=True)


if __name__ == "__main__":
    main()
