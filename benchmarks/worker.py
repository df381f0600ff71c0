"""One framework in its own process, driven by the harness (run.py) over a pipe.

    python -m benchmarks.worker {smelt|torch|onnxruntime|openvino}

The harness writes one JSON request per line to stdin; the worker answers each with one JSON
line on its protocol stream (the original stdout: anything else printed, by Python or by a
library's C code, goes to stderr). The first line it writes is {"ready": ..., "versions": ...}.

    weights  {net, small, seed, path}      build the network, save its randomised state_dict
    load     {net, batch, small, threads, weights, input, output, onnx, warmup_seconds}
             build (compile, open a session) for this input unless already built, set the
             thread count, save the output of one call on `input` to `output`, warm up
    export   {net, batch, small, weights, input, path}
             build as `load` does, export to ONNX at `path` (torch only)
    time     {seconds, max_calls}          one timing batch: calls until `seconds` have passed
    profile  {repeats}                     per-kernel times of the loaded model (smelt only)
    peak     {threads, seconds, repeats}   the FMA peak in GFLOP/s per thread count (smelt only)
    quit
"""
from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
import traceback

import numpy as np

from compiler.cli.bench_worker import time_batch   # the timing protocol `smelt bench` shares

from . import suite


class Runner:
    """A framework behind the protocol: subclasses build for a (network, input) and call."""

    name = ""

    def __init__(self):
        self.key = None          # (net, input shape, small) of the loaded model
        self.x = None
        self.call = None         # one forward on self.x, returning the output as numpy-able

    def versions(self) -> dict:
        return {}

    def build(self, req: dict, weights: dict, x: np.ndarray) -> dict:
        raise NotImplementedError

    def set_threads(self, threads: int, req: dict) -> None:
        raise NotImplementedError

    def ensure(self, req: dict) -> dict:
        """Build for (net, input) unless that is what is loaded; what building took."""
        x = np.load(req["input"])
        key = (req["net"], x.shape, req["small"])
        if key == self.key:
            return {}
        self.key = self.call = None
        gc.collect()
        with np.load(req["weights"]) as data:
            weights = {k: data[k] for k in data.files}
        self.x = x
        info = self.build(req, weights, x)
        self.key = key
        return info

    def load(self, req: dict) -> dict:
        info = self.ensure(req)
        self.set_threads(req["threads"], req)
        y = np.asarray(self.output(self.call()), np.float32)
        np.save(req["output"], y)
        start = time.perf_counter()
        while time.perf_counter() - start < req["warmup_seconds"]:
            self.call()
        return {**info, **self.facts()}

    def facts(self) -> dict:
        """What the report needs to know about the loaded model."""
        return {}

    def output(self, result) -> np.ndarray:
        return np.asarray(result)


class Smelt(Runner):
    name = "smelt"

    def __init__(self):
        super().__init__()
        import compiler
        from runtime import cache
        self.compiler, self.cache = compiler, cache
        self.model = None

    def versions(self) -> dict:
        from runtime import build
        from runtime.version import __version__
        cc = build.c_compiler()
        identity = build.compiler_identity(str(self.cache.cache_dir())).split("|")[-1]
        return {"smelt": __version__, "numpy": np.__version__, "c_compiler": " ".join(cc),
                "c_compiler_version": identity}

    def build(self, req, weights, x):
        compiler = self.compiler
        model = suite.build(req["net"], compiler.nn, compiler.cat, req["small"])
        model.load_state_dict(weights)
        model.eval()
        builds = self.cache.stats["builds"]
        start = time.perf_counter()
        self.model = compiler.compile(model, x.shape)
        seconds = time.perf_counter() - start
        m = self.model
        self.call = lambda: m(self.x)
        return {"compile_seconds": round(seconds, 3),
                "c_builds": self.cache.stats["builds"] - builds}

    def facts(self) -> dict:
        m = self.model
        return {"kernels": len(m.kernels), "flops": m.plan.total_flops,
                "arena_bytes": m.plan.arena_bytes}

    def set_threads(self, threads, req):
        self.model.threads = threads

    def profile(self, req) -> dict:
        rows = self.model.profile(self.x, repeats=req["repeats"])
        families = [k.family for k in self.model.plan.kernels]
        return {"kernels": [{"name": name, "layers": layers, "ms": ms, "gflops": gflops,
                             "family": family}
                            for (name, layers, ms, gflops), family in zip(rows, families)]}

    def peak(self, req) -> dict:
        from compiler.peak import fma_kernel, measure_fma_peak
        gflops = {str(t): measure_fma_peak(t, seconds=req["seconds"], repeats=req["repeats"])
                  for t in req["threads"]}
        _, flops, source = fma_kernel(None)
        return {"gflops": gflops, "flops_per_iteration": flops,
                "kernel": source.split("*/", 1)[0] + "*/"}


class Torch(Runner):
    name = "torch"

    def __init__(self):
        super().__init__()
        import torch
        self.torch = torch
        self.module = None
        self.xt = None

    def versions(self) -> dict:
        torch = self.torch
        return {"torch": torch.__version__, "torch_parallel": torch.__config__.parallel_info()}

    def build(self, req, weights, x):
        torch = self.torch
        module = suite.build(req["net"], torch.nn, torch.cat, req["small"])
        module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        self.module = module.eval()
        self.xt = torch.from_numpy(x)

        def call():
            with torch.no_grad():
                return module(self.xt)
        self.call = call
        return {}

    def set_threads(self, threads, req):
        self.torch.set_num_threads(threads)

    def output(self, result):
        return result.numpy()

    def export(self, req) -> dict:
        """torch.onnx.export with the TorchScript exporter (dynamo=False), static shapes."""
        self.ensure(req)
        start = time.perf_counter()
        self.torch.onnx.export(self.module, (self.xt,), req["path"], dynamo=False,
                               input_names=["input"], output_names=["output"])
        return {"export_seconds": round(time.perf_counter() - start, 3)}


class OnnxRuntime(Runner):
    name = "onnxruntime"

    def __init__(self):
        super().__init__()
        import onnxruntime
        self.ort = onnxruntime
        self.threads = None

    def versions(self) -> dict:
        return {"onnxruntime": self.ort.__version__}

    def build(self, req, weights, x):
        self.threads = None                  # a session per (model, thread count)
        return {}

    def set_threads(self, threads, req):
        if threads == self.threads:
            return
        ort = self.ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(req["onnx"], options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: self.x}
        self.call = lambda: session.run(None, feed)[0]
        self.threads = threads


class OpenVino(Runner):
    """OpenVINO as its users run it for CPU inference: ov.convert_model of the torch module,
    compiled for the CPU with the LATENCY hint, f32 precision and the thread count."""

    name = "openvino"

    def __init__(self):
        super().__init__()
        import openvino
        import torch
        self.ov, self.torch = openvino, torch
        self.core = openvino.Core()
        self.model = None
        self.threads = None

    def versions(self) -> dict:
        return {"openvino": self.ov.__version__}

    def build(self, req, weights, x):
        torch = self.torch
        module = suite.build(req["net"], torch.nn, torch.cat, req["small"])
        module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        start = time.perf_counter()
        self.model = self.ov.convert_model(module.eval(), example_input=torch.from_numpy(x))
        self.threads = None                  # a compiled model per thread count
        return {"convert_seconds": round(time.perf_counter() - start, 3)}

    def set_threads(self, threads, req):
        if threads == self.threads:
            return
        compiled = self.core.compile_model(self.model, "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        self.call = lambda: request.infer([self.x])[0]
        self.threads = threads


RUNNERS = {r.name: r for r in (Smelt, Torch, OnnxRuntime, OpenVino)}


def handle(runner: Runner, req: dict) -> dict:
    op = req["op"]
    if op == "weights":
        state = suite.make_weights(req["net"], runner.name, req["small"], req["seed"])
        np.savez(req["path"], **state)
        return {"framework": runner.name}
    if op == "load":
        return {"info": runner.load(req)}
    if op == "time":
        return {"samples": time_batch(runner.call, req["seconds"], req["max_calls"])}
    if op in ("export", "profile", "peak") and hasattr(runner, op):
        return getattr(runner, op)(req)
    raise ValueError(f"the {runner.name} worker does not handle {op!r}")


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in RUNNERS:
        sys.exit(f"usage: python -m benchmarks.worker {{{'|'.join(RUNNERS)}}}")
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())       # stray prints go to the log
    sys.stdout = sys.stderr

    def send(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")

    try:
        runner = RUNNERS[argv[0]]()
        send({"ready": runner.name, "pid": os.getpid(), "python": platform.python_version(),
              "versions": runner.versions()})
    except Exception:
        send({"error": traceback.format_exc()})
        return
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        try:
            send(handle(runner, req))
        except Exception:
            send({"error": traceback.format_exc()})


if __name__ == "__main__":
    main(sys.argv[1:])
