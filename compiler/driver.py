"""compile(): trace -> plan -> emit C -> build (or load from the cache) -> CompiledModel."""
from __future__ import annotations

import functools

from runtime import build, cache
from runtime.model import CompiledModel
from runtime.threads import check_threads, default_threads
from runtime.version import __version__

from .compare import compare
from .codegen.emit import prepare, render_program
from .codegen.fingerprint import fingerprint
from .export import exporter
from .graph import Graph, normalize_input_shapes, trace
from .importers import from_onnx, from_torch, is_onnx_model, is_torch_module
from .nn.module import Module
from .planner import plan as make_plan
from .target import Target

KERNEL_CHOICES = ("auto", "reference")


def compile(model, input_shape=None, *, fuse: bool = True, threads: int | None = None,
            kernels: str = "auto", exact: bool = False, isa: str | None = None,
            sanitize: bool | None = None, progress=None):
    """Compile a model for `input_shape` to native code: a compiler.nn module, a torch.nn
    module (imported with from_torch), an ONNX file or ModelProto (from_onnx; the shape comes
    from the file unless given) or a Graph.

    fuse: run the fusion passes (False keeps one kernel per layer, for debugging).
    threads: OpenMP threads per call (default: $SMELT_NUM_THREADS, else physical cores).
    kernels: "auto" picks the fastest kernel per layer, "reference" the plain loops.
    exact: only algorithms that sum as direct convolution does (no Winograd: its transforms
        round differently; see compiler/kernels/winograd.py for the measured error).
    isa: "avx512", "avx2" or "generic" to target a narrower machine than this one.
    sanitize: build with AddressSanitizer + UBSan (default: $SMELT_SANITIZE).
    progress: a callable progress(stage, done, total) told of each stage as it starts
        (done=0) and ends (done=total): "import", "trace", "plan", "render", "C compiler"
        (translation units built), "link". A build found in the cache skips the last three.
    """
    report = progress or (lambda stage, done, total: None)
    if kernels not in KERNEL_CHOICES:
        raise ValueError(f"kernels={kernels!r} is not supported; supported: "
                         + ", ".join(map(repr, KERNEL_CHOICES)))
    # before any work: a bad thread count (or $SMELT_NUM_THREADS) fails fast
    threads = default_threads() if threads is None else check_threads(threads)
    if is_onnx_model(model):
        report("import", 0, 1)
        model = from_onnx(model, input_shape)
        input_shape = None
        report("import", 1, 1)
    elif is_torch_module(model):
        if input_shape is None:
            raise TypeError("compile() needs input_shape for a torch.nn.Module")
        report("import", 0, 1)
        model = from_torch(model, input_shape)
        report("import", 1, 1)
    if isinstance(model, Graph):
        graph, state_dict, title = model, model.state, model.title or "traced graph"
        if input_shape is not None:
            shapes, _ = normalize_input_shapes(input_shape)
            if shapes != [n.shape for n in graph.inputs]:
                raise ValueError(f"input_shape {input_shape} does not match the graph's inputs "
                                 f"{[n.shape for n in graph.inputs]}")
    elif isinstance(model, Module):
        if input_shape is None:
            raise TypeError("compile() needs input_shape for a Module")
        report("trace", 0, 1)
        graph = trace(model, input_shape)
        report("trace", 1, 1)
        state_dict, title = graph.state, type(model).__name__
    else:
        raise TypeError(f"compile expects a compiler.nn.Module, a torch.nn.Module, an ONNX "
                        f"file or ModelProto, or a Graph, got {type(model).__name__}")
    target = Target.detect(isa)
    target.require_runnable()
    report("plan", 0, 1)
    plan = make_plan(graph, fuse=fuse, kernels=kernels, target=target, exact=exact)
    report("plan", 1, 1)
    sanitize = build.sanitize_requested(sanitize)
    library, program = build_program(plan, title, target.build_isa, sanitize, report)
    stateful = bool(program.state_slots) or any(k.uses_step for k in plan.kernels)
    return CompiledModel(library, program, plan, state_dict, threads, stateful,
                         comparer=functools.partial(compare, graph),
                         exporter=exporter(plan, program, title, target.build_isa),
                         isa=target.build_isa, sanitize=sanitize)


def build_program(plan, title: str, isa: str, sanitize: bool, progress=None):
    """The loaded library of `plan` and its Program. A plan seen before (same fingerprint)
    skips the templates and the C compiler: its sources and binary come from the cache."""
    program = prepare(plan)
    key = fingerprint(plan, program.calls, title, __version__, cache.build_identity(isa, sanitize))
    library = cache.lookup(key)
    record = library.record if library is not None else {}
    sources = record.get("kernels")
    if isinstance(record.get("source"), str) and isinstance(sources, list) and \
            len(sources) == len(plan.kernels) and all(isinstance(s, str) for s in sources):
        program.source = record["source"]
        for spec, source in zip(plan.kernels, sources):
            spec.source = source
        return library, program
    if progress:
        progress("render", 0, 1)
    render_program(plan, program, title, __version__)
    if progress:
        progress("render", 1, 1)
    library = cache.build_entry(key, program.units, program.cdef, isa, sanitize, program.source,
                                {"source": program.source,
                                 "kernels": [k.source for k in plan.kernels]}, progress)
    return library, program
