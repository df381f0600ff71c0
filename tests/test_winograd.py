"""Winograd F(2x2, 3x3) (compiler/kernels/winograd.py): its transforms compute the correlation
(in float64, exactly), the family runs the layers it should and never under exact=True, its
results match PyTorch and the NumPy reference on every runnable ISA (borders, odd sizes,
channels that are not whole blocks, batches, fused steps and residuals), and on whole
networks its error against float64 stays at the direct algorithm's."""
from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler import interp
from compiler.kernels import winograd
from compiler.planner import plan
from compiler.target import Target

from .isas import ALL, RUNNABLE
from .parity import assert_close

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("m", sorted(winograd.TRANSFORMS))
def test_transforms_compute_the_correlation(m):
    a_t, g, b_t = (np.array(x, np.float64) for x in winograd.TRANSFORMS[m])
    rng = np.random.default_rng(m)
    d, f = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
    y = a_t @ ((g @ f @ g.T) * (b_t @ d @ b_t.T)) @ a_t.T
    direct = [[np.sum(d[i:i + 3, j:j + 3] * f) for j in range(m)] for i in range(m)]
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)


class Layer(torch.nn.Module):
    """A 1x1 stem (so the 3x3 layer reads a blocked tensor), the 3x3 convolution under test with
    BatchNorm, optionally ReLU and a residual, and a 1x1 head (so it writes a blocked one)."""

    def __init__(self, ic, oc, padding=1, relu=True, residual=False):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, ic, 1)
        self.conv = torch.nn.Conv2d(ic, oc, 3, padding=padding)
        self.bn = torch.nn.BatchNorm2d(oc)
        self.act = torch.nn.ReLU() if relu else torch.nn.Identity()
        self.residual = residual
        self.head = torch.nn.Conv2d(oc, 5, 1)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.5, 1.5)

    def forward(self, x):
        y = self.stem(x)
        z = self.bn(self.conv(y))
        if self.residual:
            z = z + y
        return self.head(self.act(z))


def families(model, shape, isa, **options):
    graph = compiler.from_torch(model, shape)
    return [k.family for k in plan(graph, target=Target.detect(isa), **options).kernels
            if k.node.op.kind == "Conv2d" and tuple(k.node.op.kernel_size) == (3, 3)]


#: (input channels, output channels, height, width, padding, batch, relu, residual)
SHAPES = [
    (32, 32, 8, 8, 1, 1, True, False),
    (32, 48, 9, 7, 1, 2, False, False),        # odd sizes: partial tiles at both edges
    (40, 36, 13, 11, 1, 1, True, False),       # channels that are not whole blocks
    (64, 64, 16, 16, 0, 1, True, False),       # no padding
    (64, 64, 15, 17, 2, 3, True, False),       # padding 2, a batch
    (64, 64, 28, 28, 1, 2, True, True),        # a residual added before the ReLU
    (48, 64, 6, 40, 1, 1, False, False),       # a band of one long tile row
]


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:6])))
def test_matches_pytorch_and_the_numpy_reference(shape, isa):
    ic, oc, h, w, padding, n, relu, residual = shape
    torch.manual_seed(sum(shape))
    model = Layer(ic, oc, padding, relu, residual).eval()
    assert families(model, (n, 3, h, w), isa) == ["conv2d_winograd"]
    x = np.random.default_rng(1).standard_normal((n, 3, h, w)).astype(np.float32)
    y = compiler.compile(model, (n, 3, h, w), isa=isa)(x)
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x).double()).numpy()
    assert_close(y, expected, 1e-4, 1e-5, "vs PyTorch (float64)")
    reference = interp.run(compiler.from_torch(model.float(), (n, 3, h, w)), x)
    assert_close(y, reference, 1e-4, 1e-5, "vs the NumPy reference")


@pytest.mark.parametrize("isa", ALL)
def test_runs_only_what_it_should(isa):
    shape = (1, 3, 16, 16)
    assert families(Layer(64, 64).eval(), shape, isa) == ["conv2d_winograd"]
    assert families(Layer(64, 64).eval(), shape, isa, exact=True) == ["conv2d_blocked"]
    assert families(Layer(16, 64).eval(), shape, isa) == ["conv2d_blocked"]   # few channels
    for kwargs in (dict(stride=2), dict(dilation=2, padding=2), dict(groups=2)):
        model = Layer(64, 64).eval()
        model.conv = torch.nn.Conv2d(64, 64, 3, **{"padding": 1, **kwargs})
        assert families(model, shape, isa) == ["conv2d_blocked"], kwargs


def test_weight_bound_layers_keep_the_direct_kernel():
    """512 channels on a 7x7 image (ResNet-18's layer 4): 16 tiles cannot amortise 16 MB of
    transformed weights with AVX-512."""
    model = Layer(512, 512).eval()
    assert families(model, (1, 3, 7, 7), "avx512") == ["conv2d_blocked"]
    assert families(model, (1, 3, 28, 28), "avx512") == ["conv2d_winograd"]


def test_compile_exact_keeps_the_direct_algorithm():
    torch.manual_seed(0)
    model = Layer(64, 64).eval()
    m = compiler.compile(model, (1, 3, 12, 12), exact=True)
    assert "conv2d_winograd" not in [k.family for k in m.plan.kernels]
    assert "Winograd" not in m.source


def relative_error(y, expected) -> float:
    return float(np.abs(y - expected).max() / np.abs(expected).max())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "vgg_cifar", "small_unet"])
def test_network_error_stays_at_the_direct_algorithms(name):
    """Against PyTorch in float64, on the benchmark networks at full size: Winograd's largest
    error is within 2x the direct algorithm's (measured: 0.3x-1.5x; the transformed weights
    are computed in float64), and within the tests' tolerance."""
    from benchmarks import suite
    from tests.nets import NETWORKS
    model = suite.build(name, torch.nn, torch.cat).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in
                           suite.make_weights(name, "torch", False, seed=0).items()})
    x = suite.make_input(name, 1, False, seed=0)
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x).double()).numpy()
    model.float()
    errors = {}
    for exact in (True, False):
        m = compiler.compile(model, x.shape, exact=exact)
        assert ("conv2d_winograd" in [k.family for k in m.plan.kernels]) != exact
        errors[exact] = relative_error(m(x), expected)
    assert errors[False] <= 2 * errors[True], errors
    assert errors[False] < NETWORKS[name].rtol, errors


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("extreme", ["inf", "nan", "huge"])
def test_extreme_inputs_take_the_direct_algorithm(extreme, isa):
    """An infinite, NaN or huge input (where the transforms could overflow, or give NaN for
    inf - inf where the direct sum gives inf) makes the kernel recompute the layer directly:
    its output equals the direct kernel's, bit for bit, NaN for NaN."""
    torch.manual_seed(3)
    model = Layer(32, 48, relu=False, residual=False).eval()
    shape = (2, 3, 9, 10)
    fast = compiler.compile(model, shape, isa=isa)
    direct = compiler.compile(model, shape, isa=isa, exact=True)
    index = [k.family for k in fast.plan.kernels].index("conv2d_winograd")
    assert direct.plan.kernels[index].family == "conv2d_blocked"
    kernel, reference = fast.kernels[index], direct.kernels[index]
    x = np.random.default_rng(2).standard_normal(kernel.in_shapes[0]).astype(np.float32)
    value = {"inf": np.inf, "nan": np.nan, "huge": 3e37}[extreme]
    x[1, 0, 4, 5, 3] = value
    x[0, 1, 0, 0, 7] = -value
    y, expected = kernel(x, np.empty(kernel.out_shape, np.float32)), \
        reference(x, np.empty(reference.out_shape, np.float32))
    np.testing.assert_array_equal(y, expected)
    assert not np.isfinite(y).all() if extreme != "huge" else np.isfinite(y).all()
    x[...] = np.random.default_rng(2).standard_normal(x.shape)      # and back to normal
    y = kernel(x, np.empty(kernel.out_shape, np.float32))
    np.testing.assert_allclose(y, reference(x, np.empty(reference.out_shape, np.float32)),
                               rtol=1e-4, atol=1e-5)


def test_the_safe_limit_keeps_every_sum_finite():
    weight = np.full((8, 64, 3, 3), -2.0, np.float32)
    limit = winograd.safe_input_limit(weight)
    assert 81 * 64 * 2.0 * limit < np.finfo(np.float32).max
    assert winograd.safe_input_limit(np.zeros_like(weight)) == np.finfo(np.float32).max
