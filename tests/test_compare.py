"""m.compare(x, reference): one row per kernel, within tolerance for a correct model against
the NumPy interpreter, live PyTorch and an ONNX export; a perturbed layer is the first row
past tolerance and its error propagates; NaN and ULP arithmetic; the printed table."""
import copy
import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import nn
from compiler.compare import errors

from .fixtures.make_net_fixtures import net_input, state_of, torch_network
from .nets import NETWORKS

NAME = "small_resnet"


@functools.cache
def compiled():
    """(torch twin, compiled compiler.nn model, input); the model is never perturbed."""
    return fresh()


def fresh():
    module = torch_network(NAME)
    model = NETWORKS[NAME].build(nn, compiler.cat)
    model.load_state_dict(state_of(module))
    x = net_input(NAME, NETWORKS[NAME].shape)
    return module, compiler.compile(model.eval(), x.shape), x


def kernel_of(m, layer: str) -> int:
    return next(i for i, k in enumerate(m.kernels) if layer in k.layers)


def test_rows_match_the_kernels():
    _, m, x = compiled()
    cmp = m.compare(x)
    assert len(cmp) == len(m.kernels)
    assert [r.kernel for r in cmp] == [k.name for k in m.kernels]
    assert [r.layers for r in cmp] == [k.layers for k in m.kernels]
    assert [r.shape for r in cmp] == [k.logical_out_shape for k in m.kernels]
    assert cmp[0] is cmp.rows[0] and list(cmp) == cmp.rows
    assert [r.layer for r in cmp][1:3] == ["3.relu", "3.relu (call 2)"]


def test_a_graph_made_by_copying_compares_too():
    """Importers may copy their graph: layers are found through the nodes' origins."""
    module, _, x = compiled()
    model = NETWORKS[NAME].build(nn, compiler.cat)
    model.load_state_dict(state_of(module))
    m = compiler.compile(compiler.trace(model.eval(), x.shape).copy())
    assert all(r.ok for r in m.compare(x))


def test_kernel_outputs_are_the_model_and_leave_it_as_it_was():
    model = NETWORKS[NAME].build(nn, compiler.cat).train()       # train BN: running stats
    x = net_input(NAME, (2, 3, 32, 32))
    m = compiler.compile(model, x.shape)
    before = m.state_dict()
    outputs = m.kernel_outputs(x)
    assert [o.shape for o in outputs] == [k.logical_out_shape for k in m.kernels]
    after = m.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    np.testing.assert_allclose(outputs[-1], m(x), rtol=1e-6, atol=1e-6)
    assert m.compare(x).worst is None           # batch statistics against the interpreter


def test_correct_model_is_within_tolerance_of_the_interpreter():
    _, m, x = compiled()
    cmp = m.compare(x)
    assert cmp.worst is None
    assert all(r.ok and r.max_ulp < 1e5 and 0 <= r.max_abs < 1e-4 for r in cmp)


def test_cat_pieces_compare_with_their_slice():
    """An elementwise tail after a cat moves into the cat's producers (each writes its slice
    of the result), zero-copy at batch 1 and through a cat kernel at batch 2."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(3, 8, 1)
            self.act, self.head = nn.ReLU(), nn.Conv2d(24, 4, 1)

        def forward(self, x):
            return self.head(self.act(compiler.cat([self.a(x), self.b(x)], dim=1)))

    compiler.manual_seed(3)
    net = Net().eval()
    for batch in (1, 2):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 8, 8)).astype(np.float32)
        m = compiler.compile(net, x.shape)
        cmp = m.compare(x)
        assert cmp.worst is None and all(r.ok for r in cmp)
        assert [r.layer for r in cmp if r.kernel.startswith(("k000", "k001"))] == ["act", "act"]


def test_correct_model_is_within_tolerance_of_live_pytorch():
    pytest.importorskip("torch")
    module, m, x = compiled()
    cmp = m.compare(x, reference=module)
    assert cmp.reference == "PyTorch Sequential"
    assert cmp.worst is None and all(r.ok for r in cmp)      # every layer found by name


def test_functions_match_pytorch_by_the_module_they_run_in():
    """`x + y` inside module res_elu is smelt's `res_elu.add`, at the root `add`: fx says
    which module each call ran in (its own names, add / add_1 / add_2, would mismatch)."""
    pytest.importorskip("torch")
    name = "activation_zoo"
    module = torch_network(name)
    model = NETWORKS[name].build(nn, compiler.cat)
    model.load_state_dict(state_of(module))
    x = net_input(name, NETWORKS[name].shape)
    cmp = compiler.compile(model.eval(), x.shape).compare(x, reference=module)
    assert {"res_elu.add", "res_selu.add", "add"} <= {r.layer for r in cmp}
    assert cmp.worst is None and all(r.ok for r in cmp)


def test_pytorch_without_fx_is_recorded_with_hooks(monkeypatch):
    torch = pytest.importorskip("torch")
    module, m, x = compiled()

    def refuse(*args, **kwargs):
        raise RuntimeError("no fx today")

    monkeypatch.setattr(torch.fx, "symbolic_trace", refuse)
    cmp = m.compare(x, reference=module)
    assert cmp.worst is None and all(r.ok for r in cmp)      # every kernel ends in a module


@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # the TorchScript exporter
@pytest.mark.parametrize("runner", ["onnxruntime", "onnx.reference"])
def test_correct_model_is_within_tolerance_of_its_onnx_export(tmp_path, monkeypatch, runner):
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    if runner == "onnxruntime":
        pytest.importorskip("onnxruntime")
    else:
        monkeypatch.setitem(sys.modules, "onnxruntime", None)    # as if not installed
    module, m, x = compiled()
    path = tmp_path / "net.onnx"
    torch.onnx.export(module, torch.from_numpy(x.copy()), str(path), dynamo=False)
    reference = path if runner == "onnxruntime" else onnx.load(str(path))
    cmp = m.compare(x, reference=reference)
    assert (f"{path} on ONNX Runtime " if runner == "onnxruntime"
            else "ModelProto on onnx.reference") in cmp.reference
    assert cmp.worst is None
    # the export folds BatchNorm into the convolution in front: a kernel ending in a lone BN
    # (the downsample path) has no value to compare with; every other kernel has
    missing = [r for r in cmp if r.ok is None]
    assert all(r.layer.endswith("downsample.1") for r in missing), missing
    assert all("no reference value" in r.note for r in missing)
    assert sum(r.ok is True for r in cmp) == len(cmp) - len(missing) >= len(cmp) - 2


def test_a_perturbed_weight_in_the_compiled_model_is_the_worst_row():
    _, m, x = fresh()
    i = kernel_of(m, "4.conv1")
    weight = m.plan.kernels[i].constants[0]
    m._params[weight.offset:weight.offset + weight.array.size] *= np.float32(1.01)
    cmp = m.compare(x)
    assert cmp.worst is cmp[i]
    assert all(r.ok for r in cmp[:i])
    assert cmp[i].max_rel > 1e-3
    assert not cmp[i + 1].ok and not cmp[-1].ok     # and everything computed from it


def test_a_perturbed_reference_points_at_that_layer():
    pytest.importorskip("torch")
    module, m, x = compiled()
    module = copy.deepcopy(module)
    conv = module[5].conv2            # the third stage's second convolution
    conv.weight.data[0] += 0.05
    cmp = m.compare(x, reference=module)
    i = kernel_of(m, "5.conv2")
    assert cmp.worst is cmp[i] and cmp.worst.where[1] == 0        # output channel 0
    assert all(r.ok for r in cmp[:i]) and not cmp[-1].ok


def test_nan_and_ulp_arithmetic():
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    one = np.float32(1)
    a = np.array([nan, nan, 1, inf, -0.0, one, np.nextafter(one, 2, dtype=np.float32),
                  -1, 0], np.float32)
    b = np.array([nan, 2, nan, inf, 0.0, np.nextafter(one, 0, dtype=np.float32), one,
                  -1, np.float32(1e-45)], np.float32)
    diff, rel, ulp = errors(a, b)
    assert list(ulp) == [0, np.inf, np.inf, 0, 0, 1, 1, 0, 1]
    assert list(diff[:5]) == [0, np.inf, np.inf, 0, 0] and diff[5] > 0
    assert rel[0] == 0 and rel[1] == np.inf
    assert errors(np.float32([-1]), np.float32([1]))[2][0] == 2 * 0x3F800000


def test_nan_in_a_kernel_is_past_tolerance():
    _, m, x = fresh()
    i = kernel_of(m, "5.conv1")
    bias = m.plan.kernels[i].constants[1]
    m._params[bias.offset] = np.nan              # output channel 0 turns NaN
    cmp = m.compare(x)
    assert cmp.worst is cmp[i]
    assert cmp[i].max_ulp == np.inf and cmp[i].max_abs == np.inf
    assert np.isnan(cmp[i].got) and np.isfinite(cmp[i].expected)


def test_nan_where_the_reference_has_nan_too_is_equal():
    compiler.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)).eval()
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype(np.float32)
    x[0, 0, 3, 3] = np.nan
    m = compiler.compile(net, x.shape)
    cmp = m.compare(x)
    assert np.isnan(m(x)).any()
    assert cmp.worst is None and all(r.max_ulp < 1e5 for r in cmp)


def test_printing():
    _, m, x = fresh()
    i = kernel_of(m, "4.conv1")
    weight = m.plan.kernels[i].constants[0]
    m._params[weight.offset:weight.offset + weight.array.size] *= np.float32(1.01)
    text = str(m.compare(x))
    lines = text.splitlines()
    assert lines[0].startswith("compared with smelt's NumPy interpreter (rtol=0.0001")
    assert lines[0].endswith(f"first past tolerance: {m.kernels[i].name} (4.relu)")
    assert lines[1].split() == ["kernel", "layers", "max", "abs", "max", "rel", "max", "ULP",
                                "worst", "at", "got", "expected"]
    assert len(lines) == 3 + len(m.kernels) and max(map(len, lines)) <= 140
    assert lines[3].startswith(m.kernels[0].name) and lines[3].endswith("ok")
    assert lines[3 + i].endswith("FAIL") and "3.conv1, 3.bn1, 3.relu" in lines[4]
    assert "every kernel within tolerance" in repr(m.compare(x, rtol=1, atol=1))


def test_rows_without_a_reference_value_say_so():
    _, m, x = compiled()
    other = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    cmp = m.compare(x, reference=other)
    assert cmp.reference == "Sequential on smelt's NumPy interpreter"
    assert cmp.worst is cmp[0]                   # layers 0-2: other weights, other numbers
    assert all(r.ok is None and r.note == f"no reference value for {r.layer}"
               for r in cmp[1:])
    assert "no reference value for 9" in str(cmp)


def test_bad_reference_and_inputs():
    _, m, x = compiled()
    with pytest.raises(TypeError, match="reference must be None, a torch.nn.Module"):
        m.compare(x, reference=42)
    with pytest.raises(ValueError, match="expected shape"):
        m.compare(x[:, :2])


def test_runtime_imports_nothing_from_compiler():
    """compare() lives in the compiler; the runtime only calls what the driver handed it."""
    code = ("import sys, runtime, runtime.model\n"
            "assert not [m for m in sys.modules if m.split('.')[0] == 'compiler'], sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
