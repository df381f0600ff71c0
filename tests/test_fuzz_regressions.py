"""Regressions found by random differential testing against live PyTorch: each case is the
smallest model (a spec as in tests/cases) that reproduced a wrong answer or a crash."""
import numpy as np
import pytest

import compiler
from compiler.target import VECTOR_FLOATS

from . import isas
from .frameworks import Case, build, case_inputs, randomize_batchnorm, smelt_namespace, \
    torch_namespace
from .parity import assert_close


def torch_and_smelt(case: Case, calls: int = 1, **options):
    """Live PyTorch and compiled smelt, same weights (BatchNorm statistics randomised), on
    `calls` successive inputs: ([torch outputs], [smelt outputs], torch module, CompiledModel)."""
    torch = pytest.importorskip("torch")
    module = build(case.spec, torch_namespace())
    randomize_batchnorm(module, np.random.default_rng(0))
    module.train(case.train)
    model = build(case.spec, smelt_namespace())
    model.load_state_dict({k: v.numpy() for k, v in module.state_dict().items()})
    model.train(case.train)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    m = compiler.compile(model, shape, **options)
    expected, got = [], []
    for call in range(calls):
        xs = case_inputs(Case(f"{case.id}/{call}", case.spec, case.shape, data=case.data))
        with torch.no_grad():
            expected.append(module(*[torch.from_numpy(x.copy()) for x in xs]).numpy())
        got.append(m(*xs))
    return expected, got, module, m


def check(case: Case, calls: int = 1, **options):
    expected, got, module, m = torch_and_smelt(case, calls, **options)
    for call, (y, want) in enumerate(zip(got, expected)):
        assert_close(y, want, case.rtol, case.atol, f"{case.id} call {call} vs live PyTorch")
    return module, m


# --- grouped convolutions whose groups are whole channel blocks (conv2d_blocked) ---------------
@pytest.mark.parametrize("isa", isas.RUNNABLE)
@pytest.mark.parametrize("spec", [
    "nn.Conv2d({c}, {c}, 1, groups=2)",                                # NCHW input (first layer)
    "nn.Conv2d({c}, {c}, 3, padding=1, groups=2, bias=False)",
    "nn.Sequential(nn.Conv2d({c}, {c}, 1), nn.Conv2d({c}, {c}, 3, groups=2))",   # blocked input
    "nn.Sequential(nn.Conv2d({c}, {c}, 1), nn.Conv2d({c}, {c2}, 3, padding=1, groups=2), "
    "nn.BatchNorm2d({c2}), nn.ReLU(), nn.Conv2d({c2}, {c}, 1))",
], ids=["nchw_in", "nchw_in_3x3", "blocked_in", "blocked_in_to_blocked"])
def test_grouped_conv_whole_blocks(spec, isa):
    v = VECTOR_FLOATS[isa]
    c = 2 * v                                    # two groups of exactly one block each
    check(Case("grouped_blocks", spec.format(c=c, c2=2 * c), (2, c, 5, 6)), isa=isa)


# --- a channel-blocked tensor returned through a Flatten ----------------------------------------
@pytest.mark.parametrize("spec, shape", [
    # conv 0's output is read by a convolution (so it stays blocked) and by the cat/add
    ("nn.Sequential(nn.Conv2d(3, 16, 1), Add(nn.MaxPool2d(3, 1, 1), nn.Conv2d(16, 16, 1)), "
     "nn.Flatten())", (2, 3, 5, 6)),
    ("nn.Sequential(nn.Conv2d(3, 16, 1), Cat(nn.ReLU(), nn.Conv2d(16, 16, 1)), nn.Flatten(2))",
     (2, 3, 5, 6)),
    ("nn.Sequential(nn.Conv2d(1, 1, 1), Cat(nn.Identity(), nn.Conv2d(1, 24, 5, padding=2)), "
     "nn.Flatten(0, -3))", (2, 1, 7, 7)),
], ids=["add_flatten", "cat_flatten2", "cat_flatten0"])
def test_blocked_tensor_flattened_into_the_output(spec, shape):
    check(Case("flat_out", spec, shape))
