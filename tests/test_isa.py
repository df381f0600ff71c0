"""The fast kernels against the reference kernels, and narrower ISAs than this machine's:
the same networks must give the same numbers whichever code path runs."""
import os

import numpy as np
import pytest

import compiler

from . import isas
from .nets import NETWORKS
from .parity import assert_close

SMALL_NETS = ["small_resnet", "dcgan_generator", "espcn", "small_unet", "depthwise_separable",
              "activation_zoo"]


def build(name):
    net = NETWORKS[name]
    compiler.manual_seed(1)
    model = net.build(compiler.nn, compiler.cat).eval()
    x = np.random.default_rng(1).standard_normal(net.shape, dtype=np.float32)
    return model, net, x


@pytest.fixture(scope="module")
def fast_outputs():
    return {}


def fast(name, cache):
    if name not in cache:
        model, net, x = build(name)
        cache[name] = compiler.compile(model, net.shape)(x)
    return cache[name]


@pytest.mark.parametrize("name", SMALL_NETS)
def test_reference_kernels_agree_with_fast_ones(name, fast_outputs):
    model, net, x = build(name)
    reference = compiler.compile(model, net.shape, kernels="reference")
    assert all(k.out_layout == "NCHW" for k in reference.kernels)
    assert_close(fast(name, fast_outputs), reference(x), net.rtol, 1e-5, name)


WIDTHS = {"avx512": 64, "avx2": 32, "generic": 16}


@pytest.mark.parametrize("isa", isas.RUNNABLE[1:] + ["generic"])
@pytest.mark.parametrize("name", SMALL_NETS)
def test_narrower_isa_builds_and_agrees(name, isa, fast_outputs):
    model, net, x = build(name)
    m = compiler.compile(model, net.shape, isa=isa)
    assert f"vector_size({WIDTHS[isa]})" in m.source
    assert_close(m(x), fast(name, fast_outputs), net.rtol, 1e-5, f"{name} on {isa}")


@pytest.mark.parametrize("isa", isas.ALL)
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_isa_renders_warning_free_c(name, isa):
    """Each network's C for every ISA compiles with -Werror here, whatever this CPU runs."""
    model, net, _ = build(name)
    isas.assert_compiles_cleanly(isas.render(model, net.shape, isa), isa)


def test_isa_this_cpu_lacks_is_refused_before_building(monkeypatch):
    from compiler import target
    monkeypatch.setattr(target, "cpu_flags", lambda: frozenset({"avx", "avx2", "fma", "bmi1",
                                                                 "bmi2", "f16c", "movbe"}))
    model, net, _ = build("small_resnet")
    with pytest.raises(ValueError, match="avx512f"):
        compiler.compile(model, net.shape, isa="avx512")
    assert target.host_isa() == "avx2"


def test_isa_is_validated():
    model, net, _ = build("small_resnet")
    with pytest.raises(ValueError, match="isa"):
        compiler.compile(model, net.shape, isa="sse9")
    with pytest.raises(ValueError, match="SMELT_ISA"):
        os.environ["SMELT_ISA"] = "sse9"
        try:
            compiler.compile(model, net.shape)
        finally:
            del os.environ["SMELT_ISA"]


def test_fast_path_is_taken_for_every_convolution():
    """ResNet-18 at full size: every conv runs a register-tiled kernel, the stride-1 3x3 ones of
    layers 1-3 Winograd's, no Reorder kernel appears, and the plan keeps issue 3's 23
    kernels."""
    net = NETWORKS["resnet18"]
    model = net.build(compiler.nn, compiler.cat, full=True).eval()
    from compiler.planner import plan
    p = plan(compiler.trace(model, net.full_shape))
    convs = [k for k in p.kernels if k.node.op.kind == "Conv2d"]
    assert convs and all(k.family in ("conv2d_blocked", "conv2d_winograd") for k in convs)
    winograd = [k.node.name for k in convs if k.family == "conv2d_winograd"]
    assert [name for name in winograd if not name.startswith("layer4")] == [
        k.node.name for k in convs if k.node.op.kernel_size == (3, 3)
        and k.node.op.stride == (1, 1) and not k.node.name.startswith(("layer4", "conv1"))]
    assert not any(k.node.op.kind == "Reorder" for k in p.kernels)
    assert len(p.kernels) == 23
