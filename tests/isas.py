"""Which ISAs a test runs, and the C that a plan renders to for any ISA.

Rendering and compiling need no particular CPU; running does. Tests that run code take
`RUNNABLE` (this machine's fast path first, never a silent skip); tests of the emitted C
take every ISA in `ALL`.
"""
from __future__ import annotations

import compiler
from compiler.codegen.emit import prepare, render_program
from compiler.planner import plan
from compiler.target import ISA_REQUIRES, Target, cpu_flags
from runtime import cache

ALL = ("avx512", "avx2", "generic")
#: what compile() targets here by default ($SMELT_ISA can narrow it to emulate another host)
DEFAULT = Target.detect().isa
#: the vector ISAs this machine runs, its default (fast path) first
RUNNABLE = [DEFAULT] + [isa for isa in ("avx512", "avx2") if isa != DEFAULT
                        and ISA_REQUIRES[isa] <= cpu_flags()
                        and ALL.index(isa) > ALL.index(DEFAULT)]


def render(model_or_graph, shape, isa: str, **options) -> list[str]:
    """The translation units `compile` would build for `isa`, rendered, not built."""
    graph = model_or_graph if isinstance(model_or_graph, compiler.Graph) else \
        compiler.trace(model_or_graph, shape)
    p = plan(graph, target=Target.detect(isa), **options)
    program = prepare(p)
    render_program(p, program, "isa test", "test")
    return program.units


def assert_compiles_cleanly(units: list[str], isa: str) -> None:
    """The real build for `isa` (through the cache, not loaded) gives no warning."""
    warnings = cache.compile_only(units, isa)
    assert not warnings, f"{isa}:\n{warnings}"
