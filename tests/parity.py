"""Shared checks: compile a case, compare with PyTorch's fixture, the NumPy reference and,
when torch is importable, live PyTorch."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import interp

from .frameworks import Case, build, smelt_namespace

FIXTURES = Path(__file__).with_name("fixtures") / "layers.npz"


def assert_close(actual, expected, rtol=1e-4, atol=1e-5, what=""):
    """allclose with NaN where NaN is expected; atol scales with the expected magnitude."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    finite = np.isfinite(expected)
    scale = float(np.abs(expected[finite]).max()) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * max(1.0, scale),
                               equal_nan=True, err_msg=what)


@functools.cache
def fixture_arrays() -> dict:
    with np.load(FIXTURES) as data:
        return {k: data[k] for k in data.files}


def fixture(case: Case):
    """(inputs, state_dict, output or None, state after or None) recorded from PyTorch."""
    data = fixture_arrays()
    if f"{case.id}/input0" not in data:
        pytest.fail(f"no fixture for case {case.id}: run python -m tests.fixtures.make_fixtures")
    xs = [data[f"{case.id}/input{i}"] for i in range(len(case.shapes))]
    sd = {k.split("/", 2)[2]: v for k, v in data.items() if k.startswith(f"{case.id}/before/")}
    after = {k.split("/", 2)[2]: v for k, v in data.items() if k.startswith(f"{case.id}/after/")}
    return xs, sd, data.get(f"{case.id}/output"), after or None


def smelt_model(case: Case, state_dict: dict):
    model = build(case.spec, smelt_namespace())
    model.load_state_dict(state_dict)
    model.train(case.train)
    return model


def compile_case(case: Case, state_dict: dict, **options):
    model = smelt_model(case, state_dict)
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    return model, compiler.compile(model, shape, **options)


def reference_output(model, case: Case, xs):
    """The NumPy reference interpreter on the unplanned graph."""
    shape = case.shapes if len(case.shapes) > 1 else case.shapes[0]
    return interp.run(compiler.trace(model, shape), *xs)
