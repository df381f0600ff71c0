"""Compiled nn.Dropout in train mode: each element dropped with probability p, survivors
scaled by exactly 1/(1-p); the mask hashes the element's logical index, so it is the same
in NCHW and channel-blocked kernels, fused or not, on any thread count, and equal to the
NumPy interpreter's call by call. Eval mode removes the layer."""
from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler import interp, nn

from .test_dropout import positive


def kept(x, y, p):
    """Per element: True if kept (scaled exactly), False if zeroed; fails on anything else."""
    scale = np.float32(1.0 / (1.0 - p))
    zero, scaled = y == 0, y == x * scale
    assert (zero | scaled).all(), "an element is neither zero nor exactly x / (1 - p)"
    return scaled


def compiled_and_graph(model, shape, seed=3, **options):
    compiler.manual_seed(seed)
    graph = compiler.trace(model, shape)
    return compiler.compile(graph, **options), graph


def test_elements_zero_or_scaled_at_rate_p():
    m, _ = compiled_and_graph(nn.Dropout(0.3), (8, 64, 8, 8))
    x = positive((8, 64, 8, 8))
    keep = np.stack([kept(x, m(x), 0.3) for _ in range(3)])
    sigma = np.sqrt(0.3 * 0.7 / keep.size)
    assert abs((1 - keep.mean()) - 0.3) < 5 * sigma
    assert not np.array_equal(keep[0], keep[1])          # fresh masks per call
    # not whole planes: elements of one plane differ
    assert 0 < keep[0].reshape(8 * 64, 64).mean(axis=1).std()


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("model, shape", [
    (lambda: nn.Dropout(0.5), (2, 5, 3, 4)),
    (lambda: nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), nn.Dropout(0.4), nn.ReLU()),
     (2, 3, 6, 5)),                                           # fused into a blocked conv
    (lambda: nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), nn.Dropout(0.4), nn.MaxPool2d(2)),
     (1, 3, 6, 6)),                                           # a blocked elementwise kernel
    (lambda: nn.Sequential(nn.Linear(7, 9), nn.Dropout(0.2, inplace=True)), (3, 7)),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5), nn.PixelShuffle(2)),
     (1, 3, 6, 6)),                                           # never a store pattern
], ids=["alone", "conv_blocked", "eltwise_blocked", "linear", "before_pixel_shuffle"])
def test_equals_interpreter_call_by_call(model, shape, fuse):
    m, graph = compiled_and_graph(model().train(), shape, fuse=fuse)
    x = positive(shape, seed=5)
    for step in range(3):
        np.testing.assert_allclose(m(x), interp.run(graph, x, step=step), rtol=1e-5,
                                   atol=1e-6, err_msg=f"call {step}")


def test_mask_does_not_depend_on_threads_or_layout():
    model = nn.Sequential(nn.Conv2d(3, 20, 1, bias=False), nn.Dropout(0.5),
                          nn.Conv2d(20, 4, 1)).train()
    x = positive((2, 3, 5, 5))
    one, _ = compiled_and_graph(model, (2, 3, 5, 5), threads=1)
    two, _ = compiled_and_graph(model, (2, 3, 5, 5), threads=2)
    plain, _ = compiled_and_graph(model, (2, 3, 5, 5), kernels="reference")
    assert any(k.out_layout != "NCHW" for k in one.kernels)
    for _ in range(2):                     # each model at the same call number
        y = one(x)
        np.testing.assert_array_equal(y, two(x))
        np.testing.assert_allclose(y, plain(x), rtol=1e-5, atol=1e-6)


def test_p_zero_and_one_and_eval():
    x = positive((2, 3, 4, 4))
    np.testing.assert_array_equal(compiled_and_graph(nn.Dropout(0.0), x.shape)[0](x), x)
    assert (compiled_and_graph(nn.Dropout(1.0), x.shape)[0](x) == 0).all()
    m = compiler.compile(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Dropout(), nn.ReLU()).eval(),
                         x.shape)
    assert len(m.kernels) == 1 and "smelt_plane_hash(" not in m.kernels[0].source


def test_layer_arguments_follow_torch():
    assert repr(nn.Dropout(0.2, True)) == "Dropout(p=0.2, inplace=True)"
    with pytest.raises(compiler.errors.UnsupportedArgumentError, match="Dropout: p=1.5"):
        nn.Dropout(1.5)
    assert not isinstance(nn.Dropout(), nn.Dropout2d)
