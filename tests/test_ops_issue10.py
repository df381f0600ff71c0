"""Issue 10's ops beyond their PyTorch parity rows (tests/cases/ops.py, norm.py, pool.py):
the C of their kernels keeps to the house style and builds cleanly for every ISA, unbatched
inputs run the batched kernels, and the layers refuse what torch refuses, clearly."""
from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler import nn
from compiler.errors import ShapeError, TraceError, UnsupportedArgumentError

from . import isas
from .cases import BY_ID
from .frameworks import build, smelt_namespace
from .test_c_style import style_problems

#: one row per new kernel family, NCHW and blocked
KERNEL_CASES = ["lrn_tiles", "lrn_3d", "adaptivemax_overlap", "blk_adaptivemax_overlap_c17",
                "shuffle_g3", "blk_shuffle_c20", "blk_chunk_c32", "blk_chunk_c40", "chunk_2d",
                "up_bicubic_frac", "blk_se_c20", "unbatched_se_shuffle"]


def case_model(case_id: str):
    case = BY_ID[case_id]
    compiler.manual_seed(0)
    return build(case.spec, smelt_namespace()).eval(), case.shape


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("case_id", KERNEL_CASES)
def test_kernels_read_as_written_by_hand(case_id, fuse):
    model, shape = case_model(case_id)
    for isa in isas.ALL:
        problems = style_problems("\n".join(isas.render(model, shape, isa, fuse=fuse)))
        assert not problems, f"{isa}: " + "\n".join(problems[:10])


@pytest.mark.parametrize("isa", isas.ALL)
def test_kernels_compile_without_warnings_for_every_isa(isa):
    for case_id in KERNEL_CASES:
        isas.assert_compiles_cleanly(isas.render(*case_model(case_id), isa), isa)


def test_element_dropout_compiles_for_every_isa():
    model = nn.Sequential(nn.Conv2d(3, 20, 3), nn.Dropout(0.3), nn.Conv2d(20, 4, 1)).train()
    for isa in isas.ALL:
        units = isas.render(model, (1, 3, 6, 6), isa)
        assert not style_problems("\n".join(units))
        isas.assert_compiles_cleanly(units, isa)


def test_unbatched_runs_the_batched_kernels():
    model, _ = case_model("unbatched_se_shuffle")
    one = compiler.compile(model, (3, 6, 7))
    batched = compiler.compile(model, (1, 3, 6, 7))
    assert [k.ops for k in one.kernels] == [k.ops for k in batched.kernels]
    assert [k.out_layout for k in one.kernels] == [k.out_layout for k in batched.kernels]
    x = np.random.default_rng(0).standard_normal((3, 6, 7), dtype=np.float32)
    y = one(x)
    assert y.shape == (1, 12, 14)
    np.testing.assert_array_equal(y, batched(x[None])[0])
    with pytest.raises(ValueError, match=r"\(3, 6, 7\)"):
        one(x[None])


def test_unbatched_follows_torch_where_it_refuses_or_differs():
    with pytest.raises(ShapeError, match="expected a 4-D input"):
        compiler.trace(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), (3, 5, 5))
    with pytest.raises(ShapeError, match=r"Conv2d \(Conv2d\): expected 3 input channels, got 4 "
                                         r"\(input shape 4x5x5\)"):
        compiler.trace(nn.Conv2d(3, 4, 1), (4, 5, 5))
    # torch reads a 3-D input to these as (N, C, L): no batch of one is added
    g = compiler.trace(nn.Sequential(nn.ChannelShuffle(2), nn.LocalResponseNorm(2)), (2, 4, 3))
    assert [n.shape for n in g.nodes] == [(2, 4, 3), (2, 4, 3)]


def test_pieces_along_channels_only():
    class Chunk(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.args, self.kwargs = args, kwargs

        def forward(self, x):
            return compiler.cat(list(x.chunk(*self.args, **self.kwargs)), dim=1)

    with pytest.raises(TraceError, match="only pieces along dim 1"):
        compiler.trace(Chunk(2), (4, 6, 3, 3))                       # torch's default dim=0
    g = compiler.trace(Chunk(4, dim=-3), (1, 6, 3, 3))               # 2 + 2 + 2: 3 pieces
    assert [n.op.describe() for n in g.nodes[:3]] == [
        f"ChannelSlice(start={a}, stop={a + 2})" for a in (0, 2, 4)]

    class Split(nn.Module):
        def forward(self, x):
            return x.split([2, 2], dim=1)[0]

    with pytest.raises(ShapeError, match=r"split sizes \[2, 2\] do not divide the 6 channels"):
        compiler.trace(Split(), (1, 6, 2, 2))


def test_layers_refuse_what_torch_refuses():
    with pytest.raises(UnsupportedArgumentError, match="AdaptiveMaxPool2d: return_indices=True"):
        nn.AdaptiveMaxPool2d(2, return_indices=True)
    with pytest.raises(TypeError, match="AdaptiveMaxPool2d: output_size"):
        nn.AdaptiveMaxPool2d(None)
    with pytest.raises(UnsupportedArgumentError, match="'bilinear' and 'bicubic'"):
        nn.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(ShapeError, match="channels 6 are not divisible by groups 4"):
        compiler.trace(nn.ChannelShuffle(4), (1, 6, 2, 2))
    with pytest.raises(ShapeError, match="expected a 3-D or higher input"):
        compiler.trace(nn.LocalResponseNorm(2), (4, 5))
    assert repr(nn.LocalResponseNorm(3)) == \
        "LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)"
    assert repr(nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"


def se_kernels(spec: str, shape, **options):
    compiler.manual_seed(1)
    graph = compiler.trace(build(spec, smelt_namespace()).eval(), shape)
    return graph, compiler.compile(graph, **options)


@pytest.mark.parametrize("spec, shape", [
    ("nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), SqueezeExcite(20), nn.Conv2d(20, 5, 1))",
     (2, 3, 5, 5)),
    ("nn.Sequential(nn.Conv2d(3, 32, 1), SqueezeExcite(32), nn.Conv2d(32, 24, 3, padding=1))",
     (1, 3, 6, 6)),
    ("nn.Sequential(SqueezeExcite(40, 8), nn.Conv2d(40, 24, 3, padding=1), "
     "nn.Conv2d(24, 4, 1))", (2, 40, 6, 6)),     # NCHW input: the Reorder applies it
    ("nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), Binary('div', nn.Identity(), "
     "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Sigmoid())), nn.Conv2d(20, 5, 3, padding=1))",
     (2, 3, 5, 5)),
], ids=["se_1x1", "se_3x3", "se_on_input", "div"])
def test_channelwise_scale_runs_in_the_next_conv_loads(spec, shape):
    """x * s (s = N x C x 1 x 1) is never written: the conv reading it scales each input
    value as it loads it. One kernel fewer than as a standalone elementwise kernel."""
    graph, m = se_kernels(spec, shape)
    ops = [k.ops for k in m.kernels]
    assert not any(o in (["Mul"], ["Div"]) for o in ops), ops
    assert any(o[0] in ("Mul", "Div") and "Conv2d" in o or o[:2] == ["Reorder", "Mul"]
               for o in ops), ops
    without = [p for p in compiler.planner.FUSING_PASSES
               if p.__name__ != "fuse_channelwise_prologues"]
    try:
        compiler.planner.FUSING_PASSES, saved = without, compiler.planner.FUSING_PASSES
        before = compiler.planner.plan(graph)
    finally:
        compiler.planner.FUSING_PASSES = saved
    assert len(m.kernels) < len(before.kernels)
    x = np.random.default_rng(2).standard_normal(shape, dtype=np.float32)
    for y in (m(x), se_kernels(spec, shape, kernels="reference")[1](x)):
        np.testing.assert_allclose(y, compiler.interp.run(graph, x), rtol=1e-5, atol=1e-5)


def test_channelwise_prologue_keeps_padded_lanes_zero():
    """A scale of inf in the last real channel (20 of 32 lanes): the padded lanes must not
    turn 0 * inf into NaN and spoil every output."""

    class InfScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.tail = nn.Conv2d(3, 20, 1), nn.Conv2d(20, 4, 1)

        def forward(self, x, s):
            y = self.conv(x)                    # read twice: the product is not its epilogue
            return self.tail(y * s), y

    graph = compiler.trace(InfScale().eval(), [(1, 3, 4, 4), (1, 20, 1, 1)])
    m = compiler.compile(graph)
    assert ["Mul", "Conv2d"] in [k.ops for k in m.kernels]
    x = np.random.default_rng(3).standard_normal((1, 3, 4, 4), dtype=np.float32)
    s = np.ones((1, 20, 1, 1), np.float32)
    s[0, 19] = np.inf
    expected = compiler.interp.run(graph, x, s)[0]
    assert not np.isnan(expected).all()
    np.testing.assert_array_equal(np.isnan(m(x, s)[0]), np.isnan(expected))


@pytest.mark.parametrize("spec", [
    # a depthwise conv has no blocked kernel with a prologue: the product is written
    "nn.Sequential(nn.Conv2d(3, 16, 1), SqueezeExcite(16), nn.Conv2d(16, 16, 3, groups=16))",
    # the product is read twice
    "nn.Sequential(nn.Conv2d(3, 16, 1), SqueezeExcite(16), Add(nn.Conv2d(16, 16, 1)))",
])
def test_channelwise_scale_stays_a_kernel_where_it_must(spec):
    _, m = se_kernels(spec, (1, 3, 5, 5))
    assert ["Mul"] in [k.ops for k in m.kernels]
