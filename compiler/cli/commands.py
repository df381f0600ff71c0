"""The subcommands of `smelt`: each takes the parsed arguments and returns its exit status."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np

from .models import ModelError, Source, UsageError, load
from .progress import Progress, watching


def say(text: str) -> None:
    """A status line for someone watching a terminal; nothing in logs and pipes."""
    if watching():
        print(text, file=sys.stderr, flush=True)


def source_of(args) -> Source:
    return load(args.model, args.shape, getattr(args, "train", False))


def compile_model(args, source: Source):
    """compile() with the command line's options, drawing progress on a terminal."""
    import compiler
    with Progress() as progress:
        return compiler.compile(source.model, source.input_shape, fuse=not args.no_fuse,
                                kernels=args.kernels, exact=args.exact, isa=args.isa,
                                threads=args.threads, progress=progress)


def check(args) -> int:
    import compiler
    source = source_of(args)
    report = compiler.check(source.model, source.input_shape)
    print(report)
    return 0 if report.ok else 1


def compile_(args) -> int:
    from runtime import cache
    source = source_of(args)
    builds, start = cache.stats["builds"], time.perf_counter()
    m = compile_model(args, source)
    seconds = time.perf_counter() - start
    built = "built" if cache.stats["builds"] > builds else "from the cache"
    shapes = ", ".join("x".join(map(str, s)) for s in m.input_shapes)
    print(f"{args.model} ({shapes}): {len(m.kernels)} kernels, "
          f"{m.plan.total_flops / 1e6:.2f} MFLOP, arena {m.plan.arena_bytes / 1024:.1f} KiB, "
          f"{m.threads} threads")
    print(f"library {m.library_path} ({built}, {seconds:.2f} s)")
    return 0


def inspect(args) -> int:
    m = compile_model(args, source_of(args))
    if args.kernel is not None:
        kernel = next((k for k in m.kernels if k.name == args.kernel), None)
        if kernel is None:
            raise UsageError(f"no kernel {args.kernel!r}; the kernels are: "
                             + ", ".join(k.name for k in m.kernels))
        print(kernel.source)
    elif args.source:
        print(m.source)
    else:
        print(m.plan)
    return 0


def export(args) -> int:
    from runtime import CompiledModel
    if not hasattr(CompiledModel, "export"):
        raise UsageError("this smelt cannot export yet (CompiledModel.export is missing)")
    source = source_of(args)
    m = compile_model(args, source)
    name = args.name or default_name(source.spec)
    written = m.export(args.output, name=name, weights=args.weights)
    print(f"exported {name} to {args.output}: " + ", ".join(Path(p).name for p in written))
    return 0


def default_name(spec: str) -> str:
    """A C identifier from the model's name: `nets.py:build` -> build, `ResNet-18.onnx` ->
    resnet_18."""
    stem = spec.rpartition(":")[2] if ".py:" in spec else Path(spec).stem
    name = re.sub(r"\W", "_", stem).lower()
    return (name if name[:1].isalpha() else "model_" + name)[:40]


def compare(args) -> int:
    from runtime import CompiledModel
    if not hasattr(CompiledModel, "compare"):
        raise UsageError("this smelt cannot compare yet (CompiledModel.compare is missing)")
    source = source_of(args)
    m = compile_model(args, source)
    rng = np.random.default_rng(args.seed)
    xs = [rng.standard_normal(s, dtype=np.float32) for s in m.input_shapes]
    # against the model's own framework: the torch module, the ONNX file, or NumPy
    reference = {"torch": source.model, "onnx": source.spec}.get(source.kind)
    result = m.compare(*xs, reference=reference, rtol=args.rtol, atol=args.atol)
    print(result)
    if result.worst is not None:
        raise ModelError(f"kernel {result.worst.kernel} ({result.worst.layer}) is past "
                         "tolerance")
    return 0


def bench(args) -> int:
    from . import bench as harness
    if args.threads is None:
        from runtime.threads import default_threads
        args.threads = default_threads()
    return harness.run(source_of(args), args, say)
