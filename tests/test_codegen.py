"""The generated C: warning-free under -Wall -Wextra -Werror, a header comment per kernel,
literal sizes, user names that can neither break nor inject into the source, and templates
found from a source checkout and from an installed layout."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import interp, nn
from compiler.codegen.env import C_KEYWORDS, c_comment, c_identifier, templates_dir
from compiler.target import Target

from . import isas

REPO = Path(__file__).resolve().parents[1]
GCC = shutil.which("gcc")
SYNTAX = ["-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-fopenmp", "-march=native"]
IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def syntax_check(source: str, tmp_path: Path, flags=SYNTAX) -> None:
    if GCC is None:
        pytest.skip("gcc is not installed")
    path = tmp_path / "model.c"
    path.write_text(source)
    result = subprocess.run([GCC, *flags, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def code_only(source: str) -> str:
    """The source with every /* ... */ comment removed."""
    return re.sub(r"/\*.*?\*/", " ", source, flags=re.S)


# --- models touching many layer types --------------------------------------------------------

class Wide(nn.Module):
    """Every eval-mode layer kind: conv variants, folded and unfoldable BN, every activation,
    residual add, pools, upsampling, pixel shuffle, cat, transposed conv, linear, softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.acts = nn.Sequential(nn.LeakyReLU(0.2), nn.ELU(0.5), nn.SELU(), nn.Tanh(),
                                  nn.Sigmoid(), nn.Dropout2d(0.5), nn.Identity())
        self.reflect = nn.Conv2d(8, 4, 3, padding=1, padding_mode="reflect")
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.near = nn.Upsample(size=(6, 6))
        self.shuffle = nn.PixelShuffle(2)
        self.deconv = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 10),
                                  nn.Softmax(dim=1))

    def forward(self, x):                               # x: 1x3x12x12
        y = self.stem(x)
        z = self.dw(y)
        y = self.acts(self.bn(z) + y) + z               # z read twice: its BN cannot fold
        p = self.avg(self.pool(self.reflect(y)))        # 1x4x6x6
        u = self.near(self.up(p))                       # 1x4x6x6
        s = self.shuffle(compiler.cat([u, u, u, u], dim=1))     # 1x4x12x12
        return self.head(compiler.cat([s, self.deconv(p)], dim=1))


class Training(nn.Module):
    """Train-mode semantics: batch statistics with running-stat updates, dropout masks."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(),
                                  nn.Dropout2d(0.3), nn.BatchNorm2d(6, momentum=None))

    def forward(self, x):
        return self.body(x)


class TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, a, b):
        return self.conv(a) + b, a


CONV_ONLY = ("nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), "
             "nn.Conv2d(8, 8, 3, stride=2, groups=4), nn.Sigmoid())")


def build_model(name: str):
    """(module, input shape) of one of the MODELS."""
    compiler.manual_seed(0)
    if name == "wide":
        return Wide().eval(), (1, 3, 12, 12)
    if name == "training":
        return Training(), (2, 3, 6, 6)
    if name == "two":
        return TwoInTwoOut().eval(), [(1, 3, 4, 4), (1, 3, 4, 4)]
    return eval(CONV_ONLY, {"nn": nn}).eval(), (2, 3, 9, 7)


def compiled(name: str, **options):
    return compiler.compile(*build_model(name), **options)


MODELS = ["conv_only", "wide", "training", "two"]


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    return compiled(request.param)


@pytest.mark.parametrize("isa", isas.ALL)
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_source_compiles_without_warnings(name, fuse, isa):
    """Every ISA's C, rendered and compiled on whatever machine runs the tests."""
    isas.assert_compiles_cleanly(isas.render(*build_model(name), isa, fuse=fuse), isa)


def test_wide_model_runs_like_the_reference():
    compiler.manual_seed(0)
    model = Wide().eval()
    m = compiler.compile(model, (1, 3, 12, 12))
    x = np.random.default_rng(0).standard_normal((1, 3, 12, 12), dtype=np.float32)
    expected = interp.run(compiler.trace(model, x.shape), x)
    np.testing.assert_allclose(m(x), expected, rtol=1e-4, atol=1e-6)


def test_every_kernel_opens_with_a_header(model):
    for k in model.kernels:
        first, *rest = k.source.splitlines()
        assert first.startswith(f"/* {k.name}: "), first
        header = k.source[:k.source.index("*/")]
        for layer in k.layers:
            assert c_comment(layer) in header
        assert "x".join(map(str, k.out_shape)) in header
        for shape in k.in_shapes:
            assert "x".join(map(str, shape)) in header
        assert f"{k.flops / 1e6:.3f} MFLOP" in header
        assert re.search(rf"\n(void|static void) {k.name}\(", k.source)


@pytest.mark.parametrize("kernels", ["reference", "auto"])
def test_sizes_are_literals(kernels):
    m = compiled("conv_only", kernels=kernels)
    for k in m.kernels:
        signature = re.search(rf"void {k.name}\(([^)]*)\)", k.source).group(1)
        params = [" ".join(p.split()) for p in signature.split(",")]
        # only data pointers and the per-call values; never a size, stride or shape
        assert all("*" in p or p in ("uint64_t step", "int nthreads") for p in params), params
    if kernels == "auto":                   # blocked: V-channel blocks, a 9x7 image
        body = code_only(m.kernels[0].source)
        v = Target.detect().vector_floats
        assert re.search(r"<\s*2\b", body) and re.search(rf"\b{v}\b", body)
        assert re.search(r"\[9\]", body) and "shape" not in body
        return
    conv = m.kernels[0]                     # 2x3x9x7 -> 2x8x9x7, 3x3, pad 1
    body = code_only(conv.source)
    assert re.search(r"<\s*8\b", body) and re.search(r"<\s*2\b", body)     # oc and n bounds
    assert re.search(r"\b63\b", body)                                        # oh * ow
    second = code_only(m.kernels[1].source)  # stride 2, groups 4: 8x9x7 -> 8x4x3
    assert re.search(r"\b12\b", second)                                       # oh * ow
    assert "[" in body and "shape" not in body


# --- the identifier and comment sanitisers --------------------------------------------------

HOSTILE = ['x; system("rm -rf /"); //', "*/ evil(); /*", "ünïcödé", "名前", "3d", "1",
           "a" * 5000, "int", "return", "while", "__reserved", "_Capital", "a\nb",
           "trailing\\", "??/", "*\\", "#define X 1", "a b\tc", "$$", "'quote\"", "end*", "/", "*"]


@pytest.mark.parametrize("name", HOSTILE + [""], ids=range(len(HOSTILE) + 1))
def test_c_identifier_is_always_valid(name):
    ident = c_identifier(name)
    assert IDENT.match(ident), ident
    assert ident not in C_KEYWORDS and "__" not in ident and len(ident) <= 64
    assert IDENT.match(c_identifier("k000", name))


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_c_comment_is_always_inert(name):
    text = c_comment(name)
    assert "*/" not in text and "/*" not in text and "??" not in text
    assert all(32 <= ord(ch) < 127 and ch != "\\" for ch in text)
    # a comment that ends in the text and a star or slash next to the delimiters stays closed
    for wrapped in (f"/* {text} */", f"/*{text}*/"):
        assert code_only(wrapped).strip() == ""


def test_c_keywords_and_digits():
    assert c_identifier("int") != "int" and c_identifier("3") != "3"
    assert c_identifier("features", "3") == "features_3"
    assert c_identifier("") == "anon"


def hostile_model():
    """Layers registered under hostile attribute names, inside a class with a hostile name."""
    body = nn.Sequential()
    body.add_module(HOSTILE[0], nn.Conv2d(3, 4, 3, padding=1))
    body.add_module(HOSTILE[1], nn.BatchNorm2d(4))
    body.add_module("ünïcödé", nn.ReLU())
    body.add_module("名前", nn.Conv2d(4, 4, 1))
    body.add_module("3d", nn.Tanh())
    body.add_module("a" * 5000, nn.Conv2d(4, 4, 3, padding=1))
    body.add_module("int", nn.LeakyReLU(0.1))
    body.add_module("??/", nn.ELU())
    body.add_module("*\\", nn.Sigmoid())
    body.add_module("trailing\\", nn.Conv2d(4, 2, 1))

    def forward(self, x):
        y = self.body(x)
        return y, getattr(self, "return")(y) + y

    evil = type('Evil */ int main(void) { return 1; } /* \\', (nn.Module,), {"forward": forward})
    model = evil()
    model.body = body
    setattr(model, "return", nn.SELU())
    return model.eval()


def test_hostile_names_compile_and_run(tmp_path):
    compiler.manual_seed(0)
    model = hostile_model()
    for fuse in (True, False):
        m = compiler.compile(model, (1, 3, 5, 5), fuse=fuse)
        names = [k.name for k in m.kernels]
        assert all(IDENT.match(n) and len(n) < 80 for n in names) and len(set(names)) == len(names)
        code = code_only(m.source)
        for fragment in ('system("', "rm -rf", "evil();", "main(void)", "??/", "ünï", "名前",
                         "a" * 100, "#define X"):
            assert fragment not in code, fragment
        syntax_check(m.source, tmp_path)
        syntax_check(m.source, tmp_path, [f if f != "-std=gnu11" else "-std=c11"
                                          for f in SYNTAX] + ["-trigraphs"])
        x = np.random.default_rng(0).standard_normal((1, 3, 5, 5), dtype=np.float32)
        for got, want in zip(m(x), interp.run(compiler.trace(model, x.shape), x)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        k = m.kernels[0]
        assert k.layers[0] == f"body.{HOSTILE[0]}"


@pytest.mark.parametrize("bad", ["", "a.b"])
def test_add_module_rejects_names_torch_rejects(bad):
    with pytest.raises(KeyError):
        nn.Sequential().add_module(bad, nn.ReLU())


# --- templates are found from a checkout and from an installed wheel -------------------------

def test_templates_dir_has_every_template():
    where = templates_dir()
    assert where.is_dir()
    names = {p.name for p in where.iterdir()}
    assert {"common.h.j2", "c.j2", "model.c.j2", "conv2d.c.j2", "eltwise.c.j2"} <= names
    used = {k_spec.template for name in MODELS for k_spec in compiled(name).plan.kernels}
    assert used <= names


def test_wheel_maps_templates_into_the_package():
    import tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["templates"] == "compiler/_templates"
    assert set(wheel["packages"]) >= {"compiler", "runtime"}


def test_templates_found_in_an_installed_layout(tmp_path):
    """Lay the packages out as a wheel installs them (templates inside compiler/_templates, no
    checkout around) and compile from a process that can only see that copy."""
    site = tmp_path / "site-packages"
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("compiler", "runtime"):
        shutil.copytree(REPO / package, site / package, ignore=ignore)
    shutil.copytree(REPO / "templates", site / "compiler" / "_templates", ignore=ignore)
    script = (
        "import numpy as np, compiler\n"
        "from compiler import nn\n"
        "from compiler.codegen.env import templates_dir\n"
        "print(templates_dir())\n"
        "m = compiler.compile(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), (1, 1, 4, 4))\n"
        "print(m(np.ones((1, 1, 4, 4), np.float32)).shape)\n")
    env = dict(os.environ, PYTHONPATH=str(site), SMELT_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert Path(lines[0]) == site / "compiler" / "_templates"
    assert lines[1] == "(1, 2, 2, 2)"
