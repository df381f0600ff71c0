"""Blocked (NCHW[V]c) pools, Upsample, Cat and channel gathers: the blocked families are the ones that run, their
padded lanes stay zero and NaN propagates lane by lane, V = 8 (AVX2) matches PyTorch too, the
reference kernels still do, and ResNet-18's stem pool needs no Reorder."""
from __future__ import annotations


import numpy as np
import pytest

import compiler
from compiler import nn
from compiler.planner import plan
from compiler.target import Target

from . import isas
from .cases import BY_ID, blocked_pool, blocked_shape, ops
from .parity import assert_close, compile_case, fixture, smelt_model

BLOCKED = blocked_pool.CASES + blocked_shape.CASES + [
    c for c in ops.CASES if c.id.startswith(("blk_shuffle", "blk_chunk", "blk_split"))]
FAMILIES = {"MaxPool2d": "pool2d_blocked", "AvgPool2d": "pool2d_blocked",
            "AdaptiveAvgPool2d": "pool2d_blocked", "AdaptiveMaxPool2d": "pool2d_blocked",
            "Upsample": "upsample_blocked", "Cat": "cat_blocked",
            "ChannelShuffle": "channel_gather_blocked", "ChannelSlice": "channel_gather_blocked"}


def case_plan(case, fuse=True, isa=None):
    _, sd, _, _ = fixture(case)
    model = smelt_model(case, sd)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    return plan(compiler.trace(model, shape), fuse=fuse, target=Target.detect(isa))


@pytest.mark.parametrize("case", BLOCKED, ids=lambda c: c.id)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_blocked_family_runs(case, fuse):
    """Every pool / upsample / cat of a blocked case runs its blocked family on blocked
    tensors, or (a cat) is zero-copy; no Reorder feeds it but one of a graph input."""
    p = case_plan(case, fuse)
    nodes = [n for n in p.graph.nodes if n.op.kind in FAMILIES]
    read_by_conv = [k for k in p.kernels if k.kinds[0] == "Cat"]     # cat inside a conv's loads
    assert nodes or read_by_conv
    specs = {id(k.node): k for k in p.kernels}
    for node in nodes:
        if getattr(node.op, "zero_copy", False):
            assert node.layout.blocked
            continue
        spec = specs[id(node)]
        assert spec.family == FAMILIES[node.op.kind], spec.name
        assert spec.out_layout.blocked and all(lay.blocked for lay in spec.in_layouts)
        assert all(i.op.kind != "Reorder" or i.inputs[0] in p.graph.inputs
                   for i in node.inputs[:node.anchor_arity])      # only graph inputs convert


@pytest.mark.parametrize("case", BLOCKED, ids=lambda c: c.id)
@pytest.mark.parametrize("kernels, isa", [("auto", "avx2"), ("reference", None)],
                         ids=["avx2", "reference"])
def test_other_block_width_and_reference_kernels(case, kernels, isa):
    """V = 8 (other tails, other cat alignments) and kernels="reference" (all NCHW)."""
    xs, sd, expected, _ = fixture(case)
    _, m = compile_case(case, sd, kernels=kernels, isa=isa)
    assert_close(m(*xs), expected, case.rtol, case.atol, f"{case.id} {kernels} {isa}")


#: epilogues that do and do not read the channel, with and without padded lanes
WARNING_CASES = ["blk_maxpool_relu_c16", "blk_maxpool_bn_relu_c20", "blk_adaptive_1_bn_relu_c20",
                 "blk_avgpool_residual_c20", "blk_up_bilinear_tanh_c32",
                 "blk_up_nearest_sigmoid_c17", "blk_cat_8_16_17_b2", "blk_cat_input_bn_relu_b2"]


@pytest.mark.parametrize("isa", isas.ALL)
@pytest.mark.parametrize("case_id", WARNING_CASES)
def test_source_has_no_warnings(case_id, isa):
    """-Wall -Wextra -Werror, for every ISA's vector width, fused and unfused."""
    case = BY_ID[case_id]
    _, sd, _, _ = fixture(case)
    model = smelt_model(case, sd)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    for fuse in (True, False):
        isas.assert_compiles_cleanly(isas.render(model, shape, isa, fuse=fuse), isa)


def to_blocked(x: np.ndarray, v: int) -> np.ndarray:
    n, c, h, w = x.shape
    padded = np.zeros((n, -(-c // v) * v, h, w), np.float32)
    padded[:, :c] = x
    return np.ascontiguousarray(padded.reshape(n, -1, v, h, w).transpose(0, 1, 3, 4, 2))


def from_blocked(y: np.ndarray) -> np.ndarray:
    n, cb, h, w, v = y.shape
    return y.transpose(0, 1, 4, 2, 3).reshape(n, cb * v, h, w)


KERNEL_MODELS = {
    "maxpool": (lambda: nn.Sequential(nn.Conv2d(3, 20, 1), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                                      nn.Sigmoid(), nn.Conv2d(20, 4, 1)), (2, 3, 9, 10)),
    "avgpool": (lambda: nn.Sequential(nn.Conv2d(3, 17, 1), nn.AvgPool2d(3, 2, 1),
                                      nn.Sigmoid(), nn.Conv2d(17, 4, 1)), (1, 3, 8, 7)),
    "global": (lambda: nn.Sequential(nn.Conv2d(3, 33, 1), nn.AdaptiveAvgPool2d(1),
                                     nn.Sigmoid(), nn.Conv2d(33, 4, 1)), (2, 3, 7, 9)),
    "nearest": (lambda: nn.Sequential(nn.Conv2d(3, 17, 1), nn.Upsample(scale_factor=1.5),
                                      nn.Sigmoid(), nn.Conv2d(17, 4, 1)), (1, 3, 4, 5)),
    "bilinear": (lambda: nn.Sequential(nn.Conv2d(3, 20, 1),
                                       nn.Upsample(scale_factor=2, mode="bilinear"),
                                       nn.Sigmoid(), nn.Conv2d(20, 4, 1)), (2, 3, 4, 3)),
    "adaptive_max": (lambda: nn.Sequential(nn.Conv2d(3, 20, 1), nn.AdaptiveMaxPool2d((3, 4)),
                                           nn.Sigmoid(), nn.Conv2d(20, 4, 1)), (2, 3, 7, 9)),
    "shuffle": (lambda: nn.Sequential(nn.Conv2d(3, 20, 1), nn.ChannelShuffle(4),
                                      nn.Sigmoid(), nn.Conv2d(20, 4, 1)), (1, 3, 4, 5)),
}


@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("name", list(KERNEL_MODELS))
def test_kernel_lanes(name, isa):
    """Called alone on blocked arrays with NaN in random lanes: each lane equals the op's
    reference (NaN where its window has one), and padded lanes are zero after a sigmoid."""
    build, shape = KERNEL_MODELS[name]
    compiler.manual_seed(0)
    m = compiler.compile(build().eval(), shape, isa=isa)
    index, spec = next((i, k) for i, k in enumerate(m.plan.kernels)
                       if k.family in FAMILIES.values())
    v = spec.out_layout.v
    rng = np.random.default_rng(1)
    x = rng.standard_normal(spec.in_shapes[0]).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    out = np.full(m.kernels[index].out_shape, 7.0, np.float32)
    y = from_blocked(m.kernels[index](to_blocked(x, v), out))
    c = spec.out_shape[1]
    assert (y[:, c:] == 0).all()
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-spec.node.op.reference(x)))
    assert_close(y[:, :c], expected, 1e-5, 1e-6, name)


@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("channels, batch", [((16, 16), 2), ((8, 8), 1), ((3, 5), 2),
                                             ((8, 16, 17), 1), ((20, 3, 33), 2)])
def test_cat_kernel_places_every_channel(channels, batch, isa):
    """Unfused (no zero-copy, no conv reading the pieces), so every cat runs the kernel."""
    ns = {f"b{i}": nn.Conv2d(3, c, 1) for i, c in enumerate(channels)}

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            for name, module in ns.items():
                setattr(self, name, module)
            self.tail = nn.Conv2d(sum(channels), 4, 1)

        def forward(self, x):
            return self.tail(compiler.cat([getattr(self, n)(x) for n in ns], dim=1))

    m = compiler.compile(Model().eval(), (batch, 3, 4, 5), isa=isa, fuse=False)
    index, spec = next((i, k) for i, k in enumerate(m.plan.kernels) if k.family == "cat_blocked")
    v = spec.out_layout.v
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(s).astype(np.float32) for s in spec.in_shapes]
    out = np.full(m.kernels[index].out_shape, 7.0, np.float32)
    y = from_blocked(m.kernels[index](*[to_blocked(x, v) for x in xs], out))
    c = sum(channels)
    assert (y[:, c:] == 0).all()
    np.testing.assert_array_equal(y[:, :c], np.concatenate(xs, axis=1))


def test_conv_then_pool_runs_the_blocked_family():
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 20, 3), nn.MaxPool2d(2),
                                       nn.Conv2d(20, 8, 3)).eval(), (1, 3, 12, 12))
    assert [k.family for k in m.kernels] == ["conv2d_blocked", "pool2d_blocked", "conv2d_blocked"]


def test_resnet18_stem_pool_is_blocked_between_convolutions(resnet18_plan):
    kinds = [k.kinds[0] for k in resnet18_plan.kernels]
    at = kinds.index("MaxPool2d")
    assert resnet18_plan.kernels[at].family == "pool2d_blocked"
    assert kinds[at - 1] == "Conv2d" and kinds[at + 1] == "Conv2d"
    assert resnet18_plan.kernels[at - 1].out_layout.blocked


def test_resnet18_has_no_reorder(resnet18_plan):
    """Both pools blocked; the Linear reads the global pool's blocked result as it lies."""
    assert not [k.name for k in resnet18_plan.kernels if k.kinds == ["Reorder"]]
    assert [k.family for k in resnet18_plan.kernels if "AdaptiveAvgPool2d" in k.kinds] == \
        ["pool2d_blocked"]
