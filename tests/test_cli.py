"""The `smelt` command (API.md section 5): every subcommand on a Python factory (compiler.nn and
torch) and on an ONNX file, exit statuses scripts rely on (0, 1 model error, 2 usage error),
--help everywhere, progress on a terminal and none in a pipe; and compile()'s progress hook."""
from __future__ import annotations

import fcntl
import importlib.util
import os
import pty
import struct
import subprocess
import sys
import termios
import warnings
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler.cli import main
from runtime import CompiledModel

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("check", "compile", "inspect", "export", "compare", "bench")
SHAPE = "1x3x16x16"
HAVE_TORCH_IMPORTER = importlib.util.find_spec("compiler.importers.torch_fx") is not None
HAVE_ONNX_IMPORTER = importlib.util.find_spec("compiler.importers.onnx_graph") is not None

FACTORIES = '''
from compiler import nn


def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def build_torch():
    import torch
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def broken():
    raise RuntimeError("the factory broke")


def not_a_module():
    return 42
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("cli")
    (where / "nets.py").write_text(FACTORIES)
    return where


@pytest.fixture(scope="module")
def onnx_file(files) -> str:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    path = files / "net.onnx"
    sys.path.insert(0, str(files))
    try:
        import nets
        module = nets.build_torch().eval()
    finally:
        sys.path.remove(str(files))
    with warnings.catch_warnings():                 # that dynamo=False is the legacy exporter
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False)
    return str(path)


@pytest.fixture(params=["smelt", "torch", "onnx"])
def model(request, files) -> list[str]:
    """The model arguments of one kind: a compiler.nn factory, a torch factory, an ONNX file."""
    if request.param == "smelt":
        return [f"{files}/nets.py:build", "--shape", SHAPE]
    if request.param == "torch":
        pytest.importorskip("torch")
        if not HAVE_TORCH_IMPORTER:
            pytest.skip("the torch importer is not in this build")
        return [f"{files}/nets.py:build_torch", "--shape", SHAPE]
    if not HAVE_ONNX_IMPORTER:
        pytest.skip("the ONNX importer is not in this build")
    return [request.getfixturevalue("onnx_file")]


def smelt(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# --- the subcommands -------------------------------------------------------------------------

def test_check(capsys, model):
    status, out, _ = smelt(capsys, "check", *model)
    assert status == 0 and "supported" in out


def test_compile(capsys, model):
    status, out, _ = smelt(capsys, "compile", *model, "--threads", 1)
    assert status == 0
    assert "1x3x16x16" in out and "kernels" in out and "MFLOP" in out and "lib.so" in out


def test_inspect_plan_kernel_and_source(capsys, model):
    status, out, _ = smelt(capsys, "inspect", *model)
    assert status == 0 and "kernel" in out and "MFLOP" in out and "passes:" in out
    name = out.splitlines()[2].split()[0]                     # the first kernel's row
    status, c, _ = smelt(capsys, "inspect", *model, "--kernel", name)
    assert status == 0 and name in c and "{" in c and "passes:" not in c
    status, source, _ = smelt(capsys, "inspect", *model, "--source")
    assert status == 0 and "smelt_forward" in source and c.strip() in source


def test_export(capsys, model, tmp_path):
    status, out, err = smelt(capsys, "export", *model, "-o", tmp_path / "out", "--name", "net")
    if not hasattr(CompiledModel, "export"):
        assert status == 2 and "cannot export" in err
        return
    assert status == 0, err
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"net.h", "net.c", "net.weights", "Makefile", "main.c"} <= written
    assert all(name in out for name in written)
    status, _, err = smelt(capsys, "export", *model, "-o", tmp_path / "c", "--weights", "c")
    assert status == 0, err
    default = "net" if model[0].endswith(".onnx") else model[0].rpartition(":")[2]
    assert (tmp_path / "c" / f"{default}_weights.c").exists()


def test_export_names_from_the_model():
    from compiler.cli.commands import default_name
    assert default_name("dir/nets.py:build_net") == "build_net"
    assert default_name("models/ResNet-18.onnx") == "resnet_18"
    assert default_name("3d.onnx") == "model_3d"


def test_compare(capsys, model):
    status, out, err = smelt(capsys, "compare", *model)
    if not hasattr(CompiledModel, "compare"):
        assert status == 2 and "cannot compare" in err
        return
    assert status == 0, err
    assert "every kernel within tolerance" in out
    status, out, err = smelt(capsys, "compare", *model, "--rtol", 0, "--atol", 1e-30)
    assert status in (0, 1) and "tolerance" in out       # a 0 tolerance may well fail
    assert status == 0 or "past tolerance" in err


def test_bench(capsys, model, request):
    status, out, err = smelt(capsys, "bench", *model, "--threads", 1, "--rounds", 2,
                             "--batch-seconds", 0.01, "--max-calls", 3,
                             "--warmup-seconds", 0)
    assert status == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "smelt" in rows and "1.00x" in rows["smelt"]
    kind = request.node.callspec.params["model"]
    expected = {"smelt": set(), "torch": {"torch", "onnxruntime"}, "onnx": {"onnxruntime"}}[kind]
    for framework in expected:
        if importlib.util.find_spec(framework) is not None:
            assert framework in rows, out


def test_bench_frameworks_that_cannot_run_the_model_are_left_out(capsys, files):
    status, out, _ = smelt(capsys, "bench", f"{files}/nets.py:build", "--shape", SHAPE,
                           "--frameworks", "smelt", "torch", "--rounds", 1,
                           "--batch-seconds", 0.01, "--max-calls", 2, "--warmup-seconds", 0)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["smelt"]


# --- exit statuses and help ------------------------------------------------------------------

@pytest.mark.parametrize("command", ("",) + COMMANDS)
def test_help_everywhere(capsys, command):
    status, out, _ = smelt(capsys, *([command] if command else []), "--help")
    assert status == 0
    assert out.startswith(f"usage: smelt {command}".rstrip()) and "exit status" in out


@pytest.mark.parametrize("argv", [
    [],                                                       # no command
    ["frobnicate"],                                           # no such command
    ["compile"],                                              # no model
    ["compile", "{f}/nets.py:build"],                         # a factory needs --shape
    ["compile", "{f}/nets.py:build", "--shape", "1x3x"],      # not a shape
    ["compile", "{f}/nets.py:build", "--shape", "0x3x8x8"],
    ["compile", "{f}/nets.py", "--shape", SHAPE],             # no factory named
    ["compile", "{f}/nets.py:missing", "--shape", SHAPE],     # no such factory
    ["compile", "{f}/nope.py:build", "--shape", SHAPE],       # no such file
    ["compile", "{f}/nope.onnx"],
    ["compile", "{f}/nets.py:not_a_module", "--shape", SHAPE],
    ["compile", "{f}/nets.py:build", "--shape", SHAPE, "--threads", "0"],
    ["compile", "{f}/nets.py:build", "--shape", SHAPE, "--isa", "sse9"],
    ["inspect", "{f}/nets.py:build", "--shape", SHAPE, "--kernel", "no_such_kernel"],
    ["export", "{f}/nets.py:build", "--shape", SHAPE],        # no -o
])
def test_usage_errors_exit_2(capsys, files, argv):
    status, out, err = smelt(capsys, *[a.format(f=files) for a in argv])
    assert status == 2 and err.strip() and not out


@pytest.mark.parametrize("argv, message", [
    (["compile", "{f}/nets.py:build", "--shape", "1x4x16x16"], "ShapeError"),
    (["inspect", "{f}/nets.py:build", "--shape", "1x3x20x16"], "ShapeError"),
    (["check", "{f}/nets.py:build", "--shape", "1x4x16x16"], "expected 3 input channels"),
    (["compile", "{f}/nets.py:broken", "--shape", SHAPE], "the factory broke"),
])
def test_model_errors_exit_1(capsys, files, argv, message):
    status, out, err = smelt(capsys, *[a.format(f=files) for a in argv])
    assert status == 1 and message in err and not out


@pytest.mark.skipif(not HAVE_TORCH_IMPORTER, reason="the torch importer is not in this build")
def test_check_lists_unsupported_parts_and_exits_1(capsys, files):
    pytest.importorskip("torch")
    (files / "odd.py").write_text(
        "import torch\n\n\nclass Odd(torch.nn.Module):\n"
        "    def forward(self, x):\n        return torch.fft.fft2(x).real\n\n\n"
        "def build():\n    return Odd()\n")
    status, out, _ = smelt(capsys, "check", f"{files}/odd.py:build", "--shape", SHAPE)
    assert status == 1 and "unsupported" in out


# --- as a program: console script, progress on terminals only --------------------------------

def run_smelt(*argv, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, argv)], cwd=ROOT,
                          env={**os.environ, **(env or {})}, **kwargs)


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")                  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["smelt"] == "compiler.cli:main"


def test_exit_statuses_of_the_program(files):
    assert run_smelt("--help", capture_output=True).returncode == 0
    assert run_smelt("compile", capture_output=True).returncode == 2
    shape_error = run_smelt("compile", f"{files}/nets.py:build", "--shape", "1x4x16x16",
                            capture_output=True, text=True)
    assert shape_error.returncode == 1 and "ShapeError" in shape_error.stderr


def test_no_progress_when_not_a_terminal(files, tmp_path):
    env = {"SMELT_CACHE_DIR": str(tmp_path / "cache")}           # a cold build: all stages
    done = run_smelt("compile", f"{files}/nets.py:build", "--shape", SHAPE, env=env,
                     capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert "built" in done.stdout and "\r" not in done.stdout


def test_progress_on_a_terminal(files, tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {"SMELT_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "compiler.cli", "compile", f"{files}/nets.py:build",
         "--shape", SHAPE], cwd=ROOT, env={**os.environ, **env},
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:                      # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    assert process.wait(timeout=120) == 0
    text = screen.decode()
    for stage in ("trace", "plan", "render", "C compiler: 0/1 translation units", "link"):
        assert stage in text, text
    assert "built" in text


def test_compile_reports_its_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path / "cache"))
    sys.path.insert(0, str(Path(__file__).parent))
    from tests.test_runtime import SHAPE as shape, make_net
    net, calls = make_net(), []
    compiler.compile(net, shape, progress=lambda *call: calls.append(call))
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["trace", "plan", "render", "C compiler", "link"]
    for stage in stages:                       # each starts at 0 and ends at its total
        mine = [(done, total) for s, done, total in calls if s == stage]
        assert mine[0][0] == 0 and mine[-1][0] == mine[-1][1] >= 1
    calls.clear()
    compiler.compile(net, shape, progress=lambda *call: calls.append(call))   # from the cache
    assert [stage for stage, _, _ in calls] == ["trace", "trace", "plan", "plan"]
    assert np.isfinite(compiler.compile(net, shape)(np.zeros(shape, np.float32))).all()


@pytest.mark.parametrize("flag, exact", [([], False), (["--exact"], True)])
def test_exact_reaches_compile(capsys, files, monkeypatch, flag, exact):
    """--exact asks compile() for the direct algorithm only (no Winograd)."""
    seen = {}
    real = compiler.compile

    def recording(*args, **options):
        seen.update(options)
        return real(*args, **options)
    monkeypatch.setattr(compiler, "compile", recording)
    status, _, _ = smelt(capsys, "compile", f"{files}/nets.py:build", "--shape", SHAPE, *flag)
    assert status == 0 and seen["exact"] is exact
