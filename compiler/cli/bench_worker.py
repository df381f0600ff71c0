"""One framework of `smelt bench` in its own process, driven over a pipe by compiler/cli/bench.py.

    python -m compiler.cli.bench_worker {smelt|torch|onnxruntime}

One JSON request per line on stdin, one JSON answer per line on the protocol stream (the
original stdout; anything else printed goes to stderr). The first line it writes is
{"ready": name}. An answer to a failed request is {"error": message, "status": 1 or 2}.

    load    {spec, shapes, train, threads, output, warmup_seconds} and for smelt {seed,
            input_dir}, for torch {inputs, weights}, for onnxruntime {inputs, onnx}: load the
            model, save one call's output to `output`, warm up. The smelt worker draws random
            inputs for the compiled model's shapes and saves them and a torch module's
            weights (a factory may draw new ones each call) in `input_dir`, answering their
            paths for the others
    export  {path}                       the loaded torch module as ONNX (torch only)
    time    {seconds, max_calls}         back-to-back calls until `seconds` have passed
    quit
"""
from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np

from .models import ModelError, UsageError, load


class Runner:
    """A framework behind the protocol: build for a model, then one call = one forward."""

    def __init__(self):
        self.call = None

    def load(self, req: dict) -> dict:
        facts = self.build(req) or {}
        outputs = self.call()
        outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
        np.save(req["output"], np.asarray(outputs[0], np.float32))
        end = time.perf_counter() + req["warmup_seconds"]
        while time.perf_counter() < end:
            self.call()
        return facts


class Smelt(Runner):
    def build(self, req):
        import compiler
        source = load(req["spec"], [tuple(s) for s in req["shapes"] or ()], req["train"])
        m = compiler.compile(source.model, source.input_shape, threads=req["threads"])
        weights = None
        if source.kind == "torch":     # a factory may draw new weights at every call
            weights = os.path.join(req["input_dir"], "weights.npz")
            np.savez(weights, **{k: v.detach().numpy()
                                 for k, v in source.model.state_dict().items()})
        rng = np.random.default_rng(req["seed"])    # the inputs follow from its shapes
        xs = [rng.standard_normal(s, dtype=np.float32) for s in m.input_shapes]
        paths = [os.path.join(req["input_dir"], f"input{i}.npy") for i in range(len(xs))]
        for x, path in zip(xs, paths):
            np.save(path, x)
        self.call = lambda: m(*xs)
        return {"inputs": paths, "weights": weights, "kernels": len(m.kernels),
                "flops": m.plan.total_flops}


class Torch(Runner):
    def build(self, req):
        import torch
        xs = [np.load(path) for path in req["inputs"]]
        torch.set_num_threads(req["threads"])
        source = load(req["spec"], [tuple(s) for s in req["shapes"]], req["train"])
        with np.load(req["weights"]) as weights:          # the very weights smelt compiled
            source.model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights})
        self.module, self.xs = source.model, [torch.from_numpy(x) for x in xs]

        def call():
            with torch.no_grad():
                y = self.module(*self.xs)
            return [t.numpy() for t in y] if isinstance(y, (tuple, list)) else y.numpy()
        self.call = call

    def export(self, req) -> dict:
        import torch
        with warnings.catch_warnings():          # that dynamo=False is the legacy exporter
            warnings.simplefilter("ignore")
            torch.onnx.export(self.module, tuple(self.xs), req["path"], dynamo=False)
        return {}


class OnnxRuntime(Runner):
    def build(self, req):
        import onnxruntime as ort
        xs = [np.load(path) for path in req["inputs"]]
        options = ort.SessionOptions()
        options.intra_op_num_threads = req["threads"]
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(req["onnx"], options, providers=["CPUExecutionProvider"])
        feed = {i.name: x for i, x in zip(session.get_inputs(), xs)}
        self.call = lambda: session.run(None, feed)


RUNNERS = {"smelt": Smelt, "torch": Torch, "onnxruntime": OnnxRuntime}


def time_batch(call, seconds: float, max_calls: int) -> list[float]:
    """Durations of back-to-back calls until `seconds` have passed (at least one call), with
    the garbage collector paused as timeit does."""
    samples = []
    gc.disable()
    try:
        begin = time.perf_counter()
        while True:
            start = time.perf_counter()
            call()
            end = time.perf_counter()
            samples.append(end - start)
            if end - begin >= seconds or len(samples) >= max_calls:
                return samples
    finally:
        gc.enable()


def handle(runner: Runner, req: dict) -> dict:
    if req["op"] == "load":
        return runner.load(req)
    if req["op"] == "time":
        return {"samples": time_batch(runner.call, req["seconds"], req["max_calls"])}
    if req["op"] == "export" and hasattr(runner, "export"):
        return runner.export(req)
    raise ValueError(f"this worker does not handle {req['op']!r}")


def answer(runner: Runner, req: dict) -> dict:
    """handle()'s answer, or the error with the exit status the command should end with."""
    from runtime.errors import SmeltError
    try:
        return handle(runner, req)
    except (SmeltError, ModelError) as e:
        return {"error": f"{type(e).__name__}: {e}", "status": 1}
    except (UsageError, ImportError, ValueError, TypeError) as e:
        return {"error": f"{type(e).__name__}: {e}", "status": 2}
    except Exception:
        return {"error": traceback.format_exc(), "status": 1}


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in RUNNERS:
        sys.exit(f"usage: python -m compiler.cli.bench_worker {{{'|'.join(RUNNERS)}}}")
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())       # stray prints go to stderr
    sys.stdout = sys.stderr
    runner = RUNNERS[argv[0]]()
    protocol.write(json.dumps({"ready": argv[0]}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        protocol.write(json.dumps(answer(runner, req)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
