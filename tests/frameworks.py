"""One model definition, two frameworks: specs are evaluated against compiler.nn or torch.nn.

A layer case is a string such as "nn.Conv2d(3, 8, 3, padding=1)", evaluated with `nn` and
`cat` bound to one framework, plus the helper modules of tests/nets.py built for it.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

import compiler


@dataclass
class Case:
    """One layer configuration compared against PyTorch."""

    id: str
    spec: str                          # expression building the module
    shape: tuple | list                # input shape, or a list of shapes for several inputs
    train: bool = False
    data: str = "randn"                # randn | extreme | nan | positive | wide | denormal
    rtol: float = 1e-4
    atol: float = 1e-5
    tags: tuple = field(default_factory=tuple)

    @property
    def shapes(self) -> list[tuple]:
        return list(self.shape) if isinstance(self.shape, list) else [self.shape]


def case_inputs(case: Case) -> list[np.ndarray]:
    """Deterministic inputs for a case, seeded by its id."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    out = []
    for shape in case.shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        if case.data == "extreme":
            x = (x * 1e4).astype(np.float32)
            x.flat[::3] = np.float32(1e4)
            x.flat[1::3] = np.float32(-1e4)
        elif case.data == "nan":
            x.flat[::7] = np.nan
        elif case.data == "positive":
            x = np.abs(x) + np.float32(0.1)
        elif case.data == "wide":         # magnitudes from every binade, both signs, +-inf
            x = (np.sign(x) * 10.0 ** rng.uniform(-45, 38.5, shape)).astype(np.float32)
            x.flat[::61] = np.inf
            x.flat[1::61] = -np.inf
        elif case.data == "denormal":     # subnormal floats (and a few of the smallest normals)
            x = (x * np.float32(1e-39)).astype(np.float32)
        out.append(x)
    return out


def namespace(nn, cat) -> SimpleNamespace:
    """The names a spec may use, built for one framework."""
    from . import nets
    return SimpleNamespace(nn=nn, cat=cat, **nets.helpers(nn, cat))


def smelt_namespace() -> SimpleNamespace:
    return namespace(compiler.nn, compiler.cat)


def torch_namespace() -> SimpleNamespace:
    import torch
    return namespace(torch.nn, torch.cat)


def build(spec: str, ns: SimpleNamespace):
    return eval(spec, {}, vars(ns))


def randomize_batchnorm(module, rng: np.random.Generator) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters (torch module)."""
    import torch
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                if m.track_running_stats:
                    m.running_mean.copy_(torch.from_numpy(rng.standard_normal(c).astype(np.float32)))
                    m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, c).astype(np.float32)))
                if m.weight is not None:
                    m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(rng.standard_normal(c).astype(np.float32)))
