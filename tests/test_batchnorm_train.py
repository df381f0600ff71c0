"""Train-mode BatchNorm2d: running statistics kept by the compiled model across calls."""
import numpy as np
import pytest

import compiler
from compiler import interp

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


# State slots. A train-mode BatchNorm2d with a Dropout2d fused into its store holds two (the
# running statistics and a seed); one BatchNorm2d module called twice updates one region twice.

DROP_SHAPE = (2, 3, 8, 8)


def conv_bn_drop(nn):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, momentum=None),
                         nn.Dropout2d(0.5))


def shared_bn(tail: str):
    """One BatchNorm2d module called on two branches (torch allows it), joined by an add, the
    second branch maybe through a dropout, or by a cat (in the other order) under a ReLU."""

    def build(nn):
        import torch
        cat = compiler.cat if nn is compiler.nn else torch.cat

        class Shared(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
                self.conv2 = nn.Conv2d(3, 8, 1)
                self.bn = nn.BatchNorm2d(8)
                self.drop = nn.Dropout2d(0.5)
                self.relu = nn.ReLU()

            def forward(self, x):
                a = self.bn(self.conv1(x))
                b = self.bn(self.conv2(x))
                if tail == "cat":
                    return self.relu(cat([b, a], dim=1))
                return a + (self.drop(b) if tail == "dropout" else b)

        return Shared()

    return build


def guard_state(m, pad: int = 64) -> np.ndarray:
    """Put `m`'s state between NaN bands: a read outside it turns the statistics NaN, a write
    outside it shows in the bands. Returns the whole buffer."""
    buf = np.full(m._state.size + 2 * pad, np.nan)
    buf[pad:-pad] = m._state
    m._state = buf[pad:-pad]
    m._state_ptr = m._ffi.from_buffer("double[]", m._state)
    return buf


def seeds(m) -> dict:
    """{state offset: the seed its dropout op was traced with} over every fused step."""
    return {s.seed.offset: s.op.seed for k in m.plan.kernels
            for s in k.steps + k.prologue_steps if s.seed is not None}


def check_train_state(build, fuse: bool, calls: int = 5):
    """`calls` calls: outputs equal the NumPy interpreter's (same dropout masks; PyTorch's too
    without dropout), running statistics equal PyTorch's, seeds stay put, and nothing outside
    the state array is read or written."""
    torch = pytest.importorskip("torch")
    tm, sm = pair(build)
    graph = compiler.trace(sm, DROP_SHAPE)
    m = compiler.compile(graph, fuse=fuse)
    buf = guard_state(m)
    traced = seeds(m)
    for step, x in enumerate(inputs(calls, DROP_SHAPE)):
        y = m(x)
        assert_close(y, interp.run(graph, x, step=step), what=f"call {step} vs interpreter")
        with torch.no_grad():
            expected = tm(torch.from_numpy(x.copy())).numpy()
        if not traced:
            assert_close(y, expected, what=f"call {step} vs PyTorch")
    assert_state_matches(m, tm)
    assert {offset: m._state[offset] for offset in traced} == traced, "a seed was overwritten"
    assert np.isnan(buf[:64]).all() and np.isnan(buf[-64:]).all(), "write outside the state"
    return m, tm


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_bn_then_dropout_keeps_stats_and_seed(fuse):
    m, _ = check_train_state(conv_bn_drop, fuse)
    assert int(m.state_dict()["1.num_batches_tracked"]) == 5
    assert len(seeds(m)) == 1
    assert any(k.layers == ["1", "2"] for k in m.kernels) == fuse, m.plan


@pytest.mark.parametrize("tail", ["dropout", "add", "cat"])
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_shared_bn_updates_one_region_in_call_order(tail, fuse):
    m, tm = check_train_state(shared_bn(tail), fuse)
    assert int(tm.state_dict()["bn.num_batches_tracked"]) == 10     # two updates per call
    assert len(seeds(m)) == (tail == "dropout")
    assert sum(s.role == "running_stats" for s in m._state_slots.values()) == 1
