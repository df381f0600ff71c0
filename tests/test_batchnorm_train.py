"""Train-mode BatchNorm2d: running statistics kept by the compiled model across calls."""
import numpy as np
import pytest

import compiler

from .parity import assert_close

SHAPE = (2, 5, 4, 3)


def twice(nn):
    """One BatchNorm2d module applied twice in a forward: PyTorch updates its stats twice."""

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(5, 5, 1)
            self.bn = nn.BatchNorm2d(5)

        def forward(self, x):
            return self.bn(self.conv(self.bn(x)))

    return Twice()


def inputs(count: int, shape=SHAPE, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * (1 + i) + i).astype(np.float32) for i in range(count)]


def pair(build, train: bool = True):
    """(torch module, compiler.nn module) with the same parameters and statistics."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = build(torch.nn)
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.track_running_stats:
                m.running_mean.copy_(torch.from_numpy(rng.standard_normal(m.num_features)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, m.num_features)))
    sm = build(compiler.nn)
    sm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    tm.train(train)
    sm.train(train)
    return tm, sm


def run_both(tm, m, xs):
    import torch
    for x in xs:
        with torch.no_grad():
            expected = tm(torch.from_numpy(x.copy())).numpy()
        assert_close(m(x), expected, what="output")


def assert_state_matches(m, tm):
    state = m.state_dict()
    for key, value in tm.state_dict().items():
        assert_close(state[key], value.numpy(), 1e-5, 1e-6, key)
        assert state[key].dtype == value.numpy().dtype, key


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum0.1", "cumulative"])
def test_running_stats_after_three_calls(momentum):
    tm, sm = pair(lambda nn: nn.BatchNorm2d(5, momentum=momentum))
    m = compiler.compile(sm, SHAPE)
    run_both(tm, m, inputs(3))
    assert_state_matches(m, tm)


def test_num_batches_tracked_counts_calls():
    _, sm = pair(lambda nn: nn.Sequential(nn.BatchNorm2d(5), nn.ReLU()))
    m = compiler.compile(sm, SHAPE)
    assert int(m.state_dict()["0.num_batches_tracked"]) == 0
    for count, x in enumerate(inputs(4), start=1):
        m(x)
        assert int(m.state_dict()["0.num_batches_tracked"]) == count


def test_module_called_twice_updates_twice():
    tm, sm = pair(twice)
    m = compiler.compile(sm, SHAPE)
    run_both(tm, m, inputs(2))
    assert int(tm.state_dict()["bn.num_batches_tracked"]) == 4
    assert_state_matches(m, tm)


def test_compile_does_not_touch_the_source_module():
    _, sm = pair(lambda nn: nn.BatchNorm2d(5))
    before = {k: v.copy() for k, v in sm.state_dict().items()}
    m = compiler.compile(sm, SHAPE)
    for x in inputs(2):
        m(x)
    for key, value in sm.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


@pytest.mark.parametrize("track", [True, False], ids=["tracked", "untracked"])
def test_eval_state_dict_is_unchanged(track):
    tm, sm = pair(lambda nn: nn.Sequential(nn.Conv2d(5, 5, 3),
                                           nn.BatchNorm2d(5, track_running_stats=track)),
                  train=False)
    before = {k: v.copy() for k, v in sm.state_dict().items()}
    m = compiler.compile(sm, SHAPE)
    run_both(tm, m, inputs(2))
    state = m.state_dict()
    assert state.keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)
