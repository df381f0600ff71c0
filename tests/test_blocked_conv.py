"""Blocked depthwise Conv2d and ConvTranspose2d: the family each case's tag names is the one that
runs, V = 8 (AVX2) and V = 4 match PyTorch too, as do the reference kernels; the transposed
convolution's input-channel chunks; padded lanes stay zero; the small networks use the fast
families."""
from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler.kernels import conv_transpose_blocked
from compiler.planner import plan
from compiler.target import Target
from tests.nets import NETWORKS

from .cases import blocked_conv
from .isas import RUNNABLE
from .parity import assert_close, compile_case, fixture, smelt_model

CASES = blocked_conv.CASES
#: cases about the last Conv2d's family (conv2d_dot or, declined, conv2d_blocked)
LAST_CONV = (blocked_conv.CONV_DOT, blocked_conv.CONV_BLOCKED)


def watched(node) -> bool:
    """The layers the cases are about: transposed and depthwise (groups == C_in) convs."""
    op = node.op
    return op.kind == "ConvTranspose2d" or (op.kind == "Conv2d" and op.groups > 1 and
                                            op.groups == op.in_channels)


def case_plan(case, fuse=True, isa=None):
    _, sd, _, _ = fixture(case)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    return plan(compiler.trace(smelt_model(case, sd), shape), fuse=fuse,
                target=Target.detect(isa))


@pytest.mark.parametrize("case", [c for c in CASES if c.tags not in LAST_CONV],
                         ids=lambda c: c.id)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_expected_family_runs(case, fuse):
    specs = [k for k in case_plan(case, fuse, "avx512").kernels if watched(k.node)]
    assert specs
    for spec in specs:
        assert spec.family in case.tags, spec.name
        if fuse and case.tags == blocked_conv.DW + blocked_conv.REF:
            assert spec.family == "depthwise_blocked", spec.name    # beside a blocked residual


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("kernels, isa", [("auto", "avx2"), ("auto", "generic"),
                                          ("reference", None)],
                         ids=["avx2", "generic", "reference"])
def test_other_block_widths_and_reference_kernels(case, kernels, isa):
    xs, sd, expected, _ = fixture(case)
    _, m = compile_case(case, sd, kernels=kernels, isa=isa)
    assert_close(m(*xs), expected, case.rtol, case.atol, f"{case.id} {kernels} {isa}")


@pytest.mark.parametrize("case", [c for c in CASES if c.tags in LAST_CONV], ids=lambda c: c.id)
def test_few_output_channels_run_as_dot_products(case):
    """The network's last convolution (and everything fused into it) is one conv2d_dot kernel
    when it writes few channels with stride 1 and even padding; otherwise conv2d_blocked."""
    last = case_plan(case, True, "avx512").kernels[-1]
    assert last.node.op.kind == "Conv2d" and last.family in case.tags, last.family


CHUNKED = [c for c in CASES if c.tags == blocked_conv.CT]


@pytest.mark.parametrize("case", CHUNKED, ids=lambda c: c.id)
def test_convT_input_channel_chunks(case, monkeypatch):
    """With no L2 budget, a transposed conv with blocked input and output and several input
    blocks per group (V = 8) accumulates one block at a time in its output: same numbers."""
    monkeypatch.setattr(conv_transpose_blocked, "WEIGHT_CHUNK_BYTES", 1)
    xs, sd, expected, _ = fixture(case)
    _, m = compile_case(case, sd, isa="avx2")
    for k in m.plan.kernels:
        op = k.node.op
        if op.kind == "ConvTranspose2d" and k.family == "conv_transpose2d_blocked":
            several = op.in_channels // op.groups > 8
            expect = several and k.out_layout.blocked and k.in_layouts[0].blocked
            assert ("input chunks" in k.note) == expect, k.note
    assert_close(m(*xs), expected, case.rtol, case.atol, f"{case.id} chunked")


@pytest.mark.parametrize("layer", [
    "nn.Conv2d(17, 17, 3, 1, 1, groups=17)",
    "nn.ConvTranspose2d(17, 17, 4, 2, 1)",
])
def test_padded_lanes_stay_zero(layer):
    """A Sigmoid epilogue (f(0) != 0) and NaN in the real lanes: the padded lanes of the blocked
    output are still zero."""
    model = eval(f"nn.Sequential(nn.Conv2d(3, 17, 1), {layer}, nn.Sigmoid(), nn.Conv2d(17, 4, 1))",
                 {"nn": compiler.nn})
    m = compiler.compile(model.eval(), (1, 3, 5, 6))
    (k,) = [k for k in m.kernels if k.ops[:2] in (["Conv2d", "Sigmoid"],
                                                   ["ConvTranspose2d", "Sigmoid"]) and
            k.in_layouts[0] != "NCHW"]
    assert k.family in ("depthwise_blocked", "conv_transpose2d_blocked")
    x = np.random.default_rng(0).standard_normal(k.in_shapes[0]).astype(np.float32)
    x[:, -1, :, :, 1:] = 0.0                         # the input's padded lanes (17 = 16 + 1)
    x[0, 0, 1, 2, 3] = np.nan
    out = np.full(k.out_shape, 7.0, np.float32)
    k(x, out)
    assert np.all(out[:, -1, :, :, 1:] == 0.0)
    assert np.isnan(out).any()                    # NaN did reach the real lanes


@pytest.mark.parametrize("name, families", [
    ("dcgan_generator", ["conv_transpose2d_blocked"] * 4 + ["conv_transpose2d_dot"]),
    ("depthwise_separable", ["depthwise_blocked"] * 9)])
def test_networks_use_the_fast_families(name, families):
    net = NETWORKS[name]
    p = plan(compiler.trace(net.build(compiler.nn, compiler.cat).eval(), net.shape),
             target=Target.detect("avx512"))
    assert [k.family for k in p.kernels if watched(k.node)] == families


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("layer, shape, family", [
    ("nn.Conv2d(64, 48, 3, 1, 1)", (3, 64, 5, 7), "conv2d_blocked"),
    ("nn.ConvTranspose2d(64, 32, 4, 2, 1)", (3, 64, 4, 3), "conv_transpose2d_blocked"),
], ids=["conv", "convT"])
def test_batch_runs_weight_stationary(layer, shape, family, isa):
    """Weights larger than one image: the images run inside the loop over output channel
    groups. Every image's output equals, bit for bit, the same layer run on it alone (the
    arithmetic per pixel is the same), and matches PyTorch's numbers through the reference."""
    model = eval(f"nn.Sequential({layer}, nn.ReLU())", {"nn": compiler.nn}).eval()
    m = compiler.compile(model, shape, isa=isa)
    (k,) = m.plan.kernels
    assert k.family == family and "threads over (block group, n" in k.note
    alone = compiler.compile(model, (1,) + shape[1:], isa=isa)
    assert "threads over (n, block group" in alone.plan.kernels[0].note
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    y = m(x)
    for i in range(shape[0]):
        np.testing.assert_array_equal(y[i:i + 1], alone(x[i:i + 1]))
    reference = compiler.compile(model, shape, kernels="reference")
    assert_close(y, reference(x), 1e-5, 1e-6, f"{layer} batch {shape[0]}")


def test_short_rows_take_one_wide_tile():
    """AVX2's short_rows: a 3x3 convolution's row of at most 7 pixels is one tile of 2 blocks,
    of at most 4 pixels one of 4 blocks; 1x1 kernels and longer rows keep the budget."""
    from compiler.kernels.conv_blocked import pick_tile
    assert pick_tile("avx2", 64, 7) == (2, 7)
    assert pick_tile("avx2", 64, 4) == (4, 4)
    assert pick_tile("avx2", 6, 4) == (2, 4)            # 6 blocks: not a multiple of 4
    assert pick_tile("avx2", 64, 8) == (2, 6)
    assert pick_tile("avx2", 64, 7, kw=1) == (2, 6)
    assert pick_tile("avx512", 64, 4) == (2, 4)
    # a first layer reading NCHW: one block of 12 pixels, except 7x7 stems and the generic ISA
    assert pick_tile("avx512", 4, 64, nchw_in=True) == (1, 12)
    assert pick_tile("avx2", 8, 5, nchw_in=True) == (1, 5)
    assert pick_tile("avx512", 4, 112, kw=7, nchw_in=True) == (2, 8)
    assert pick_tile("generic", 16, 64, nchw_in=True) == (2, 6)


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("shape, avx2_tile", [
    ((2, 32, 5, 4), "tile 4 px x 4 blocks"),
    ((1, 16, 3, 7), "tile 7 px x 2 blocks"),
    ((1, 40, 7, 3), "tile 3 px x 1 block"),           # 5 blocks: the preferred tiles
], ids=["4px", "7px", "3px_40ch"])
def test_short_row_tiles_match_the_reference(shape, avx2_tile, isa):
    """Short rows with padding on both sides, a stride-1 3x3 conv and a fused residual."""
    c = shape[1]

    class Block(compiler.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = compiler.nn.Conv2d(c, c, 3, padding=1)
            self.relu = compiler.nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(x) + x)

    model = compiler.nn.Sequential(compiler.nn.Conv2d(c, c, 1), Block()).eval()
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    m = compiler.compile(model, shape, isa=isa)
    if isa == "avx2":
        assert avx2_tile in m.plan.kernels[-1].note
    got = m(x)
    want = compiler.compile(model, shape, kernels="reference")(x)
    assert_close(got, want, 1e-5, 1e-6, f"{shape} {isa}")


class SigmoidResidual(compiler.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = compiler.nn.Conv2d(c, c, 3, padding=1)
        self.act = compiler.nn.Sigmoid()

    def forward(self, x):
        return self.act(self.conv(x) + x)


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("model, shape", [
    ("nn.Sequential(nn.Conv2d(4, 20, 3, padding=1), nn.Tanh())", (2, 4, 5, 13)),
    ("nn.Sequential(nn.Conv2d(3, 8, 1), SigmoidResidual(8))", (1, 3, 6, 9)),
    ("nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.ELU(0.5))", (1, 3, 11, 30)),
], ids=["tanh_padded_lanes", "sigmoid_residual", "elu_stride2"])
def test_costly_steps_into_nchw_run_over_whole_rows(model, shape, isa):
    """A costly activation fused into a convolution that writes NCHW: rows are stored raw and
    the steps run over each finished row (they vectorise there). NaN and large values pass
    through as in the reference kernels."""
    m_model = eval(model, {"nn": compiler.nn, "SigmoidResidual": SigmoidResidual}).eval()
    m = compiler.compile(m_model, shape, isa=isa)
    last = m.plan.kernels[-1]
    assert last.family == "conv2d_blocked" and last.ctx["finish_rows"]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32) * 4
    x[0, 0, 1, 2] = np.nan
    x[0, -1, -1, -1] = 1e30
    want = compiler.compile(m_model, shape, kernels="reference")(x)
    assert_close(m(x), want, 1e-5, 1e-6, f"{model} {isa}")
