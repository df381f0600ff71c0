"""CompiledModel.export: the model as a C library that builds with `make`, without Python.

The exported `<name>.c` holds the kernels exactly as the program Python loads has them (their
sources come from the plan, rendered once by the same templates); only the thin layer around
them differs. There the kernels are declared `static`, so the library's only symbols are the
`<name>_` functions of `<name>.h`, and its entry point takes the weights and an arena from the
caller instead of Python's buffers. Train-mode state (running statistics, dropout's call
counter) has no place in that API: such a model is refused.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from runtime.build import ISA_FLAGS
from runtime.version import __version__

from .codegen.cformat import wrap_line
from .codegen.emit import render_common
from .codegen.env import c_comment, c_identifier, render
from .codegen.frame import c_signature, kernel_signature
from .ops.base import numel

WEIGHTS = ("bin", "c")
#: a name becomes file names, the `<name>_` prefix of every symbol and the `<NAME>_` of macros
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
#: floats per line of a compiled-in weights array (within 100 columns)
WEIGHTS_PER_LINE = 6


def exporter(plan, program, title: str, isa: str):
    """What CompiledModel.export calls (the runtime never imports the compiler)."""
    return functools.partial(export, plan, program, title, isa)


def export(plan, program, title: str, isa: str, directory, name: str | None = None,
           weights: str = "bin", params: np.ndarray | None = None) -> list[Path]:
    """Write <name>.h, <name>.c, the weights (<name>.weights, or <name>_weights.c with
    weights="c"), a Makefile and a demo main.c into `directory`; returns their paths."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights={weights!r} is not supported; supported: "
                         + ", ".join(map(repr, WEIGHTS)))
    name = c_identifier(title, max_len=40).lower() if name is None else name
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"name={name!r} cannot name an exported model: it must be a C "
                         "identifier (a letter, then letters, digits or _), at most 40 long")
    if program.state_slots or any(k.uses_step for k in plan.kernels):
        raise ValueError("export needs an eval-mode model: this one keeps train-mode state "
                         "(BatchNorm batch statistics or Dropout2d masks); compile the model "
                         "after model.eval()")
    params = program.params if params is None else params
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    context = model_context(plan, program, title, isa, name, weights, params.size)
    files = {f"{name}.h": render("export_header.h.j2", **context),
             f"{name}.c": render("export_model.c.j2", **context),
             "Makefile": render("export_Makefile.j2", **context),
             "main.c": render("export_main.c.j2", **context)}
    if weights == "c":
        files[f"{name}_weights.c"] = render("export_weights.c.j2", values=c_values(params),
                                            **context)
    written = []
    for filename, text in files.items():
        (out / filename).write_text(text)
        written.append(out / filename)
    if weights == "bin":
        (out / f"{name}.weights").write_bytes(params.astype("<f4", copy=False).tobytes())
        written.append(out / f"{name}.weights")
    return written


def model_context(plan, program, title: str, isa: str, name: str, weights: str,
                  weight_floats: int) -> dict:
    """Everything the export templates read."""
    def tensors(nodes, kind: str) -> list[dict]:
        return [dict(index=i, rank=len(n.shape), shape=", ".join(map(str, n.shape)),
                     text="x".join(map(str, n.shape)), floats=numel(n.shape),
                     name=c_comment(n.name), arg=f"{kind}{i}") for i, n in enumerate(nodes)]

    inputs, outputs = tensors(plan.graph.inputs, "in"), tensors(plan.graph.outputs, "out")
    args = ([f"const float *restrict {t['arg']}" for t in inputs] +
            [f"float *restrict {t['arg']}" for t in outputs])
    return dict(
        name=name, NAME=name.upper(), title=c_comment(title), version=__version__, isa=isa,
        arch=march(isa), compiled_in=weights == "c", inputs=inputs, outputs=outputs,
        arena_bytes=plan.arena_bytes, weight_floats=weight_floats,
        common=render_common(plan, title, __version__),
        prototypes=[kernel_signature(k, static=True) for k in plan.kernels],
        kernels=[k.source for k in plan.kernels], calls=program.calls,
        parallel=any(k.parallel for k in plan.kernels),
        run=c_signature(f"{name}_run", ["const float *restrict params"] + args +
                        ["float *restrict arena", "int nthreads"], "int "),
        run_declaration=c_signature(f"{name}_run", ["const float *weights"] +
                                    [a.replace("restrict ", "") for a in args] +
                                    ["float *arena", "int nthreads"], "int "),
        arg_names=[t["arg"] for t in inputs + outputs],
        demo_files=" ".join(t["arg"].upper() for t in inputs + outputs),
        demo_call="\n".join(wrap_line(f"    return {name}_run(weights, " + ", ".join(
            [f"in[{t['index']}]" for t in inputs] + [f"out[{t['index']}]" for t in outputs])
            + ", arena, threads);")))


def march(isa: str) -> str:
    """The Makefile's ARCH: the ISA's -march as smelt builds it, none for portable C."""
    if isa == "generic":
        return ""
    return " ".join(f for f in ISA_FLAGS[isa] if f.startswith("-march"))


def c_values(params: np.ndarray) -> str:
    """The weights as C float literals, WEIGHTS_PER_LINE a line. Nine significant digits
    give back every float32 exactly; NaN and infinities are math.h's macros."""
    special = {"nan": "NAN", "inf": "INFINITY", "-inf": "(-INFINITY)"}

    def literal(x: float) -> str:
        text = f"{x:.9g}"
        if text in special:
            return special[text]
        return text + ("f" if any(c in text for c in ".e") else ".0f")

    values = [literal(x) for x in params.astype(np.float32, copy=False).tolist()]
    return ",\n".join("    " + ", ".join(values[i:i + WEIGHTS_PER_LINE])
                      for i in range(0, len(values), WEIGHTS_PER_LINE))
