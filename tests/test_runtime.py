"""runtime.CompiledModel and Kernel (API.md section 3): calling conventions, argument checks,
thread safety, inspection (source, plan, kernels), calling one kernel, state_dict, threads,
fusion on/off and multi-output models."""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import compiler
from compiler import interp, nn
from runtime import CompiledModel, Kernel

from .children import wait_or_kill

SHAPE = (2, 3, 10, 9)


class Net(nn.Module):
    """conv+bn+relu | conv+sigmoid, then a residual add: three kernels when fused in eval
    mode, with intermediates in the arena and a two-input kernel."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.branch = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.Sigmoid())
        self.mix = nn.Conv2d(6, 6, 1)

    def forward(self, x):
        y = self.stem(x)
        return self.mix(self.branch(y)) + y


def make_net() -> Net:
    compiler.manual_seed(3)
    net = Net()
    rng = np.random.default_rng(3)
    bn = net.stem[1]
    bn.running_mean = rng.standard_normal(6).astype(np.float32)
    bn.running_var = rng.uniform(0.5, 2, 6).astype(np.float32)
    bn.weight = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    return net.eval()


def data(shape=SHAPE, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


@pytest.fixture(scope="module")
def net():
    return make_net()


@pytest.fixture(scope="module")
def m(net):
    return compiler.compile(net, SHAPE)


@pytest.fixture(scope="module")
def expected(net):
    graph = compiler.trace(net, SHAPE)
    return lambda x: interp.run(graph, x)


# --- calling ---------------------------------------------------------------------------------

def test_call_returns_new_float32_array(m, expected):
    assert isinstance(m, CompiledModel)
    x = data()
    y1, y2 = m(x), m(x)
    assert isinstance(y1, np.ndarray) and y1.dtype == np.float32 and y1.shape == (2, 6, 10, 9)
    assert y1 is not y2 and not np.shares_memory(y1, y2) and not np.shares_memory(y1, x)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(y1, expected(x), rtol=1e-4, atol=1e-5)


def test_wrong_shape_is_value_error_naming_both(m):
    with pytest.raises(ValueError) as info:
        m(data((2, 3, 10, 8)))
    assert "(2, 3, 10, 9)" in str(info.value) and "(2, 3, 10, 8)" in str(info.value)
    with pytest.raises(ValueError):
        m(data((3, 10, 9)))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_wrong_dtype_is_type_error(m, dtype):
    with pytest.raises(TypeError) as info:
        m(data().astype(dtype))
    assert "float32" in str(info.value)


def test_non_array_and_wrong_count_are_type_errors(m):
    with pytest.raises(TypeError):
        m(data().tolist())
    with pytest.raises(TypeError):
        m(data(), data())
    with pytest.raises(TypeError):
        m()


def test_non_contiguous_input_is_copied(m):
    x = data()
    reference = m(np.ascontiguousarray(x[:, :, ::-1]))
    np.testing.assert_array_equal(m(x[:, :, ::-1]), reference)
    fortran = np.asfortranarray(x)
    np.testing.assert_array_equal(m(fortran), m(x))
    strided = data((2, 3, 20, 9))[:, :, ::2]
    np.testing.assert_array_equal(m(strided), m(np.ascontiguousarray(strided)))


@pytest.mark.parametrize("spec", [
    "nn.ReLU(inplace=True)",
    "nn.Sequential(nn.ELU(inplace=True), nn.Dropout2d(0.5, inplace=True))",
    "nn.Sequential(nn.BatchNorm2d(3), nn.Tanh())",
    "nn.Identity()",
])
def test_input_is_never_modified(spec):
    """In-place layers at the input write to a buffer of their own, in eval and train mode."""
    model = eval(spec, {"nn": nn})
    for mode in (False, True):
        compiled = compiler.compile(model.train(mode), SHAPE)
        x = data()
        before = x.copy()
        y = compiled(x)
        np.testing.assert_array_equal(x, before)
        assert not np.shares_memory(x, y)


def test_read_only_input_is_accepted(m):
    x = data()
    x.flags.writeable = False
    np.testing.assert_array_equal(m(x), m(x.copy()))


def test_concurrent_calls_from_threads(m):
    inputs = [data(seed=s) for s in range(4)]
    serial = [m(x) for x in inputs]
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        return [m(inputs[i]) for _ in range(30)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for i, outs in enumerate(results):
        for y in outs:
            np.testing.assert_array_equal(y, serial[i])


# --- inspection ------------------------------------------------------------------------------

def test_source_plan_kernels(m):
    assert isinstance(m.source, str) and "smelt_forward" in m.source
    assert [type(k) for k in m.kernels] == [Kernel] * 3
    plan = str(m.plan)
    assert plan == repr(m.plan)
    for k in m.kernels:
        assert isinstance(k.name, str) and k.name in m.source and k.name in plan
        assert k.source.strip() and k.source in m.source
        assert isinstance(k.flops, int) and k.flops > 0
        assert all(isinstance(layer, str) for layer in k.layers)
        assert ", ".join(k.layers)[:57] in plan
    assert [k.layers for k in m.kernels] == [["stem.0", "stem.1", "stem.2"],
                                             ["branch.0", "branch.1"], ["mix", "add"]]
    # the kernels appear in the source in execution order
    positions = [m.source.index(f"void {k.name}(") for k in m.kernels]
    assert positions == sorted(positions)
    conv = m.kernels[0]
    assert conv.flops >= 2 * 2 * 6 * 10 * 9 * 3 * 9
    assert "CompiledModel" in repr(m) and conv.name in repr(conv)


def test_kernels_called_alone_reproduce_the_model(m, net):
    x = data()
    k0, k1, k2 = m.kernels
    assert k0.logical_in_shapes == [SHAPE]
    assert k2.logical_in_shapes == [(2, 6, 10, 9), (2, 6, 10, 9)]
    stem = np.empty(k0.out_shape, np.float32)
    assert k0(k0.from_nchw(x), stem) is stem                # arrays in the kernels' layouts
    np.testing.assert_allclose(k0.to_nchw(stem), interp.run(compiler.trace(net.stem, SHAPE), x),
                               rtol=1e-4, atol=1e-5)
    branch = np.empty(k1.out_shape, np.float32)
    k1(stem, branch)
    out = np.full(k2.out_shape, np.nan, np.float32)
    k2(branch, stem, out)
    np.testing.assert_allclose(out, m(x), rtol=1e-6, atol=1e-6)


def test_kernel_argument_checks_happen_before_c(m):
    k = m.kernels[2]                     # two inputs
    a, b = data(k.in_shapes[0], 1), data(k.in_shapes[1], 2)
    sentinel = np.full(k.out_shape, 7.0, np.float32)
    out = sentinel.copy()
    bad_calls = [
        (ValueError, (a, data((2, 6, 10, 8)), out)),          # wrong input shape
        (ValueError, (data((2, 6, 10, 9)), b, out)),          # NCHW where blocked is due
        (TypeError, (a, b.astype(np.float64), out)),          # wrong input dtype
        (ValueError, (a, b, np.empty((2, 6, 10, 8), np.float32))),   # wrong out shape
        (TypeError, (a, b, np.empty(k.out_shape, np.float64))),     # wrong out dtype
        (TypeError, (a, out)),                                # too few arrays
        (TypeError, (a, b, out, out)),                        # too many arrays
        (TypeError, (a.tolist(), b, out)),                    # not an array
    ]
    for error, args in bad_calls:
        with pytest.raises(error):
            k(*args)
        np.testing.assert_array_equal(out, sentinel)
    shared = np.zeros(out.size + a.size, np.float32)        # out and an input share memory
    overlapping_out = shared[:out.size].reshape(out.shape)
    with pytest.raises(ValueError, match="overlap"):
        k(shared[out.size // 2:][:a.size].reshape(a.shape), b, overlapping_out)
    np.testing.assert_array_equal(overlapping_out, 0)
    fortran_out = np.asfortranarray(np.empty(k.out_shape, np.float32))
    with pytest.raises(ValueError):
        k(a, b, fortran_out)
    readonly = np.empty(k.out_shape, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError):
        k(a, b, readonly)
    k(a, b, out)                                               # a good call still works
    assert not np.array_equal(out, sentinel)


def test_kernel_accepts_non_contiguous_inputs(m):
    k = m.kernels[0]
    x = data((2, 3, 10, 18))[..., ::2]
    out1, out2 = np.empty(k.out_shape, np.float32), np.empty(k.out_shape, np.float32)
    k(x, out1)
    k(np.ascontiguousarray(x), out2)
    np.testing.assert_array_equal(out1, out2)


# --- state ------------------------------------------------------------------------------------

def test_state_dict_matches_source_model(m, net):
    sd, source = m.state_dict(), net.state_dict()
    assert list(sd) == list(source)
    for key in source:
        np.testing.assert_array_equal(sd[key], source[key], err_msg=key)   # unfolded values
        assert sd[key].dtype == source[key].dtype
    sd["stem.0.weight"][...] = 0                       # a copy: the model is unaffected
    assert np.abs(m.state_dict()["stem.0.weight"]).sum() > 0


def test_compiled_model_is_independent_of_later_module_changes():
    net = make_net()
    compiled = compiler.compile(net, SHAPE)
    x = data()
    before, state_before = compiled(x), compiled.state_dict()
    net.stem[0].weight[...] = 0                        # in place
    net.load_state_dict({k: np.zeros_like(v) + 1 for k, v in net.state_dict().items()})
    np.testing.assert_array_equal(compiled(x), before)
    for key, value in compiled.state_dict().items():   # the compile-time snapshot
        np.testing.assert_array_equal(value, state_before[key], err_msg=key)


# --- options ----------------------------------------------------------------------------------

def test_threads_option(net, m):
    x = data()
    one = compiler.compile(net, SHAPE, threads=1)
    two = compiler.compile(net, SHAPE, threads=2)
    assert (one.threads, two.threads) == (1, 2)
    np.testing.assert_array_equal(one(x), two(x))
    two.threads = 1
    assert two.threads == 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            two.threads = bad
        with pytest.raises(ValueError):
            compiler.compile(net, SHAPE, threads=bad)


def test_threads_from_environment(net, monkeypatch):
    monkeypatch.setenv("SMELT_NUM_THREADS", "3")
    assert compiler.compile(net, SHAPE).threads == 3
    monkeypatch.setenv("SMELT_NUM_THREADS", "1")
    assert compiler.compile(net, SHAPE).threads == 1
    assert compiler.compile(net, SHAPE, threads=2).threads == 2     # the option wins
    monkeypatch.delenv("SMELT_NUM_THREADS")
    assert compiler.compile(net, SHAPE).threads >= 1


def test_fuse_false_same_numbers_more_kernels(net, m):
    plain = compiler.compile(net, SHAPE, fuse=False)
    x = data()
    np.testing.assert_allclose(plain(x), m(x), rtol=1e-5, atol=1e-5)
    assert len(plain.kernels) > len(m.kernels)
    assert all(len(k.layers) == 1 for k in plain.kernels)
    layers = [k.layers[0] for k in plain.kernels if k.ops != ["Reorder"]]   # layout changes
    assert layers == ["stem.0", "stem.1", "stem.2", "branch.0", "branch.1", "mix", "add"]


def test_eval_conv_bn_relu_is_one_kernel():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    compiled = compiler.compile(model, (1, 3, 6, 6))
    assert len(compiled.kernels) == 1
    assert compiled.kernels[0].layers == ["0", "1", "2"]
    assert compiled.kernels[0].ops == ["Conv2d", "BatchNorm2d", "ReLU"]


def test_eval_bn_without_conv_is_a_fused_affine():
    cases = [("nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(3), nn.ReLU())",
              [["MaxPool2d", "ChannelAffine", "ReLU"]]),
             ("nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())", [["ChannelAffine", "ReLU"]]),
             ("nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout2d(), nn.BatchNorm2d(4))",
              [["Conv2d", "BatchNorm2d"]])]          # eval dropout vanishes, BN still folds
    for spec, ops in cases:
        compiled = compiler.compile(eval(spec, {"nn": nn}).eval(), (1, 3, 6, 6))
        assert [k.ops for k in compiled.kernels] == ops, spec


# --- several outputs --------------------------------------------------------------------------

class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.Tanh()

    def forward(self, x):
        y = self.conv(x)
        return y, self.act(y), x, y


def test_multi_output_returns_tuple():
    compiler.manual_seed(0)
    model = Heads().eval()
    compiled = compiler.compile(model, (1, 3, 5, 5))
    x = data((1, 3, 5, 5))
    out = compiled(x)
    assert isinstance(out, tuple) and len(out) == 4
    conv, act, same, again = out
    expected = interp.run(compiler.trace(model, (1, 3, 5, 5)), x)
    for got, want in zip(out, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(same, x)
    assert not np.shares_memory(same, x)
    np.testing.assert_array_equal(again, conv)
    assert not np.shares_memory(again, conv)
    np.testing.assert_allclose(act, np.tanh(conv), rtol=1e-5, atol=1e-6)
    assert compiled.output_shapes == [(1, 4, 5, 5), (1, 4, 5, 5), (1, 3, 5, 5), (1, 4, 5, 5)]


def test_single_output_tuple_of_one():
    class One(nn.Module):
        def forward(self, x):
            return (x + x,)

    y = compiler.compile(One(), (1, 2, 3, 3))(data((1, 2, 3, 3)))
    assert isinstance(y, tuple) and len(y) == 1


def test_carved_arrays_are_aligned_disjoint_and_typed():
    """runtime.arrays.carve (BN folding, the state_dict snapshot): each array 64-byte aligned,
    of its own shape and dtype, none overlapping another."""
    from runtime.arrays import carve
    specs = [((3, 5), np.float32), ((7,), np.float64), ((0,), np.float32), ((2, 3, 1), np.int64),
             ((17,), np.float32)]
    arrays = carve(specs)
    for a, (shape, dtype) in zip(arrays, specs):
        assert a.shape == shape and a.dtype == dtype and a.ctypes.data % 64 == 0
    for i, a in enumerate(arrays):
        a[...] = i + 1
    for i, a in enumerate(arrays):
        assert np.all(a == i + 1)


# --- fork ------------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("use", ["model", "kernel", "both"])
def test_forked_child_runs_after_the_parent_used_threads(net, expected, use):
    """GNU OpenMP is not fork-safe: a child that calls after its parent ran a parallel
    region must neither hang nor differ (fork is Linux's default for multiprocessing)."""
    m = compiler.compile(net, SHAPE, threads=2)
    x = data(seed=5)
    want = m(x)
    k = m.kernels[0]
    kx, kout = k.from_nchw(x), np.empty(k.out_shape, np.float32)
    k(kx, kout)
    pid = os.fork()
    if pid == 0:                            # the child: exit status says what it saw
        ok = True
        if use in ("model", "both"):
            ok &= bool(np.array_equal(m(x), want))
        if use in ("kernel", "both"):
            out = np.empty_like(kout)
            ok &= bool(np.array_equal(k(kx, out), kout))
        os._exit(0 if ok else 3)
    assert wait_or_kill(pid) == 0, "the forked child failed or hung"
    np.testing.assert_array_equal(m(x), want)            # the parent still runs, too
    np.testing.assert_allclose(want, expected(x), rtol=1e-4, atol=1e-5)


_inherited = {}          # what a fork-started pool worker finds in its copy of this module


def run_inherited(x):
    return _inherited["model"](x)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_pool_workers_and_grandchildren(net):
    m = compiler.compile(net, SHAPE, threads=2)
    xs = [data(seed=s) for s in range(4)]
    want = [m(x) for x in xs]
    _inherited["model"] = m
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.map_async(run_inherited, xs).get(timeout=120)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    pid = os.fork()
    if pid == 0:
        m(xs[0])                            # the child uses the model, then forks again
        grandchild = os.fork()
        if grandchild == 0:
            os._exit(0 if np.array_equal(m(xs[1]), want[1]) else 3)
        os._exit(wait_or_kill(grandchild) & 0xFF)
    assert wait_or_kill(pid) == 0, "the forked child failed or hung"
