"""compiler.from_torch / compile(torch_module): torchvision's architectures (tests/zoo.py)
against PyTorch, the functions and methods CNNs call in forward, qualified names, train mode,
and unsupported models reported completely before anything is compiled."""
from __future__ import annotations

import copy
import functools
import subprocess
import sys

import numpy as np
import pytest

import compiler

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from . import zoo  # noqa: E402  (needs torch)
from .cases import CASES  # noqa: E402
from .frameworks import build, smelt_namespace, torch_namespace  # noqa: E402
from .nets import NETWORKS  # noqa: E402
from .parity import assert_close  # noqa: E402


def random_input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def torch_output(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@functools.cache
def compiled_zoo(name: str):
    """(torch model, compiled model, input), shared by the tests of one worker."""
    model = zoo.build(name)
    shape = zoo.ZOO[name][1]
    return model, compiler.compile(model, shape), random_input(shape)


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_matches_pytorch(name):
    model, m, x = compiled_zoo(name)
    assert_close(m(x), torch_output(model, x), rtol=zoo.ZOO[name][2], what=name)


def graph_summary(graph) -> list:
    """Every node's name, op, shape, inputs (by position) and constants; then the outputs.
    Inputs are named by position (from_torch names them as forward's arguments)."""
    ids = {id(n): i for i, n in enumerate(graph.inputs + graph.nodes)}

    def name(node):
        for i, x in enumerate(graph.inputs):
            if node.name.startswith(x.name + "."):       # a view of an input, say
                return f"input{i}" + node.name[len(x.name):]
        return node.name

    return [(name(n), n.op.describe(), n.shape, [ids[id(i)] for i in n.inputs],
             {k: v.tolist() for k, v in n.op.params.items()}) for n in graph.nodes] + \
        [[ids[id(o)] for o in graph.outputs]]


def assert_imports_as_traced(torch_model, smelt_model, shape):
    """from_torch(torch model) is the graph compiler.trace makes of the same model written
    with compiler.nn: the same ops with the same names, arguments and weights."""
    smelt_model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    smelt_model.train(torch_model.training)
    compiler.manual_seed(0)                   # the same dropout seeds
    expected = graph_summary(compiler.trace(smelt_model, shape))
    compiler.manual_seed(0)
    assert graph_summary(compiler.from_torch(torch_model, shape)) == expected


#: layer cases torch.fx cannot trace: iterating x.split(3) (how many pieces depends on the
#: shape), a ConvTranspose2d subclass whose own forward fx traces into torch's internals
FX_CANNOT = {"split_int", "blk_convT_output_size", "blk_convT_output_size_nchw"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_layer_cases_import_as_compiler_nn_traces_them(case):
    torch.manual_seed(0)
    model = build(case.spec, torch_namespace()).train(case.train)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    if case.id in FX_CANNOT:
        with pytest.raises(compiler.UnsupportedModelError, match="torch.fx cannot trace"):
            compiler.from_torch(model, shape)
        return
    assert_imports_as_traced(model, build(case.spec, smelt_namespace()), shape)


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_networks_import_as_compiler_nn_traces_them(name, train):
    net = NETWORKS[name]
    torch.manual_seed(0)
    shape = (2,) + net.shape[1:] if train else net.shape
    assert_imports_as_traced(net.build(torch.nn, torch.cat).train(train),
                             net.build(compiler.nn, compiler.cat), shape)


def test_graph_keeps_qualified_names():
    from compiler.planner import plan
    model = zoo.build("resnet18")
    graph = compiler.from_torch(model, zoo.ZOO["resnet18"][1])
    kernels = plan(graph).kernels
    assert len(kernels) == 23                  # as the hand-written ResNet-18 (README)
    layers = [name for k in kernels for name in k.layers]
    for name in ["conv1", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.add", "layer4.1.relu",
                 "layer2.0.downsample.0", "fc"]:
        assert name in layers, name
    assert any(k.name.endswith("layer1_0_conv1") for k in kernels)
    assert list(graph.state) == list(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(graph.state[key], value.numpy(), err_msg=key)


class Everything(nn.Module):
    """The functions, methods and operators the importer maps, on N x 8 x 8 x 8 tensors."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.se = nn.Conv2d(8, 8, 1)
        self.up = nn.Conv2d(8, 32, 1)
        self.fc_se = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        b, c, h, w = x.size()
        y = self.conv(x)
        z = self.relu(y)                              # in place: y now holds relu(y) too
        t = y + z * 2 - 1.5 / (F.relu6(y) + 1)        # + * - / with tensors and numbers
        t = torch.sub(torch.add(t, x), torch.mul(x, 0.5)).div(2.0)
        t += F.hardtanh(t, -0.5, 0.5)
        t = t * torch.sigmoid(self.se(F.adaptive_avg_pool2d(t, 1)))      # channel-wise
        s = F.adaptive_avg_pool2d(t, 1).squeeze(-1).squeeze(-1)          # SENet's way
        s = torch.sigmoid(self.fc_se(s)).view(b, c, 1, 1)
        t = t * s.expand_as(t) + t.mean((2, 3)).unsqueeze(2).unsqueeze(-1).expand(-1, -1, h, w)
        t = t - t.mean((2, 3), keepdim=True)
        t = F.silu(t) + F.hardswish(t) + F.hardsigmoid(t) + torch.tanh(t) + F.elu(t) \
            + F.leaky_relu(t, 0.2) + F.selu(t) + t.clamp(-1, 1) + t.relu()
        a, b2 = t.chunk(2, dim=1)
        p, q = torch.split(t, [2, 6], dim=1)
        t = torch.cat([b2, a[:, 1:3] + p, q[:, 4:]], 1).contiguous()
        t = t.view(b, 2, c // 2, h, w)                # channel shuffle
        t = torch.transpose(t, 1, 2).contiguous().view(b, -1, h, w)
        t = F.max_pool2d(t, 2) + F.avg_pool2d(t, 2, stride=2)
        t = F.interpolate(t, scale_factor=2, mode="nearest")
        t = F.interpolate(t, size=(h + 4, w + 4), mode="bilinear", align_corners=False)
        t = F.pixel_shuffle(self.up(t), 2)            # 8 x 16 x 16
        t0 = t.clone()
        t.mul_(0.5)                                   # in place: t changes, its clone not
        t = t.float() - t0.detach()
        t = F.dropout(t, 0.3, training=self.training) + F.dropout2d(t, training=False)
        s = F.softmax(torch.flatten(t.mean([2, 3]), 1), dim=1)
        return self.fc(s.reshape(b, -1) * c), t.view(t.size(0), -1)


def test_functions_and_methods_match_pytorch():
    torch.manual_seed(0)
    model = Everything().eval()
    x = random_input((2, 8, 8, 8))
    m = compiler.compile(model, x.shape)
    with torch.no_grad():
        expected = model(torch.from_numpy(x))
    for got, want in zip(m(x), expected):
        assert_close(got, want.numpy(), rtol=1e-4)


class Broken(nn.Module):
    """An unsupported layer, function, method and arguments, in one model."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.lstm = nn.LSTM(8, 8)

    def forward(self, x):
        x, _ = self.pool(self.conv(x))
        x = F.gelu(x)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)
        y, _ = self.lstm(x.flatten(2).permute(2, 0, 1))
        return y.sum() + x.mean(1)


BROKEN = [("pool", "MaxPool2d", "return_indices"), ("gelu", "gelu", "not supported"),
          ("interpolate", "interpolate", "antialias"), ("permute", "Tensor.permute", ""),
          ("lstm", "LSTM", "torch.nn.LSTM"), ("sum", "Tensor.sum", ""),
          ("mean", "Tensor.mean", "dim=1")]


@pytest.mark.parametrize("shape", [(1, 3, 16, 16), None])
def test_unsupported_parts_are_all_reported(shape):
    report = compiler.check(Broken(), shape)
    assert not report.ok
    got = [(p.node, p.op, p.reason) for p in report.problems]
    assert len(got) == len(BROKEN), report
    for (node, op, reason), (want_node, want_op, want_reason) in zip(got, BROKEN):
        assert node == want_node and want_op in op and want_reason in reason, report
    assert "lstm" in str(report) and "permute" in str(report)


def test_compile_refuses_before_compiling(monkeypatch):
    from compiler import driver

    def no_planning(*args, **kwargs):
        raise AssertionError("planned a model with unsupported parts")

    monkeypatch.setattr(driver, "make_plan", no_planning)
    with pytest.raises(compiler.UnsupportedModelError) as e:
        compiler.compile(Broken(), (1, 3, 16, 16))
    assert len(e.value.problems) == len(BROKEN)
    assert "lstm (LSTM)" in str(e.value)


def test_supported_model_checks_clean():
    assert compiler.check(zoo.build("squeezenet1_1"), (1, 3, 64, 64)).ok
    assert compiler.check(zoo.build("shufflenet_v2_x1_0")).ok


def test_untraceable_forward_is_reported():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Conv2d(3, 3, 1), Gate())

        def forward(self, x):
            return self.inner(x)

    class Gate(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x           # depends on the values

    with pytest.raises(compiler.UnsupportedModelError) as e:
        compiler.from_torch(Branchy(), (1, 3, 4, 4))
    assert e.value.problems[0].node == "inner.1"
    assert "torch.fx cannot trace" in e.value.problems[0].reason


def test_train_mode_batch_statistics_and_running_stats():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 4, 3), nn.BatchNorm2d(4, momentum=None)).train()
    x = random_input((2, 3, 8, 8))
    m = compiler.compile(net, x.shape)
    reference = copy.deepcopy(net)
    y = m(x)
    assert_close(y, reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-4)
    after = m.state_dict()
    for key, value in reference.state_dict().items():
        assert_close(after[key], value.numpy(), rtol=1e-5, what=key)
    assert int(after["1.num_batches_tracked"]) == 1


def test_train_mode_dropout_is_random_and_scaled():
    net = nn.Sequential(nn.Conv2d(3, 16, 1), nn.Dropout(0.5)).train()
    x = random_input((1, 3, 16, 16))
    m = compiler.compile(net, x.shape)
    kept = net[0](torch.from_numpy(x)).detach().numpy() * 2
    y1, y2 = m(x), m(x)
    assert not np.array_equal(y1, y2)
    for y in (y1, y2):
        assert 0.4 < np.mean(y == 0) < 0.6
        assert_close(y[y != 0], kept[y != 0], rtol=1e-5)


def test_from_torch_returns_a_graph():
    g = compiler.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), (1, 3, 8, 8))
    assert isinstance(g, compiler.Graph)
    assert [n.name for n in g.nodes] == ["0", "1"]
    assert set(g.state) == {"0.weight", "0.bias"}
    with pytest.raises(TypeError, match="input_shape"):
        compiler.from_torch(nn.ReLU(), None)


def test_unbatched_input():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(F.relu(self.conv(x)).mean((-2, -1)))

    model = Head().eval()
    x = random_input((3, 8, 8))
    assert_close(compiler.compile(model, x.shape)(x), torch_output(model, x))


def test_import_compiler_does_not_import_torch():
    code = "import sys, compiler; print('torch' in sys.modules, 'onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
