"""`smelt`, the command line: check, compile, inspect, export, compare and bench a model.

Exit status: 0 success; 1 the model failed (unsupported, a shape error, any smelt error, its
factory raised, outputs disagree); 2 the command line does not fit (options, files, shapes).
"""
from __future__ import annotations

import argparse
import sys

from . import commands
from .models import ModelError, UsageError, parse_shape

MODEL_HELP = ("an ONNX file (model.onnx) or a Python factory (path/to/file.py:function) "
              "returning a compiler.nn or torch.nn module")
EPILOG = ("exit status: 0 success, 1 model error (unsupported, shape, compile), "
          "2 usage error")


def threads(text: str) -> int:
    from runtime.threads import check_threads
    try:
        return check_threads(int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_model(p: argparse.ArgumentParser, compiles: bool = True) -> None:
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--shape", type=parse_shape, action="append", metavar="NxCxHxW",
                   help="an input shape such as 1x3x224x224, once per input (a factory needs "
                        "it; an ONNX file has its own)")
    p.add_argument("--train", action="store_true",
                   help="compile a factory's module in train mode (default: eval)")
    if not compiles:
        return
    p.add_argument("--isa", choices=("avx512", "avx2", "generic"),
                   help="target a narrower machine than this one (default: this one's widest)")
    p.add_argument("--threads", type=threads,
                   help="OpenMP threads per call (default: $SMELT_NUM_THREADS, else the cores)")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per layer")
    p.add_argument("--kernels", choices=("auto", "reference"), default="auto",
                   help="reference: the plain NCHW loops")
    p.add_argument("--exact", action="store_true",
                   help="only algorithms that round as direct convolution does (no Winograd)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="smelt", epilog=EPILOG,
        description="Compile CNNs (ONNX files, compiler.nn or torch.nn modules) to "
                    "shape-specialised C.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str, compiles: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=EPILOG)
        add_model(p, compiles)
        p.set_defaults(run=run)
        return p

    command("check", commands.check, "list every operator or argument smelt cannot compile "
            "(exit 1 if any)", compiles=False)
    command("compile", commands.compile_, "compile (or find in the cache) and summarise")
    p = command("inspect", commands.inspect, "print the plan: which layers run in which "
                "kernel; or one kernel's C")
    p.add_argument("--kernel", metavar="NAME", help="print this kernel's C instead")
    p.add_argument("--source", action="store_true", help="print the whole C program instead")
    p = command("export", commands.export, "write a standalone C library, its weights, a "
                "Makefile and a demo program")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write")
    p.add_argument("--name", help="symbol prefix and file names (default: the model's)")
    p.add_argument("--weights", choices=("bin", "c"), default="bin",
                   help="a binary weights file (default) or a const array compiled in")
    p = command("compare", commands.compare, "compare smelt kernel by kernel with the model's "
                "own framework (PyTorch, ONNX Runtime, or NumPy for compiler.nn)")
    p.add_argument("--seed", type=int, default=0, help="of the random input (default 0)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    p.add_argument("--atol", type=float, default=1e-5,
                   help="absolute tolerance, times max(1, max |reference|) (default 1e-5)")
    p = command("bench", commands.bench, "time smelt against PyTorch and ONNX Runtime (when "
                "installed), each in its own process, in alternating rounds", compiles=False)
    p.add_argument("--threads", type=threads, help="threads of every framework (default: "
                   "$SMELT_NUM_THREADS, else the cores)")
    p.add_argument("--frameworks", nargs="+", choices=("smelt", "torch", "onnxruntime"),
                   help="default: every one that can run the model and is installed")
    p.add_argument("--rounds", type=positive(int), default=10, help="default 10")
    p.add_argument("--batch-seconds", type=positive(float), default=0.2,
                   help="one timing batch of back-to-back calls (default 0.2)")
    p.add_argument("--max-calls", type=positive(int), default=1000,
                   help="per timing batch (default 1000)")
    p.add_argument("--warmup-seconds", type=float, default=0.3, help="default 0.3")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="max relative difference from smelt's output (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="of the random input (default 0)")
    return top


def positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def main(argv: list[str] | None = None) -> int:
    from runtime.errors import SmeltError
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:                 # --help (0) or a usage error (2)
        return e.code
    name = f"smelt {args.command}"
    try:
        return args.run(args)
    except SmeltError as e:
        print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except ModelError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    except (UsageError, ImportError, ValueError, TypeError) as e:
        # what remains of ValueError/TypeError: options that do not fit the model (an ISA
        # this CPU lacks, shapes an ONNX file does not have, a wrong number of inputs)
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
