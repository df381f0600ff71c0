"""The emitted C reads as if a person wrote it: no arithmetic left for the reader to fold, no
loop that runs once, no casts to silence the compiler, lines within 100 columns, a header
per kernel; and the templates themselves keep to the same width."""
from __future__ import annotations

import re

import pytest

import compiler
from compiler.codegen.env import templates_dir

from . import isas
from .nets import NETWORKS
from .test_codegen import MODELS, build_model

WIDTH = 100
UNFOLDED = re.compile(r"\* 1\b(?![.\d])|(?<![\w.])1 \*|\+ 0\b(?![.\dx])|[+-] -|\+ \(-")
ONE_TRIP = re.compile(r"for \(int (\w+) = (-?\d+); \1 < (-?\d+);")


def style_problems(source: str) -> list[str]:
    problems = []
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    for number, line in enumerate(source.splitlines(), 1):
        if len(line) > WIDTH:
            problems.append(f"line {number} is {len(line)} columns: {line.strip()[:60]}...")
    for number, line in enumerate(code.splitlines(), 1):
        if UNFOLDED.search(line):
            problems.append(f"unfolded arithmetic: {line.strip()}")
        trip = ONE_TRIP.search(line)
        if trip and int(trip.group(3)) - int(trip.group(2)) <= 1:
            problems.append(f"a loop that runs at most once: {line.strip()}")
        if re.search(r"(?<!\w)\(void\)", line):      # not an empty parameter list, f(void)
            problems.append(f"a cast to void: {line.strip()}")
        if re.search(r"\bif\s*\(\s*[01]\s*\)", line):
            problems.append(f"a constant condition: {line.strip()}")
    return problems


def rendered(name: str, isa: str, fuse: bool) -> str:
    if name in NETWORKS:
        net = NETWORKS[name]
        compiler.manual_seed(0)
        model, shape = net.build(compiler.nn, compiler.cat).eval(), net.shape
    else:
        model, shape = build_model(name)
    return "\n".join(isas.render(model, shape, isa, fuse=fuse))


@pytest.mark.parametrize("isa", isas.ALL)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("name", MODELS + sorted(NETWORKS))
def test_emitted_c_reads_as_written_by_hand(name, fuse, isa):
    problems = style_problems(rendered(name, isa, fuse))
    assert not problems, "\n".join(problems[:20])


def test_resnet18_full_size_c(resnet18_plan):
    from compiler.codegen.emit import prepare, render_program
    program = prepare(resnet18_plan)
    render_program(resnet18_plan, program, "resnet18", "test")
    problems = style_problems(program.source)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("path", sorted(templates_dir().glob("*.j2")), ids=lambda p: p.name)
def test_templates_keep_to_the_width(path):
    long = [n for n, line in enumerate(path.read_text().splitlines(), 1) if len(line) > WIDTH]
    assert not long, f"{path.name}: lines {long} are over {WIDTH} columns"


def test_the_checks_catch_what_they_look_for():
    bad = ("x[i * 1 + 0] = y[j + -1];\nfor (int n = 0; n < 1; ++n) {\n(void)arena;\n"
           "#pragma omp parallel for if(0)\n" + "z" * 101)
    found = style_problems(bad)
    assert len(found) == 5, found
