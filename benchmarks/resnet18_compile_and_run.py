"""ResNet-18 at 1x3x224x224: compile time (cold and warm cache) and run time vs PyTorch eager.

    python benchmarks/resnet18_compile_and_run.py [--threads 2] [--repeats 20]

1. cold: a new process compiles into a fresh, empty $SMELT_CACHE_DIR (C compiler runs);
2. warm: another new process compiles the same model from that cache (no C compiler);
3. here: the compiled model's output is checked against torch eager (same weights through
   state_dict), then both are timed: median of `repeats` calls after two warm-up calls,
   smelt with `threads` OpenMP threads, torch with torch.set_num_threads(threads).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPE = (1, 3, 224, 224)


def smelt_resnet18():
    import compiler
    from tests.nets import resnet18
    compiler.manual_seed(0)
    return resnet18(compiler.nn, compiler.cat).eval()


def time_compile() -> None:
    """Child process: report how long compiler.compile takes and whether it built anything."""
    import compiler
    from runtime import cache
    model = smelt_resnet18()
    start = time.perf_counter()
    compiler.compile(model, SHAPE)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "builds": cache.stats["builds"],
                      "disk_hits": cache.stats["disk_hits"]}))


def compile_in_new_process(cache_dir: str) -> dict:
    env = dict(os.environ, SMELT_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, __file__, "--child-compile"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_seconds(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--child-compile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_compile:
        return time_compile()

    with tempfile.TemporaryDirectory(prefix="smelt-bench-cache-") as cache_dir:
        cold = compile_in_new_process(cache_dir)
        warm = compile_in_new_process(cache_dir)
        os.environ["SMELT_CACHE_DIR"] = cache_dir

        import torch

        import compiler
        from tests.nets import resnet18
        torch.manual_seed(0)
        reference = resnet18(torch.nn, torch.cat).eval()
        model = smelt_resnet18()
        model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
        m = compiler.compile(model, SHAPE, threads=args.threads)

        x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
        xt = torch.from_numpy(x)
        torch.set_num_threads(args.threads)
        with torch.no_grad():
            expected = reference(xt).numpy()
            y = m(x)
            error = float(np.abs(y - expected).max() / np.abs(expected).max())
            smelt_s = median_seconds(lambda: m(x), args.repeats)
            torch_s = median_seconds(lambda: reference(xt), args.repeats)

    print(f"ResNet-18 {'x'.join(map(str, SHAPE))}, {m.plan.total_flops / 1e9:.2f} GFLOP, "
          f"{len(m.kernels)} kernels")
    print(f"compile, cold cache (new process): {cold['seconds']:7.2f} s   "
          f"(C builds: {cold['builds']})")
    print(f"compile, warm cache (new process): {warm['seconds']:7.2f} s   "
          f"(C builds: {warm['builds']}, cache hits: {warm['disk_hits']})")
    print(f"smelt run, threads={args.threads}, median of {args.repeats}: "
          f"{smelt_s * 1e3:8.2f} ms")
    print(f"torch {torch.__version__} eager, threads={args.threads}, median of {args.repeats}: "
          f"{torch_s * 1e3:8.2f} ms")
    print(f"smelt / torch: {smelt_s / torch_s:.2f}x   max |smelt - torch| / max |torch|: "
          f"{error:.1e}")


if __name__ == "__main__":
    main()
