"""`smelt bench`: smelt against PyTorch and ONNX Runtime on one model, by the protocol of
benchmarks/ (each framework in its own process; outputs checked to agree before timing;
timing batches round by round in rotating order, the others idle, a pause between batches).

The workers (bench_worker.py) are a small copy of benchmarks/worker.py's protocol rather than
that code itself: benchmarks/ is not part of the installed package, and its workers build the
named networks of tests/nets.py, where these load any model the command line names.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from .models import ModelError, Source, UsageError

#: which frameworks can run a model of each kind (ONNX Runtime runs a torch module's export)
RUNS = {"smelt": ("smelt",), "onnx": ("smelt", "onnxruntime"),
        "torch": ("smelt", "torch", "onnxruntime")}
NEEDS = {"smelt": (), "torch": ("torch",), "onnxruntime": ("onnxruntime", "onnx")}
SETTLE_SECONDS = 0.05        # idle pause between two timing batches: spinning threads quiet


class Worker:
    """One framework's process; requests and answers are JSON lines."""

    def __init__(self, framework: str):
        self.framework = framework
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compiler.cli.bench_worker", framework],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, op: str, **fields) -> None:
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")

    def reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise ModelError(f"the {self.framework} worker died (see its messages above)")
        answer = json.loads(line)
        if "error" in answer:
            error = UsageError if answer["status"] == 2 else ModelError
            raise error(f"{self.framework}: {answer['error']}")
        return answer

    def request(self, op: str, **fields) -> dict:
        self.send(op, **fields)
        return self.reply()

    def close(self) -> None:
        try:
            self.send("quit")
            self.process.stdin.close()
        except OSError:
            pass
        self.process.wait()


def available(kind: str, wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """(frameworks to run, notes on those left out) for a model of this kind."""
    chosen, notes = [], []
    for framework in wanted or RUNS[kind]:
        missing = [p for p in NEEDS[framework] if importlib.util.find_spec(p) is None]
        if framework not in RUNS[kind]:
            notes.append(f"{framework} cannot run a {kind} model")
        elif missing:
            notes.append(f"{framework} left out: {', '.join(missing)} not installed")
        else:
            chosen.append(framework)
    if "smelt" not in chosen:
        chosen.insert(0, "smelt")                 # the reference everything is compared with
    return chosen, notes


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over the larger of the two outputs' largest magnitudes."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-30)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def run(source: Source, args, say) -> int:
    frameworks, notes = available(source.kind, args.frameworks)
    for note in notes:
        say(note)
    with tempfile.TemporaryDirectory(prefix="smelt-bench-") as tmp:
        workers = {}
        try:
            for f in frameworks:
                workers[f] = Worker(f)
            for w in workers.values():     # all started together: their imports overlap
                w.reply()                  # {"ready": ...}
            outputs, facts = load_all(workers, source, args, Path(tmp), say)
            diffs = {f: max_rel_diff(outputs[f], outputs["smelt"]) for f in frameworks}
            bad = {f: d for f, d in diffs.items() if d > args.tolerance}
            if bad:
                raise ModelError("outputs disagree with smelt's beyond --tolerance "
                                 f"{args.tolerance:g}: " + ", ".join(
                                     f"{f} {d:.3g}" for f, d in bad.items()))
            samples = measure(workers, frameworks, args, say)
        finally:
            for w in workers.values():
                w.close()
    report(source, args, frameworks, samples, diffs, facts)
    return 0


def load_all(workers: dict, source: Source, args, tmp: Path, say) -> tuple[dict, dict]:
    """Load the model in every worker; the first output of each."""
    common = {"spec": source.spec, "shapes": source.shapes, "train": args.train,
              "threads": args.threads, "warmup_seconds": args.warmup_seconds}
    say("compiling in the smelt worker")
    facts = workers["smelt"].request("load", **common, seed=args.seed, input_dir=str(tmp),
                                     output=str(tmp / "smelt.npy"))
    onnx = source.spec if source.kind == "onnx" else str(tmp / "model.onnx")

    def start_loading(f: str) -> None:
        if f in workers:
            workers[f].send("load", **common, inputs=facts["inputs"], weights=facts["weights"],
                            onnx=onnx, output=str(tmp / f"{f}.npy"))
    start_loading("torch")
    if source.kind == "onnx":
        start_loading("onnxruntime")
    if "torch" in workers:
        workers["torch"].reply()
        if "onnxruntime" in workers:       # ONNX Runtime runs the torch module's export
            workers["torch"].request("export", path=onnx)
            start_loading("onnxruntime")
    if "onnxruntime" in workers:
        workers["onnxruntime"].reply()
    return {f: np.load(tmp / f"{f}.npy") for f in workers}, facts


def measure(workers: dict, frameworks: list[str], args, say) -> dict[str, list[float]]:
    """Timing batches round by round, the frameworks' order rotating: every call's seconds."""
    samples = {f: [] for f in frameworks}
    for r in range(args.rounds):
        say(f"round {r + 1}/{args.rounds}")
        for f in frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]:
            samples[f] += workers[f].request("time", seconds=args.batch_seconds,
                                             max_calls=args.max_calls)["samples"]
            time.sleep(SETTLE_SECONDS)
    return samples


def report(source: Source, args, frameworks, samples, diffs, facts) -> None:
    ms = {f: 1e3 * median(samples[f]) for f in frameworks}
    print(f"{source.spec}: {facts['kernels']} kernels, {facts['flops'] / 1e6:.1f} MFLOP, "
          f"{args.threads} thread{'s' * (args.threads != 1)}, {args.rounds} rounds of "
          f"{args.batch_seconds:g} s per framework")
    rows = [("framework", "median ms", "calls", "smelt faster by", "max rel diff")]
    for f in frameworks:
        rows.append((f, f"{ms[f]:.4g}", str(len(samples[f])),
                     f"{ms[f] / ms['smelt']:.2f}x", f"{diffs[f]:.2g}" if f != "smelt" else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
