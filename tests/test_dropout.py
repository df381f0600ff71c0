"""Compiled Dropout2d in train mode: whole (n, c) planes dropped with probability p, survivors
scaled by exactly 1/(1-p), masks independent of the thread count, fresh per call, seedable,
and equal to the NumPy interpreter's; eval mode removes the layer."""
from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler import interp, nn

# 8 x 64 planes; big enough (32768 values) that the elementwise kernel runs its OpenMP loop
SHAPE = (8, 64, 8, 8)
P = 0.3


def positive(shape, seed=0) -> np.ndarray:
    """Inputs with no zeros, so a zero in the output can only come from the mask."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)).astype(np.float32)


def compile_dropout(p=P, seed=11, shape=SHAPE, **options):
    compiler.manual_seed(seed)
    return compiler.compile(nn.Dropout2d(p), shape, **options)


def kept_planes(x, y, p):
    """Per (n, c): True if the plane was kept (scaled), False if zeroed; fails on a mix."""
    scale = np.float32(1.0 / (1.0 - p))
    n, c = x.shape[:2]
    xs, ys = x.reshape(n, c, -1), y.reshape(n, c, -1)
    zero = (ys == 0).all(axis=2)
    scaled = (ys == xs * scale).all(axis=2)
    assert (zero | scaled).all(), "a plane is neither all zero nor exactly x / (1 - p)"
    return scaled & ~zero


@pytest.fixture(scope="module")
def model():
    return compile_dropout()


def test_whole_planes_zero_or_scaled_exactly(model):
    x = positive(SHAPE)
    y = model(x)
    keep = kept_planes(x, y, P)
    assert keep.any() and not keep.all()
    assert y.dtype == np.float32


def test_dropped_fraction_is_p(model):
    x = positive(SHAPE, seed=1)
    dropped = [1 - kept_planes(x, model(x), P).mean() for _ in range(10)]
    planes = 10 * SHAPE[0] * SHAPE[1]
    sigma = np.sqrt(P * (1 - P) / planes)
    assert abs(np.mean(dropped) - P) < 5 * sigma, np.mean(dropped)
    # and per call too, with a looser bound (512 planes)
    assert all(abs(d - P) < 5 * np.sqrt(P * (1 - P) / 512) for d in dropped), dropped


@pytest.mark.parametrize("p", [0.1, 0.75])
def test_dropped_fraction_other_p(p):
    m = compile_dropout(p, shape=(4, 128, 1, 2))
    x = positive((4, 128, 1, 2))
    dropped = np.mean([1 - kept_planes(x, m(x), p).mean() for _ in range(8)])
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / (8 * 512))


def test_masks_differ_between_calls(model):
    x = positive(SHAPE)
    masks = [kept_planes(x, model(x), P) for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])


def test_batch_items_get_different_masks(model):
    x = positive(SHAPE)
    keep = kept_planes(x, model(x), P)
    assert len({row.tobytes() for row in keep}) > 1


def test_p_zero_is_identity():
    m = compile_dropout(0.0)
    x = positive(SHAPE)
    y = m(x)
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)


def test_p_one_zeroes_everything():
    m = compile_dropout(1.0)
    x = positive(SHAPE)
    for _ in range(2):
        y = m(x)
        assert (y == 0).all()


def test_mask_does_not_depend_on_threads():
    one = compile_dropout(threads=1)
    two = compile_dropout(threads=2)
    assert (one.threads, two.threads) == (1, 2)
    x = positive(SHAPE, seed=3)
    for _ in range(3):
        np.testing.assert_array_equal(one(x), two(x))


def test_manual_seed_reproduces_the_sequence():
    x = positive(SHAPE)
    first = compile_dropout(seed=5)
    second = compile_dropout(seed=5)
    other = compile_dropout(seed=6)
    a = [first(x) for _ in range(3)]
    b = [second(x) for _ in range(3)]
    c = [other(x) for _ in range(3)]
    for ya, yb in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(ya, yc) for ya, yc in zip(a, c))


def test_compiled_equals_interpreter_per_call():
    """The call index is the step of interp.run; the masks agree call by call."""
    compiler.manual_seed(21)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Dropout2d(0.4), nn.ReLU(),
                          nn.Dropout2d(0.5, inplace=True))
    graph = compiler.trace(model, (3, 3, 5, 5))
    m = compiler.compile(graph)
    assert len(m.kernels) == 1                 # both masks fused into the conv's store
    x = positive((3, 3, 5, 5), seed=4)
    for step in range(4):
        np.testing.assert_allclose(m(x), interp.run(graph, x, step=step), rtol=1e-5, atol=1e-6,
                                   err_msg=f"call {step}")


def test_unfused_dropout_equals_interpreter():
    compiler.manual_seed(22)
    graph = compiler.trace(nn.Dropout2d(0.5), (2, 16, 3, 3))
    m = compiler.compile(graph, fuse=False)
    x = positive((2, 16, 3, 3))
    for step in range(3):
        np.testing.assert_array_equal(m(x), interp.run(graph, x, step=step))


def test_rank3_input_masks_dims_0_and_1():
    """As torch's feature dropout: a 3-D input is (N, C, L), whole rows are dropped."""
    m = compile_dropout(0.5, shape=(4, 32, 7))
    x = positive((4, 32, 7))
    kept_planes(x, m(x), 0.5)


def test_eval_mode_drops_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout2d(0.5), nn.ReLU()).eval()
    m = compiler.compile(model, (1, 3, 6, 6))
    assert len(m.kernels) == 1
    assert m.kernels[0].layers == ["0", "2"]
    assert all("Dropout" not in op for k in m.kernels for op in k.ops)
    assert "smelt_plane_hash(" not in "".join(k.source for k in m.kernels)
    x = positive((1, 3, 6, 6))
    y = m(x)
    np.testing.assert_array_equal(y, m(x))     # deterministic: nothing random left


def test_eval_mode_alone_is_a_copy():
    m = compiler.compile(nn.Dropout2d(0.5).eval(), SHAPE)
    x = positive(SHAPE)
    np.testing.assert_array_equal(m(x), x)
    assert [k.ops for k in m.kernels] == [["Copy"]]
