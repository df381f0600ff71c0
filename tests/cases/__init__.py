"""Every layer case, one file per layer family."""
from . import (activation, blocked_conv, blocked_pool, blocked_shape, conv, linear, norm, ops,
               pool, shape, softmax)

CASES = [*conv.CASES, *activation.CASES, *linear.CASES, *norm.CASES, *softmax.CASES,
         *pool.CASES, *shape.CASES, *blocked_conv.CASES, *blocked_pool.CASES,
         *blocked_shape.CASES, *ops.CASES]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
