"""The benchmark harness (benchmarks/), CompiledModel.profile and the FMA-peak kernel. Smoke
tests on a small network; nothing here asserts a timing."""
import importlib.util
import json

import numpy as np
import pytest

import compiler
from benchmarks import run, suite
from compiler.peak import measure_fma_peak

from .nets import NETWORKS


def run_harness(tmp_path, *options) -> dict:
    """The harness at --quick settings on small_resnet at the tests' width; its JSON record."""
    code = run.main(["--quick", "--small", "--nets", "small_resnet", "--batches", "1,2",
                     "--threads", "1", "--rounds", "1", "--profile", "small_resnet",
                     "--results-dir", str(tmp_path), *options])
    assert code == 0
    return json.loads((tmp_path / "latest.json").read_text())


def test_harness_with_smelt_alone(tmp_path, capsys):
    record = run_harness(tmp_path, "--frameworks", "smelt", "--no-chart")
    assert [(r["net"], r["batch"], r["threads"]) for r in record["results"]] == \
        [("small_resnet", 1, 1), ("small_resnet", 2, 1)]
    for r in record["results"]:
        smelt = r["frameworks"]["smelt"]
        assert list(r["frameworks"]) == ["smelt"]
        assert smelt["calls"] >= 1 and len(smelt["samples_ms"]) == 1 and smelt["median_ms"] > 0
        assert r["gflop"] > 0 and r["pct_peak"] > 0
    assert record["fma_peak_gflops"]["1"] > 0
    assert len(record["profile"]["kernels"]) == record["results"][0]["frameworks"]["smelt"][
        "load"]["kernels"]
    printed = capsys.readouterr().out
    assert "| net " in printed and "| small_resnet |" in printed and "per-kernel" in printed
    assert len(list(tmp_path.glob("*.json"))) == 2 and not list(tmp_path.glob("*.png"))


def test_harness_against_torch_and_onnxruntime(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    record = run_harness(tmp_path)
    present = [f for f in suite.FRAMEWORKS
               if importlib.util.find_spec(run.FRAMEWORK_MODULES[f]) is not None]
    assert {"smelt", "torch", "onnxruntime"} <= set(present)
    for r in record["results"]:
        assert list(r["frameworks"]) == present           # every installed one, in order
        assert set(r["max_rel_diff"]) == {f"{a}/{b}" for i, a in enumerate(present)
                                          for b in present[i + 1:]}
        assert max(r["max_rel_diff"].values()) <= 1e-3
        assert r["smelt_speedup"]["torch"] > 0 and r["speed_vs_torch"]["torch"] == 1.0
    assert record["weights_from"] == "torch"
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "latest.png").stat().st_size > 0


def test_harness_emulates_a_narrower_isa(tmp_path):
    """--isa avx2: smelt's worker builds AVX2 code (its FMA peak kernel too), the other
    frameworks get the variables that hold them to AVX2, and the record says so."""
    record = run_harness(tmp_path, "--frameworks", "smelt", "--no-chart", "--isa", "avx2")
    assert record["settings"]["isa"] == "avx2"
    assert record["worker_env"]["smelt"]["SMELT_ISA"] == "avx2"
    assert "8-float vectors (avx2)" in record["fma_peak_kernel"]
    assert run.harness_env("openvino", "none", "avx2") == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert run.harness_env("torch", "spread", "avx2")["OMP_PROC_BIND"] == "spread"
    assert run.harness_env("onnxruntime", "none", "avx2") == {}


def test_disagreeing_outputs_fail_loudly():
    a = np.ones((2, 3), np.float32)
    assert run.check_outputs({"smelt": a, "torch": a + 1e-5}, 1e-3, "here")["smelt/torch"] > 0
    with pytest.raises(run.BenchmarkError, match="smelt/torch"):
        run.check_outputs({"smelt": a, "torch": a * 1.01}, 1e-3, "here")
    with pytest.raises(run.BenchmarkError):
        run.check_outputs({"smelt": a * np.nan, "torch": a}, 1e-3, "here")


def small_resnet(train: bool = False):
    net = NETWORKS["small_resnet"]
    state = suite.make_weights("small_resnet", "smelt", small=True, seed=3)
    model = suite.build("small_resnet", compiler.nn, compiler.cat, small=True)
    model.load_state_dict(state)
    model.train(train)
    x = np.random.default_rng(3).standard_normal(net.shape).astype(np.float32)
    return model, x


def test_profile_has_one_entry_per_kernel_and_the_outputs_of_a_call():
    model, x = small_resnet()
    m = compiler.compile(model, x.shape)
    expected = m(x)
    out = np.full_like(expected, np.nan)
    rows = m.profile(x, repeats=3, out=[out])
    assert [r[0] for r in rows] == [k.name for k in m.kernels]
    assert [r[1] for r in rows] == [k.layers for k in m.kernels]
    assert all(ms > 0 and gflops >= 0 for _, _, ms, gflops in rows)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(m(x), expected)            # nothing left behind
    with pytest.raises(ValueError, match="out"):
        m.profile(x, out=[np.empty((1, 1), np.float32)])


def test_profile_in_train_mode_updates_state_as_one_call():
    model, x = small_resnet(train=True)
    called, profiled = compiler.compile(model, x.shape), compiler.compile(model, x.shape)
    expected = called(x)
    out = np.empty_like(expected)
    profiled.profile(x, repeats=4, out=[out])
    np.testing.assert_array_equal(out, expected)
    after_call, after_profile = called.state_dict(), profiled.state_dict()
    for key, value in after_call.items():
        np.testing.assert_array_equal(after_profile[key], value, err_msg=key)


@pytest.mark.parametrize("threads", [1, 2])
def test_fma_peak_kernel_builds_and_measures(threads):
    assert measure_fma_peak(threads, seconds=0.02, repeats=1) > 0
