"""An op is described once, and forgetting a piece fails early, naming what is missing:
at import (no reference, no C expression), at build time (a C helper that does not exist),
or here (an activation without a row in the case table, which PyTorch's fixtures cover)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import compiler
from compiler import nn
from compiler.errors import CompileError
from compiler.ops.eltwise import Activation, Elementwise

from .cases import activation

ACTIVATIONS = sorted(name for name, op in Elementwise.registry.items()
                     if issubclass(op, Activation))


def test_an_op_without_its_pieces_fails_at_import():
    with pytest.raises(TypeError, match="Incomplete must define reference and c_apply"):
        class Incomplete(Activation):       # noqa: F841
            pass
    assert "Incomplete" not in Elementwise.registry


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_is_a_layer_with_a_case_row(name):
    assert isinstance(getattr(nn, name), type), f"compiler.nn has no {name}"
    specs = [spec for _, spec in activation.ACTIVATIONS]
    assert any(spec.startswith(f"nn.{name}(") for spec in specs), \
        f"{name} has no row in tests/cases/activation.py ACTIVATIONS"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_layer_signature_follows_the_op(name):
    op = Elementwise.registry[name]
    params = list(inspect.signature(getattr(nn, name)).parameters)
    if op.arguments or op.takes_inplace:
        assert params == list(op.arguments) + (["inplace"] if op.takes_inplace else [])


def test_a_c_helper_that_does_not_exist_fails_the_build(monkeypatch, tmp_path):
    """Not a warning and a library that fails to load later: a CompileError naming it."""
    monkeypatch.setenv("SMELT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(Elementwise.registry["Hardswish"], "c_apply",
                        lambda self, v, at: f"smelt_no_such_helper({v})")
    with pytest.raises(CompileError, match="smelt_no_such_helper"):
        compiler.compile(nn.Sequential(nn.Conv2d(1, 2, 1), nn.Hardswish()).eval(),
                         (1, 1, 3, 3))
    assert not list(tmp_path.glob("entries/*/*/lib.so"))


def test_hardswish_matches_its_reference_fused_and_alone():
    x = np.linspace(-5, 5, 2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    x.flat[::9] = np.nan
    op = Elementwise.registry["Hardswish"]()
    for fuse in (True, False):
        m = compiler.compile(nn.Sequential(nn.Hardswish()), x.shape, fuse=fuse)
        np.testing.assert_array_equal(m(x), op.reference(x))
