"""The exact C of a few small models, for every ISA, as recorded in tests/golden (regenerate
with `python -m tests.golden.make_golden` and review the diff)."""
import difflib

import pytest

from .golden import make_golden


@pytest.mark.parametrize("isa", make_golden.ISAS)
@pytest.mark.parametrize("name", list(make_golden.models()))
def test_source_is_the_recorded_one(name, isa):
    model, shape = make_golden.models()[name]
    recorded = make_golden.path(name, isa)
    assert recorded.exists(), "no golden source: run python -m tests.golden.make_golden"
    now = make_golden.source(model, shape, isa)
    if now != recorded.read_text():
        diff = difflib.unified_diff(recorded.read_text().splitlines(), now.splitlines(),
                                    str(recorded), "generated now", lineterm="", n=2)
        pytest.fail("the emitted C changed; if on purpose, run python -m tests.golden."
                    "make_golden and review the diff:\n" + "\n".join(list(diff)[:60]))
