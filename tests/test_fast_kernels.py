"""The fast Linear and Softmax families: they are the ones picked, kernels="reference" still
picks the plain loops, both give the same numbers, and a classifier head reads the pooled
channel-blocked tensor through its Flatten without a Reorder."""
from __future__ import annotations

import numpy as np

import compiler
from compiler import interp, nn
from compiler.target import Target

V = Target.detect().vector_floats


def classifier(c: int = 20, classes: int = 37):
    """conv -> BN -> ReLU -> conv -> ReLU -> global avg pool -> Flatten -> Linear -> Softmax"""
    compiler.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(c, classes), nn.Softmax(dim=1)).eval()


def families(m) -> list[str]:
    return [k.family for k in m.kernels]


def test_fast_families_are_used():
    m = compiler.compile(classifier(), (2, 3, 9, 8))
    assert families(m)[-2:] == ["linear_fast", "softmax_fast"]
    fc = m.kernels[-2]
    if V > 1:
        # the fc reads the pooled tensor as it lies: no Reorder, its shape is the flattened
        # blocked buffer (N, C/V*H*W*V)
        assert "reorder" not in families(m)
        assert fc.in_layouts[0] == f"NCHW{V}c"
        assert fc.in_shapes[0] == (2, -(-20 // V) * V)
    for model, shape in [(nn.Linear(33, 70), (1, 33)), (nn.Linear(33, 70), (9, 33)),
                         (nn.Softmax(dim=1), (2, 17, 3, 5)), (nn.Softmax(dim=-1), (4, 100))]:
        assert families(compiler.compile(model, shape))[-1] in ("linear_fast", "softmax_fast")


def test_reference_kernels_match_the_fast_ones():
    model = classifier()
    x = np.random.default_rng(0).standard_normal((5, 3, 9, 8)).astype(np.float32)
    fast = compiler.compile(model, x.shape)
    ref = compiler.compile(model, x.shape, kernels="reference")
    assert families(ref)[-2:] == ["linear_rows", "softmax_rows"]
    assert "linear_fast" not in families(ref) and "softmax_fast" not in families(ref)
    expected = interp.run(compiler.trace(model, x.shape), x)
    np.testing.assert_allclose(fast(x), ref(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast(x), expected, rtol=1e-5, atol=1e-7)


def test_blocked_linear_kernel_called_alone():
    """The fc kernel alone, fed the pooled tensor in its blocked layout by hand."""
    c, h, w, n = 33, 2, 3, 5
    compiler.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, c, 1), nn.AdaptiveAvgPool2d((h, w)), nn.Flatten(),
                          nn.Linear(c * h * w, 21), nn.Tanh()).eval()
    m = compiler.compile(model, (n, 3, 4, 6))
    fc = m.kernels[-1]
    assert fc.family == "linear_fast"
    pooled = np.random.default_rng(2).standard_normal((n, c, h, w)).astype(np.float32)
    if fc.in_layouts[0] != "NCHW":
        cb = -(-c // V)
        padded = np.zeros((n, cb * V, h, w), np.float32)
        padded[:, :c] = pooled
        x = np.ascontiguousarray(padded.reshape(n, cb, V, h, w).transpose(0, 1, 3, 4, 2))
        x = x.reshape(n, -1)
    else:
        x = pooled.reshape(n, -1)
    assert fc.in_shapes[0] == x.shape
    out = np.empty(fc.out_shape, np.float32)
    fc(x, out)
    weight, bias = (np.asarray(model[3].weight, np.float64), np.asarray(model[3].bias, np.float64))
    expected = np.tanh(pooled.reshape(n, -1).astype(np.float64) @ weight.T + bias)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_resnet_head_has_no_reorder_before_fc():
    from tests.nets import NETWORKS
    from compiler.planner import plan
    net = NETWORKS["resnet18"]
    compiler.manual_seed(0)
    model = net.build(compiler.nn, compiler.cat, full=True).eval()
    p = plan(compiler.trace(model, net.full_shape))
    pool, fc = p.kernels[-2:]
    assert fc.family == "linear_fast"
    if V > 1:
        assert pool.family == "pool2d_blocked" and pool.out_layout.blocked
        assert fc.in_layouts[0].blocked
