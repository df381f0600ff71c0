"""m.export(): the exported C builds with plain `make` where Python is not in use, under gcc and
clang, with and without OpenMP, C99-pedantic and warning-free, and its demo computes m(x) bit
for bit; two exported models link into one program; an isa="generic" export cross-compiles for
aarch64 and runs under qemu with the x86 results."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import nn

from .test_c_style import style_problems

#: the environment of every make and demo run: no PYTHONPATH, no virtualenv, no smelt
ENV = {"PATH": "/usr/bin:/bin"}
#: the default optimisation, and C99 held to the letter: any warning fails the build
STRICT = "CFLAGS=-O3 -Wall -Wextra -Werror -pedantic"


class Branches(nn.Module):
    """Two inputs of odd sizes, a 64-channel stage, three outputs: a classifier head, the
    feature map and a decoded image (a transposed convolution with few output channels)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU())
        self.b = nn.Conv2d(5, 64, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 7))
        self.decode = nn.Sequential(nn.ConvTranspose2d(64, 3, 4, stride=2, padding=1),
                                    nn.Sigmoid())

    def forward(self, x, y):
        z = self.a(x) + self.b(y)
        return self.head(z), z, self.decode(z)


SHAPES = [(1, 3, 13, 11), (1, 5, 13, 11)]


def small():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 4, 1), nn.Tanh()).eval()


@pytest.fixture(scope="module")
def model():
    compiler.manual_seed(0)
    net = Branches()
    for bn in (net.a[1],):
        bn.running_mean[:] = np.random.rand(64).astype(np.float32) - 0.5
        bn.running_var[:] = np.random.rand(64).astype(np.float32) + 0.5
    return compiler.compile(net.eval(), SHAPES)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def make(directory: Path, *args: str) -> None:
    result = subprocess.run(["make", *args], cwd=directory, env=ENV, capture_output=True,
                            text=True)
    assert result.returncode == 0, f"make {' '.join(args)}:\n{result.stdout}{result.stderr}"


def demo(directory: Path, name: str, files: list[str], *options: str, runner=()) -> None:
    result = subprocess.run([*runner, f"./{name}_demo", *options, *files], cwd=directory,
                            env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def export(m, directory: Path, inputs, **options) -> Path:
    m.export(directory, **options)
    for i, x in enumerate(inputs):
        np.save(directory / f"x{i}.npy", x)
        x.tofile(directory / f"x{i}.raw")
    return directory


def run_demo(directory: Path, name: str, m, *options: str, runner=()) -> list[np.ndarray]:
    """The demo's outputs for the exported inputs x0.npy, x1.npy, ... as .npy files."""
    ins = [f"x{i}.npy" for i in range(len(m.input_shapes))]
    outs = [f"y{j}.npy" for j in range(len(m.output_shapes))]
    demo(directory, name, ins + outs, *options, runner=runner)
    return [np.load(directory / f) for f in outs]


def assert_bitwise(got: list[np.ndarray], want) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32 and g.shape == w.shape
        assert np.array_equal(g.view(np.uint32), w.view(np.uint32))


@pytest.fixture(scope="module")
def built(model, inputs, tmp_path_factory):
    """The export of `model` as written, built with plain `make`."""
    directory = export(model, tmp_path_factory.mktemp("export") / "branches", inputs,
                       name="branches")
    make(directory)
    return directory


def test_files_and_api(model, built):
    names = {p.name for p in built.iterdir()}
    assert {"branches.h", "branches.c", "branches.weights", "Makefile", "main.c",
            "libbranches.a", "branches_demo"} <= names
    header = (built / "branches.h").read_text()
    for line in ("#define BRANCHES_IN1_SHAPE 1, 5, 13, 11", "#define BRANCHES_OUTPUTS 3",
                 "#define BRANCHES_OUT2_SHAPE 1, 3, 26, 22",
                 f"#define BRANCHES_ARENA_BYTES {model.plan.arena_bytes}",
                 "const float *branches_init(const char *path);",
                 "void branches_release(const float *weights);", "int nthreads);"):
        assert line in header
    size = (built / "branches.weights").stat().st_size
    assert f"#define BRANCHES_WEIGHTS_BYTES {size}" in header
    # the kernels are the ones Python loads, declared static
    c = (built / "branches.c").read_text()
    assert all(k.source in c for k in model.kernels)
    # the library's only symbols are the model's
    nm = subprocess.run(["nm", "-g", "--defined-only", "libbranches.a"], cwd=built, env=ENV,
                        capture_output=True, text=True, check=True).stdout
    symbols = [line.split()[-1] for line in nm.splitlines() if line.count(" ") == 2]
    assert sorted(symbols) == ["branches_init", "branches_init_from", "branches_release",
                               "branches_run"]


def test_demo_equals_the_model_bit_for_bit(model, inputs, built):
    want = model(*inputs)
    assert_bitwise(run_demo(built, "branches", model), want)
    # raw files in and out, one thread
    outs = [f"y{j}.raw" for j in range(3)]
    demo(built, "branches", ["x0.raw", "x1.raw"] + outs, "-t", "1")
    assert_bitwise([np.fromfile(built / f, np.float32).reshape(w.shape)
                    for f, w in zip(outs, want)], want)


def test_demo_refuses_wrong_inputs(built):
    np.save(built / "wrong.npy", np.zeros((1, 3, 11, 13), np.float32))
    np.save(built / "double.npy", np.zeros((1, 3, 13, 11)))
    for files, status in ((["wrong.npy", "x1.npy", "a", "b", "c"], 1),
                          (["double.npy", "x1.npy", "a", "b", "c"], 1),
                          (["x1.raw", "x1.raw", "a", "b", "c"], 1),
                          (["x0.npy", "x1.npy", "a"], 2)):
        result = subprocess.run(["./branches_demo", *files], cwd=built, env=ENV,
                                capture_output=True, text=True)
        assert result.returncode == status, (files, result.stderr)
    result = subprocess.run(["./branches_demo", "-w", "Makefile", "x0.npy", "x1.npy", "a", "b",
                             "c"], cwd=built, env=ENV, capture_output=True, text=True)
    assert result.returncode == 1 and "weights" in result.stderr


def test_without_openmp_same_results(model, inputs, built, tmp_path):
    directory = tmp_path / "serial"
    shutil.copytree(built, directory)
    make(directory, "clean")
    make(directory, "OPENMP=0", STRICT)
    assert_bitwise(run_demo(directory, "branches", model), model(*inputs))


def test_weights_compiled_in(model, inputs, tmp_path):
    directory = export(model, tmp_path / "c", inputs, name="branches", weights="c")
    assert not (directory / "branches.weights").exists()
    make(directory, STRICT)
    assert_bitwise(run_demo(directory, "branches", model), model(*inputs))


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")
@pytest.mark.parametrize("openmp", ["1", "0"])
def test_clang(model, inputs, built, tmp_path, openmp):
    if openmp == "1" and subprocess.run(
            ["clang", "-fopenmp", "-x", "c", "-", "-o", str(tmp_path / "omp")],
            input="#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n",
            text=True, capture_output=True).returncode != 0:
        pytest.skip("clang has no OpenMP here (libomp-dev)")
    directory = tmp_path / "clang"
    shutil.copytree(built, directory)
    make(directory, "clean")
    make(directory, "CC=clang", f"OPENMP={openmp}", STRICT)
    for got, want in zip(run_demo(directory, "branches", model), model(*inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


BOTH = """#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "branches.h"
#include "small.h"

/* both models in one program; each writes its outputs as raw floats */
static float a0[BRANCHES_IN0_FLOATS], a1[BRANCHES_IN1_FLOATS], b0[SMALL_IN0_FLOATS];
static float y0[BRANCHES_OUT0_FLOATS], y1[BRANCHES_OUT1_FLOATS], y2[BRANCHES_OUT2_FLOATS];
static float s0[SMALL_OUT0_FLOATS];
static float arena[(BRANCHES_ARENA_BYTES + SMALL_ARENA_BYTES) / 4 + 16];

static int load(const char *path, float *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    const int ok = f && fread(data, sizeof *data, n, f) == n;
    if (f)
        fclose(f);
    return ok;
}

int main(void)
{
    float *aligned = arena + (16 - (uintptr_t)arena / 4 % 16) % 16;
    const float *wb = branches_init("branches.weights"), *ws = small_init("small.weights");
    if (!wb || !ws || !load("x0.raw", a0, BRANCHES_IN0_FLOATS) ||
            !load("x1.raw", a1, BRANCHES_IN1_FLOATS) || !load("s.raw", b0, SMALL_IN0_FLOATS))
        return 1;
    if (branches_run(wb + 1, a0, a1, y0, y1, y2, aligned, 1) != -1 ||
            small_run(ws, b0, s0, aligned + 1, 1) != -1)
        return 2;      /* misaligned weights or arena are refused */
    if (branches_run(wb, a0, a1, y0, y1, y2, aligned, 0) || small_run(ws, b0, s0, aligned, 0))
        return 3;
    FILE *out = fopen("both.raw", "wb");
    fwrite(y2, sizeof(float), BRANCHES_OUT2_FLOATS, out);
    fwrite(s0, sizeof(float), SMALL_OUT0_FLOATS, out);
    fclose(out);
    branches_release(wb);
    small_release(ws);
    return 0;
}
"""


def test_two_models_link_into_one_program(model, inputs, built, tmp_path):
    other = compiler.compile(small(), (1, 3, 10, 10))
    directory = tmp_path / "both"
    shutil.copytree(built, directory)
    export(other, directory / "small", [], name="small")
    make(directory / "small", "libsmall.a")
    shutil.copy(directory / "small" / "small.h", directory)
    shutil.copy(directory / "small" / "small.weights", directory)
    x = np.random.default_rng(2).standard_normal((1, 3, 10, 10)).astype(np.float32)
    x.tofile(directory / "s.raw")
    (directory / "both.c").write_text(BOTH)
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
                    "-fopenmp", "both.c", "libbranches.a", "small/libsmall.a", "-lm", "-o",
                    "both"], cwd=directory, env=ENV, check=True)
    assert subprocess.run(["./both"], cwd=directory, env=ENV).returncode == 0
    got = np.fromfile(directory / "both.raw", np.float32)
    want = np.concatenate([model(*inputs)[2].ravel(), other(x).ravel()])
    assert np.array_equal(got, want)


def test_train_mode_is_refused(tmp_path):
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), (2, 3, 8, 8))
    with pytest.raises(ValueError, match="eval"):
        m.export(tmp_path)
    assert not any(tmp_path.iterdir())


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="weights='h'"):
        model.export(tmp_path, weights="h")
    for name in ("1net", "my-net", "_net", "a" * 41, "net;"):
        with pytest.raises(ValueError, match="C identifier"):
            model.export(tmp_path, name=name)
    model.export(tmp_path)                   # the default name: the model's class
    assert (tmp_path / "branches.h").exists()


@pytest.mark.parametrize("weights", ["bin", "c"])
def test_exported_c_reads_as_written_by_hand(model, tmp_path, weights):
    name = "depthwise_separable2"            # a long name still leaves lines within 100 columns
    model.export(tmp_path, name=name, weights=weights)
    for path in tmp_path.iterdir():
        if path.suffix != ".weights":
            problems = style_problems(path.read_text())
            assert not problems, f"{path.name}: " + "\n".join(problems)


CROSS = ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ar", "qemu-aarch64")


@pytest.mark.skipif(not all(map(shutil.which, CROSS)),
                    reason="needs gcc-aarch64-linux-gnu and qemu-user")
def test_generic_export_runs_on_aarch64(inputs, tmp_path):
    compiler.manual_seed(0)
    m = compiler.compile(Branches().eval(), SHAPES, isa="generic")
    x86 = export(m, tmp_path / "x86", inputs, name="branches")
    assert "-march" not in (x86 / "Makefile").read_text()
    arm = tmp_path / "arm"
    shutil.copytree(x86, arm)
    make(x86)
    make(arm, "CC=aarch64-linux-gnu-gcc", "AR=aarch64-linux-gnu-ar", STRICT)
    want = run_demo(x86, "branches", m)
    assert_bitwise(want, m(*inputs))
    got = run_demo(arm, "branches", m, runner=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"))
    for g, w in zip(got, want, strict=True):
        assert np.abs(g - w).max() <= 1e-6 * np.abs(w).max()
