"""Whole networks (tests/nets.py), written once for compiler.nn and torch.nn: compiled output
== PyTorch's recorded output == NumPy reference, fused == unfused, live PyTorch when installed,
one train-mode forward with its running statistics, and ResNet-18 at full size."""
import functools
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import interp

from .fixtures.make_net_fixtures import net_input, torch_network
from .nets import NETWORKS, TRAIN_NETWORK
from .parity import assert_close

FIXTURES = Path(__file__).with_name("fixtures") / "nets.npz"
NAMES = list(NETWORKS)
ATOL = 1e-5                 # relative to the output's largest magnitude (see assert_close)


@functools.cache
def fixture_arrays() -> dict:
    with np.load(FIXTURES) as data:
        return {k: data[k] for k in data.files}


def fixture(name: str):
    """(input, state_dict, eval output) recorded from PyTorch for a registered network."""
    data = fixture_arrays()
    if f"{name}/input" not in data:
        pytest.fail(f"no fixture for {name}: run python -m tests.fixtures.make_net_fixtures")
    prefix = f"{name}/state/"
    state = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
    return data[f"{name}/input"], state, data[f"{name}/output"]


def smelt_network(name: str, state: dict, train: bool = False, full: bool = False):
    model = NETWORKS[name].build(compiler.nn, compiler.cat, full=full)
    model.load_state_dict(state)
    return model.train(train)


@functools.cache
def compiled(name: str, fuse: bool = True):
    """(model, compiled model) for the fixture's weights in eval mode, shared by the tests."""
    x, state, _ = fixture(name)
    model = smelt_network(name, state)
    return model, compiler.compile(model, x.shape, fuse=fuse)


@pytest.mark.parametrize("name", NAMES)
def test_matches_pytorch_fixture(name):
    x, _, expected = fixture(name)
    model, m = compiled(name)
    rtol = NETWORKS[name].rtol
    y = m(x)
    assert_close(y, expected, rtol, ATOL, f"{name} vs PyTorch fixture")
    assert_close(y, interp.run(compiler.trace(model, x.shape), x), rtol, ATOL,
                 f"{name} vs NumPy reference")


@pytest.mark.parametrize("name", NAMES)
def test_fused_matches_unfused(name):
    x, _, expected = fixture(name)
    _, fused = compiled(name, True)
    _, unfused = compiled(name, False)
    assert len(fused.kernels) < len(unfused.kernels), "fusion should merge some layers"
    y = unfused(x)
    assert_close(y, expected, NETWORKS[name].rtol, ATOL, f"{name} unfused vs PyTorch fixture")
    assert_close(fused(x), y, NETWORKS[name].rtol, ATOL, f"{name} fused vs unfused")


@pytest.mark.parametrize("name", NAMES)
def test_matches_live_pytorch(name):
    """A torch.nn network's state_dict loads into the compiler.nn one; same numbers."""
    torch = pytest.importorskip("torch")
    module = torch_network(name)
    model = NETWORKS[name].build(compiler.nn, compiler.cat)
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    assert list(state) == list(model.state_dict())
    assert all(v.shape == model.state_dict()[k].shape for k, v in state.items())
    model.load_state_dict(state)
    model.eval()
    x = net_input(f"{name}/live", NETWORKS[name].shape)
    with torch.no_grad():
        expected = module(torch.from_numpy(x.copy())).numpy()
    m = compiler.compile(model, x.shape)
    assert_close(m(x), expected, NETWORKS[name].rtol, ATOL, f"{name} vs live PyTorch")


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_train_mode_forward(fuse):
    """Batch statistics in the output; running statistics updated as PyTorch's."""
    name, shape = TRAIN_NETWORK
    _, state, _ = fixture(name)
    data = fixture_arrays()
    x, expected = data[f"{name}/train/input"], data[f"{name}/train/output"]
    prefix = f"{name}/train/after/"
    changed = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
    assert any(k.endswith("running_var") for k in changed), "fixture recorded no BN update"
    after = {**state, **changed}
    model = smelt_network(name, state, train=True)
    m = compiler.compile(model, shape, fuse=fuse)
    assert_close(m(x), expected, NETWORKS[name].rtol, ATOL, f"{name} train-mode output")
    result = m.state_dict()
    assert list(result) == list(after)
    for key, value in after.items():
        assert_close(result[key], value, 1e-5, 1e-6, f"{name} state {key} after the call")
        assert result[key].dtype == value.dtype, key


def test_train_mode_matches_live_pytorch():
    torch = pytest.importorskip("torch")
    name, shape = TRAIN_NETWORK
    module = torch_network(name).train()
    model = smelt_network(name, {k: v.numpy() for k, v in module.state_dict().items()},
                          train=True)
    m = compiler.compile(model, shape)
    for i in range(2):
        x = net_input(f"{name}/train/live{i}", shape)
        with torch.no_grad():
            expected = module(torch.from_numpy(x.copy())).numpy()
        assert_close(m(x), expected, NETWORKS[name].rtol, ATOL, f"{name} train call {i}")
    result = m.state_dict()
    for key, value in module.state_dict().items():
        assert_close(result[key], value.numpy(), 1e-5, 1e-6, f"{name} state {key}")


def resnet18_keys() -> list[str]:
    """torchvision's ResNet-18 state_dict keys, spelled out from the architecture."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight"] + [f"bn1.{k}" for k in bn]
    for stage in range(1, 5):
        for block in range(2):
            p = f"layer{stage}.{block}."
            keys += [p + "conv1.weight"] + [f"{p}bn1.{k}" for k in bn]
            keys += [p + "conv2.weight"] + [f"{p}bn2.{k}" for k in bn]
            if stage > 1 and block == 0:
                keys += [p + "downsample.0.weight"] + [f"{p}downsample.1.{k}" for k in bn]
    return keys + ["fc.weight", "fc.bias"]


def test_resnet18_has_torchvisions_state_dict():
    model = NETWORKS["resnet18"].build(compiler.nn, compiler.cat, full=True)
    state = model.state_dict()
    assert list(state) == resnet18_keys()
    assert sum(v.size for k, v in state.items() if "running" not in k
               and "num_batches" not in k) == 11_689_512
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert state["fc.weight"].shape == (1000, 512)


@pytest.mark.slow
def test_resnet18_full_size_matches_pytorch():
    """1x3x224x224 with weights from a torch-initialised model (~5 s cold, ~2 s cached)."""
    torch = pytest.importorskip("torch")
    from .frameworks import randomize_batchnorm
    net = NETWORKS["resnet18"]
    torch.manual_seed(18)
    module = net.build(torch.nn, torch.cat, full=True)
    randomize_batchnorm(module, np.random.default_rng(18))
    module.eval()
    model = smelt_network("resnet18", {k: v.numpy() for k, v in module.state_dict().items()},
                          full=True)
    x = net_input("resnet18/full", net.full_shape)
    with torch.no_grad():
        expected = module(torch.from_numpy(x.copy())).numpy()
    m = compiler.compile(model, net.full_shape)
    assert_close(m(x), expected, 1e-3, ATOL, "ResNet-18 1x3x224x224 vs PyTorch")
