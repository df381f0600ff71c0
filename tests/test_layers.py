"""Every layer case: compiled output == PyTorch's (fixture) == NumPy reference; live PyTorch
too when it is installed."""
import numpy as np
import pytest

from .cases import CASES
from .frameworks import build, torch_namespace
from .parity import assert_close, compile_case, fixture, reference_output

DETERMINISTIC = [c for c in CASES if "random" not in c.tags]


@pytest.mark.parametrize("case", DETERMINISTIC, ids=lambda c: c.id)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_matches_pytorch_fixture(case, fuse):
    xs, sd, expected, after = fixture(case)
    model, m = compile_case(case, sd, fuse=fuse)
    y = m(*xs)
    assert_close(y, expected, case.rtol, case.atol, f"{case.id} vs PyTorch fixture")
    assert_close(y, reference_output(model, case, xs), case.rtol, case.atol,
                 f"{case.id} vs NumPy reference")
    if after:
        state = m.state_dict()
        for key, value in after.items():
            assert_close(state[key], value, 1e-5, 1e-6, f"{case.id} state {key}")


@pytest.mark.parametrize("case", DETERMINISTIC, ids=lambda c: c.id)
def test_matches_live_pytorch(case):
    torch = pytest.importorskip("torch")
    xs, sd, _, _ = fixture(case)
    module = build(case.spec, torch_namespace())
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})
    module.train(case.train)
    with torch.no_grad():
        expected = module(*[torch.from_numpy(x.copy()) for x in xs]).numpy()
    _, m = compile_case(case, sd)
    assert_close(m(*xs), expected, case.rtol, case.atol, f"{case.id} vs live PyTorch")
