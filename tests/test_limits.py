"""Absurd thread counts are refused up front, quickly, with an error naming the option or the
environment variable and the allowed range. Each case runs under an alarm so that a hang
fails the test instead of stalling the run (no timing is asserted)."""
from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest

import compiler
from compiler import limits, nn
from runtime.model import default_threads

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


class One(nn.Module):
    """A model whose only layer is called `layer`, so errors must name `layer`."""

    def __init__(self, layer, extra=None):
        super().__init__()
        self.layer = layer
        self.extra = extra

    def forward(self, x):
        x = self.layer(x)
        return self.extra(x) if self.extra is not None else x


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
    small.threads = limits.max_threads()
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
    monkeypatch.setenv("SMELT_NUM_THREADS", str(limits.max_threads()))
    assert default_threads() == limits.max_threads()
    monkeypatch.setenv("SMELT_NUM_THREADS", "")
    assert 1 <= default_threads() <= limits.max_threads()
