"""Every layer case, one file per layer family."""
from . import activation, conv

CASES = [*conv.CASES, *activation.CASES]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
