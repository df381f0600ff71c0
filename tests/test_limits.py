"""Absurd sizes and thread counts are refused up front, quickly, with an error naming the layer
(or option) and the size; legal but large shapes still plan. Each case runs under an alarm so
that a hang fails the test instead of stalling the run (no timing is asserted)."""
from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest

import compiler
from compiler import limits, nn
from compiler.errors import ShapeError, UnsupportedArgumentError
from compiler.planner import plan
from runtime.threads import default_threads, max_threads

#: far above what any refusal needs, far below a hang (minutes)
ALARM_SECONDS = 10


class TookTooLong(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: int = ALARM_SECONDS):
    def expire(signum, frame):
        raise TookTooLong(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- layer construction -------------------------------------------------------------------------

ABSURD_LAYERS = [
    ("Conv2d", "padding", lambda: nn.Conv2d(3, 8, 3, padding=2**31)),
    ("Conv2d", "kernel_size", lambda: nn.Conv2d(3, 8, kernel_size=2**31)),
    ("Conv2d", "kernel_size", lambda: nn.Conv2d(3, 8, kernel_size=(1, 2**20))),
    ("Conv2d", "stride", lambda: nn.Conv2d(3, 8, 3, stride=2**40)),
    ("Conv2d", "dilation", lambda: nn.Conv2d(3, 8, 3, dilation=2**31)),
    ("Conv2d", "in_channels", lambda: nn.Conv2d(2**40, 8, 3)),
    ("Conv2d", "out_channels", lambda: nn.Conv2d(2**20, 2**20, 3)),       # the weight
    ("ConvTranspose2d", "stride", lambda: nn.ConvTranspose2d(3, 8, 3, stride=2**31)),
    ("ConvTranspose2d", "padding", lambda: nn.ConvTranspose2d(3, 8, 3, padding=2**40)),
    ("ConvTranspose2d", "out_channels", lambda: nn.ConvTranspose2d(3, 2**40, 3)),
    ("Linear", "out_features", lambda: nn.Linear(10, 2**40)),
    ("Linear", "in_features", lambda: nn.Linear(2**40, 10)),
    ("Linear", "out_features", lambda: nn.Linear(2**20, 2**20)),             # the weight
    ("BatchNorm2d", "num_features", lambda: nn.BatchNorm2d(2**40)),
    ("MaxPool2d", "kernel_size", lambda: nn.MaxPool2d(2**31)),
    ("AvgPool2d", "stride", lambda: nn.AvgPool2d(2, stride=2**31)),
    ("AvgPool2d", "divisor_override", lambda: nn.AvgPool2d(2, divisor_override=2**40)),
    ("AdaptiveAvgPool2d", "output_size", lambda: nn.AdaptiveAvgPool2d(2**40)),
    ("Upsample", "scale_factor", lambda: nn.Upsample(scale_factor=1e300)),
    ("Upsample", "size", lambda: nn.Upsample(size=2**40)),
    ("PixelShuffle", "upscale_factor", lambda: nn.PixelShuffle(2**31)),
]


@pytest.mark.parametrize("layer, arg, build", ABSURD_LAYERS,
                         ids=[f"{layer}-{arg}-{i}" for i, (layer, arg, _) in
                              enumerate(ABSURD_LAYERS)])
def test_absurd_layer_argument_is_refused_at_construction(layer, arg, build):
    with deadline(), pytest.raises(UnsupportedArgumentError) as info:
        build()
    message = str(info.value)
    assert message.startswith(f"{layer}:") and arg in message and "at most" in message, message


def test_largest_legal_window_arguments_are_accepted():
    nn.Conv2d(1, 1, limits.MAX_KERNEL, stride=limits.MAX_KERNEL, dilation=limits.MAX_KERNEL,
              padding=limits.MAX_SPATIAL)
    nn.Upsample(scale_factor=limits.MAX_SPATIAL)
    nn.AdaptiveAvgPool2d(limits.MAX_SPATIAL)


# --- shapes at trace time -------------------------------------------------------------------------

class One(nn.Module):
    """A model whose only layer is called `layer`, so errors must name `layer`."""

    def __init__(self, layer, extra=None):
        super().__init__()
        self.layer = layer
        self.extra = extra

    def forward(self, x):
        x = self.layer(x)
        return self.extra(x) if self.extra is not None else x


ABSURD_SHAPES = [
    # padding that fits the layer's bound but makes the output too wide
    ("padding", lambda: One(nn.Conv2d(3, 8, 3, padding=limits.MAX_SPATIAL)), (1, 3, 8, 8)),
    ("upsample", lambda: One(nn.Upsample(scale_factor=60000)), (1, 3, 8, 8)),
    ("upsample-area", lambda: One(nn.Upsample(scale_factor=60000, mode="area")), (1, 3, 8, 8)),
    ("conv-transpose", lambda: One(nn.ConvTranspose2d(1, 1, 256, stride=256)), (1, 1, 512, 512)),
    ("conv-output-size", lambda: One(nn.ConvTranspose2d(1, 1, 3, stride=2)), (1, 1, 40000, 2)),
    ("conv-elements", lambda: One(nn.Conv2d(3, 4096, 1)), (1, 3, 1024, 1024)),
    ("linear-elements", lambda: One(nn.Linear(16, 2**15)), (2**17, 16)),
    ("pixel-shuffle", lambda: One(nn.PixelShuffle(256)), (1, 65536, 512, 1)),
]


@pytest.mark.parametrize("case, build, shape", ABSURD_SHAPES, ids=[c[0] for c in ABSURD_SHAPES])
def test_absurd_inferred_shape_is_a_shape_error_naming_the_layer(case, build, shape):
    model = build()
    with deadline(), pytest.raises(ShapeError) as info:
        compiler.trace(model, shape)
    message = str(info.value)
    assert message.startswith("layer ("), message
    assert "at most" in message, message


@pytest.mark.parametrize("shape", [(1, 3, 2**40, 2), (2**31, 1), (1, 3, 70000, 2),
                                   (1, 1, 2**15, 2**15)])   # the last: 2**34 once blocked
def test_absurd_input_shape_is_refused(shape):
    with deadline(), pytest.raises(ShapeError) as info:
        compiler.trace(One(nn.ReLU()), shape)
    message = str(info.value)
    assert "input_shape" in message and "at most" in message, message


def test_absurd_input_shape_is_refused_by_compile_before_building():
    with deadline(), pytest.raises(ShapeError, match="input_shape"):
        compiler.compile(One(nn.Conv2d(3, 8, 3, padding=1)), (1, 3, 2**40, 2))


def test_legal_large_shapes_plan():
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 16, 3, padding=1)).eval()
    with deadline(60):
        p = plan(compiler.trace(model, (1, 3, 4096, 4096)))
    assert p.arena_bytes >= 4 * 16 * 4096 * 4096


def test_arena_over_the_limit_names_a_layer(monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARENA_BYTES", 2**20)
    model = One(nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)).eval()
    with pytest.raises(ShapeError) as info:
        plan(compiler.trace(model, (1, 3, 256, 256)))
    message = str(info.value)
    assert "arena" in message and "layer" in message and "at most" in message, message


def test_parameters_over_the_limit_name_a_layer(monkeypatch):
    model = One(nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 64, 3, padding=1)).eval()
    monkeypatch.setattr(limits, "MAX_PARAM_BYTES", 2**14)     # below the two layers' sum
    with pytest.raises(ShapeError) as info:
        plan(compiler.trace(model, (1, 3, 8, 8)))
    message = str(info.value)
    assert "parameters" in message and "extra" in message and "at most" in message, message


# --- threads ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    return compiler.compile(One(nn.Conv2d(2, 4, 3, padding=1)).eval(), (1, 2, 6, 6), threads=1)


@pytest.mark.parametrize("bad", [0, -1, 2**31 - 1, 100000, True, 1.5, "2", None])
def test_threads_setter_bounds(small, bad):
    with pytest.raises(ValueError, match=r"threads.*1 to \d+"):
        small.threads = bad
    assert small.threads == 1


@pytest.mark.parametrize("bad", [0, 2**31 - 1, 100000, True, "2"])
def test_compile_threads_bounds(bad):
    with deadline(), pytest.raises(ValueError, match=r"threads.*1 to \d+"):
        compiler.compile(One(nn.ReLU()), (1, 2, 3, 3), threads=bad)


def test_largest_thread_count_runs(small):
    small.threads = max_threads()
    x = np.ones((1, 2, 6, 6), np.float32)
    y = small(x)
    small.threads = 1
    np.testing.assert_array_equal(y, small(x))


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "100000", "2.5"])
def test_threads_environment_variable_bounds(monkeypatch, bad):
    monkeypatch.setenv("SMELT_NUM_THREADS", bad)
    with pytest.raises(ValueError, match=r"SMELT_NUM_THREADS.*1 to \d+") as info:
        default_threads()
    assert bad in str(info.value)
    with deadline(), pytest.raises(ValueError, match="SMELT_NUM_THREADS"):
        compiler.compile(One(nn.ReLU()), (1, 2, 3, 3))


def test_threads_environment_variable_in_range(monkeypatch):
    monkeypatch.setenv("SMELT_NUM_THREADS", str(max_threads()))
    assert default_threads() == max_threads()
    monkeypatch.setenv("SMELT_NUM_THREADS", "")
    assert 1 <= default_threads() <= max_threads()
