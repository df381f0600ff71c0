"""The branch-free exp family of templates/common.h.j2 (smelt_expf, smelt_expm1f, sigmoid, tanh,
ELU, SELU) against float64 references over arguments spanning every binade of both signs:
ulp error bounds, special values (NaN, +-inf, overflow, denormal results and arguments), and
that loops calling them vectorise. Run with -s to see the error statistics."""
from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from compiler.codegen.env import render
from compiler.ops.eltwise import SELU_ALPHA, SELU_SCALE
from compiler.target import Target

F32_SELU_SCALE = np.float32(SELU_SCALE)
F32_SELU_ALPHA_SCALE = np.float32(SELU_ALPHA) * np.float32(SELU_SCALE)

#: C expression per function, applied to x[i]
FUNCTIONS = {
    "expf": "smelt_expf(x[i])",
    "expm1f": "smelt_expm1f(x[i])",
    "sigmoid": "smelt_sigmoid(x[i])",
    "tanh": "smelt_tanh(x[i])",
    "elu": "smelt_elu(x[i], 1.0f)",
    "selu": "smelt_selu(x[i])",
}
#: the bound the templates promise (measured maxima are printed by test_ulp_error)
MAX_ULP = 2.0


def reference(name: str, x: np.ndarray) -> np.ndarray:
    """float64 values (the float32 result should be their rounding)."""
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "expf": lambda: np.exp(x),
            "expm1f": lambda: np.expm1(x),
            "sigmoid": lambda: 1.0 / (1.0 + np.exp(-x)),
            "tanh": lambda: np.tanh(x),
            "elu": lambda: np.where(x > 0, x, np.expm1(x)),
            # as the C computes it: one float32 constant times the exact value
            "selu": lambda: np.where(x > 0, x * float(F32_SELU_SCALE),
                                     np.expm1(x) * float(F32_SELU_ALPHA_SCALE)),
        }[name]()


def source() -> str:
    common = render("common.h.j2", version="test", title="math test", kernel_count=0,
                    vector_floats=max(4, Target.detect().vector_floats), total_mflops=0.0,
                    selu_scale=SELU_SCALE, selu_alpha_scale=float(F32_SELU_ALPHA_SCALE))
    loops = [f"void m_{name}(const float *restrict x, float *restrict y, int64_t n)\n"
             f"{{\n    for (int64_t i = 0; i < n; ++i)\n        y[i] = {expr};\n}}\n"
             for name, expr in FUNCTIONS.items()]
    return common + "\n" + "\n".join(loops)


CDEF = "\n".join(f"void m_{name}(const float *x, float *y, int64_t n);" for name in FUNCTIONS)


@pytest.fixture(scope="module", params=["native", "generic"])
def lib(request):
    """The functions built for this machine and for plain x86-64 (SSE2, no FMA contraction)."""
    from runtime import cache
    library = cache.load([source()], CDEF, request.param)
    return SimpleNamespace(ffi=library.ffi, lib=library.lib, isa=request.param)


def apply(lib, name: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, np.float32)
    y = np.empty_like(x)
    ffi = lib.ffi
    getattr(lib.lib, f"m_{name}")(ffi.from_buffer("float[]", x), ffi.from_buffer("float[]", y),
                                  x.size)
    return y


def sweep() -> np.ndarray:
    """~17M arguments: every 331st positive float32 bit pattern (all binades, denormals
    included) with both signs, a dense grid over the range where exp neither overflows nor
    underflows, and the special values."""
    bits = np.arange(0, 0x7F800000, 331, dtype=np.uint32)
    pos = bits.view(np.float32)
    dense = np.linspace(-110, 100, 4_000_000, dtype=np.float32)
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 88.72283, 88.72284, -87.33655,
                        -103.97208, -103.972084, -104.0, 1e-45, -1e-45], np.float32)
    return np.concatenate([pos, -pos, dense, special])


def ulp_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y - ref| in units of the float32 spacing at ref (denormal spacing 2^-149; a reference
    beyond FLT_MAX counts as inf, and an infinite y then has no error)."""
    with np.errstate(over="ignore", invalid="ignore"):
        ref32 = ref.astype(np.float32)
        spacing = np.maximum(np.spacing(np.abs(ref32)).astype(np.float64), 2.0 ** -149)
        spacing[~np.isfinite(spacing)] = 2.0 ** 104          # the spacing at FLT_MAX
        err = np.abs(y.astype(np.float64) - ref) / spacing
    same_inf = np.isinf(y) & np.isinf(ref32) & (np.sign(y) == np.sign(ref32))
    err[same_inf] = 0.0
    return err


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_ulp_error(lib, name):
    x = sweep()
    y, ref = apply(lib, name, x), reference(name, x)
    assert np.array_equal(np.isnan(y), np.isnan(ref)), f"{name}: NaN where the reference has none"
    keep = ~np.isnan(ref)
    err = ulp_error(y[keep], ref[keep])
    worst = int(np.argmax(err))
    print(f"\n{name} ({lib.isa}): {keep.sum()} arguments, max {err.max():.3f} ulp at x = "
          f"{x[keep][worst]!r}, mean {err.mean():.4f}, > 1 ulp: {np.mean(err > 1):.2e}")
    assert err.max() <= MAX_ULP, f"{name}: {err.max():.2f} ulp at x = {x[keep][worst]!r}"


def test_special_values(lib):
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    cases = {
        "expf": [(inf, inf), (-inf, 0.0), (nan, nan), (0.0, 1.0), (89.0, inf), (-104.0, 0.0),
                 (-103.9, 1e-45)],
        "expm1f": [(inf, inf), (-inf, -1.0), (nan, nan), (-1e-8, -1e-8), (1e-30, 1e-30),
                   (-0.0, -0.0), (89.0, inf), (-40.0, -1.0)],
        "sigmoid": [(inf, 1.0), (-inf, 0.0), (nan, nan), (0.0, 0.5), (1e-40, 0.5),
                    (-1e-40, 0.5), (-200.0, 0.0)],
        "tanh": [(inf, 1.0), (-inf, -1.0), (nan, nan), (-0.0, -0.0), (1e-30, 1e-30),
                 (-1e-40, -1e-40), (20.0, 1.0), (-9.5, -1.0)],
        "elu": [(inf, inf), (-inf, -1.0), (nan, nan), (-1e-8, -1e-8), (-1e-40, -1e-40),
                (3.0, 3.0)],
        "selu": [(inf, inf), (-inf, -F32_SELU_ALPHA_SCALE), (nan, nan)],
    }
    for name, pairs in cases.items():
        x = np.array([p[0] for p in pairs], np.float32)
        want = np.array([p[1] for p in pairs], np.float32)
        y = apply(lib, name, x)
        np.testing.assert_array_equal(y, want, err_msg=name)
        zeros = want == 0
        np.testing.assert_array_equal(np.signbit(y[zeros]), np.signbit(want[zeros]),
                                      err_msg=f"{name}: sign of zero")


def test_denormal_results_and_arguments(lib):
    # e^x for x in [-103.97, -87.34] is a denormal: within one denormal step of float64's
    x = np.linspace(-103.9, -87.4, 100_000, dtype=np.float32)
    for name, sign in (("expf", 1.0), ("sigmoid", 1.0)):
        y = apply(lib, name, x).astype(np.float64)
        ref = np.exp(x.astype(np.float64)) if name == "expf" else reference(name, x)
        assert np.abs(y - ref).max() <= 2.0 ** -149, name
        assert (y > 0).all() and (y < np.finfo(np.float32).tiny).any(), name
    # denormal arguments: tanh, ELU and expm1 return them exactly, sigmoid 0.5, exp 1
    d = (np.arange(1, 2000, dtype=np.uint32) * 4091).view(np.float32)
    d = np.concatenate([d, -d])
    for name in ("tanh", "elu", "expm1f"):
        np.testing.assert_array_equal(apply(lib, name, d), d, err_msg=name)
    np.testing.assert_array_equal(apply(lib, "sigmoid", d), np.float32(0.5))
    np.testing.assert_array_equal(apply(lib, "expf", d), np.float32(1.0))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_loops_vectorise(tmp_path):
    from runtime import build
    path = tmp_path / "math.c"
    text = source()
    path.write_text(text)
    flags = [f for f in build.flags_for("native", False) if f != "-fPIC"]
    result = subprocess.run(["gcc", *flags, "-fopt-info-vec-optimized", "-c", str(path),
                             "-o", str(tmp_path / "math.o")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    vectorised = {int(m) for m in re.findall(r"math\.c:(\d+):\d+: optimized: loop vectorized",
                                              result.stderr)}
    lines = text.splitlines()
    for name in FUNCTIONS:
        loop = next(i for i, line in enumerate(lines, 1) if f"m_{name}(" in line) + 2
        assert loop in vectorised, f"the loop applying {name} did not vectorise"
