"""Pickling and copying compiled models and kernels (API.md section 6): round trips in-process,
into spawned processes and process pools, deepcopy independence, rebuilding a deleted cache
entry, and a pickle that carries weights and source but no compiler objects."""
from __future__ import annotations

import copy
import multiprocessing
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import nn
from runtime import Kernel
from runtime.pickling import PlanSummary
from tests.test_runtime import SHAPE, data, make_net


@pytest.fixture(scope="module")
def m():
    return compiler.compile(make_net(), SHAPE, threads=1)


def make_train_net():
    """BatchNorm in train mode (running statistics) and dropout (the call counter): state."""
    compiler.manual_seed(5)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Dropout2d(0.5), nn.Conv2d(8, 4, 1)).train()


def run_pickled(blob: bytes, x: np.ndarray) -> tuple:
    """In a worker process: unpickle, call, report what the library came from."""
    from runtime import cache
    model = pickle.loads(blob)
    return model(x), model.kernels[0].name, dict(cache.stats)


def test_round_trip_in_process(m):
    x = data()
    m2 = pickle.loads(pickle.dumps(m))
    assert np.array_equal(m2(x), m(x))
    assert m2.source == m.source and m2.threads == m.threads == 1
    assert m2.input_shapes == m.input_shapes and m2.output_shapes == m.output_shapes
    assert [k.name for k in m2.kernels] == [k.name for k in m.kernels]
    assert [k.source for k in m2.kernels] == [k.source for k in m.kernels]
    assert all(k._model is m2 for k in m2.kernels)
    for key, value in m.state_dict().items():
        assert np.array_equal(m2.state_dict()[key], value)
    # the plan becomes its summary: the same table and totals, no compiler objects
    assert isinstance(m2.plan, PlanSummary) and str(m2.plan) == str(m.plan)
    assert m2.plan.total_flops == m.plan.total_flops
    assert m2.plan.arena_bytes == m.plan.arena_bytes and m2.plan.kernels[0] == m.kernels[0].name
    assert repr(m2) == repr(m)
    assert [row[:2] for row in m2.profile(x, repeats=1)] == \
        [row[:2] for row in m.profile(x, repeats=1)]
    m3 = pickle.loads(pickle.dumps(m2))                       # a summary pickles as itself
    assert str(m3.plan) == str(m.plan) and np.array_equal(m3(x), m(x))


def test_unpickled_model_runs_kernel_by_kernel_but_cannot_compare_or_export(m, tmp_path):
    x = data(seed=4)
    m2 = pickle.loads(pickle.dumps(m))
    for a, b in zip(m.kernel_outputs(x), m2.kernel_outputs(x)):
        assert np.array_equal(a, b)
    with pytest.raises(RuntimeError, match="unpickled"):
        m2.compare(x)
    with pytest.raises(TypeError, match="unpickled"):
        m2.export(tmp_path)
    assert m.compare(x).worst is None             # the original keeps both


def test_unpickled_kernels_are_callable(m):
    m2 = pickle.loads(pickle.dumps(m))
    for k, k2 in zip(m.kernels, m2.kernels):
        xs = [data(s, seed=i) for i, s in enumerate(k.logical_in_shapes)]
        outs = []
        for kernel in (k, k2):
            out = np.empty(kernel.out_shape, np.float32)
            kernel(*[kernel.from_nchw(x, i) for i, x in enumerate(xs)], out)
            outs.append(out)
        assert np.array_equal(*outs), k.name


def test_kernel_pickles_with_its_model(m):
    k = m.kernels[1]
    k2 = pickle.loads(pickle.dumps(k))
    assert isinstance(k2, Kernel) and k2.name == k.name and k2 is k2._model.kernels[1]
    assert k2._model is not m and k2.source == k.source
    xs = [k.from_nchw(data(s, seed=i), i) for i, s in enumerate(k.logical_in_shapes)]
    out, out2 = np.empty(k.out_shape, np.float32), np.empty(k.out_shape, np.float32)
    k(*xs, out)
    k2(*xs, out2)
    assert np.array_equal(out, out2)
    assert copy.deepcopy(k).name == k.name


def test_pickle_carries_weights_and_source_not_the_compiler(m):
    blob = pickle.dumps(m)
    assert b"compiler." not in blob                      # no compiler class is referenced
    weights = m._params.nbytes + sum(v.nbytes for v in m.state_dict().values())
    assert len(blob) < weights + 2 * len(m.source) + 16384


def test_state_and_counter_travel_and_deepcopy_is_independent():
    m = compiler.compile(make_train_net(), SHAPE, threads=1)
    x = data()
    m(x), m(x)
    clone, copied = pickle.loads(pickle.dumps(m)), copy.deepcopy(m)
    before = m.state_dict()
    for other in (clone, copied):
        assert other._step == m._step == 2
        for key, value in before.items():
            assert np.array_equal(other.state_dict()[key], value), key
    # the same next call (same dropout mask, same statistics) ...
    expected = m(x)
    assert np.array_equal(clone(x), expected) and np.array_equal(copied(x), expected)
    # ... and from then on each copy keeps its own state
    copied(x), copied(x)
    after = m.state_dict()
    assert not np.array_equal(copied.state_dict()["1.running_mean"], after["1.running_mean"])
    assert np.array_equal(clone.state_dict()["1.running_mean"], after["1.running_mean"])
    assert copied._step == 5 and m._step == clone._step == 3


def test_spawned_process_runs_a_pickled_model(m):
    x = data(seed=1)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        y, name, _ = pool.apply(run_pickled, (pickle.dumps(m), x))
    assert np.array_equal(y, m(x)) and name == m.kernels[0].name


def test_process_pool_executor_maps_a_pickled_model(m):
    xs = [data(seed=s) for s in range(4)]
    blob = pickle.dumps(m)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_pickled, [blob] * len(xs), xs))
    for x, (y, _, _) in zip(xs, results):
        assert np.array_equal(y, m(x))
    # the model object itself goes through the executor's own pickling too
    with ProcessPoolExecutor(1) as pool:
        assert np.array_equal(pool.submit(m, xs[0]).result(), m(xs[0]))


def test_deleted_cache_entry_is_rebuilt_by_the_unpickler(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path / "cache"))
    m = compiler.compile(make_net(), SHAPE, threads=1)
    blob, x = pickle.dumps(m), data(seed=2)
    shutil.rmtree(tmp_path / "cache")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:                 # inherits SMELT_CACHE_DIR; its memory is empty
        y, _, stats = pool.apply(run_pickled, (blob, x))
    assert stats["builds"] == 1 and np.array_equal(y, m(x))
    assert any((tmp_path / "cache" / "entries").rglob("lib.so"))


def test_unpickling_never_imports_the_compiler(m, tmp_path):
    x = data(seed=3)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(m))
    np.save(tmp_path / "x.npy", x)
    code = ("import pickle, sys, numpy as np\n"
            f"m = pickle.loads(open({str(tmp_path / 'm.pkl')!r}, 'rb').read())\n"
            f"np.save({str(tmp_path / 'y.npy')!r}, m(np.load({str(tmp_path / 'x.npy')!r})))\n"
            "print(m.plan.kernels[0], m.state_dict() is not None)\n"
            "assert 'compiler' not in sys.modules, 'the compiler was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
    assert np.array_equal(np.load(tmp_path / "y.npy"), m(x))
