"""Record the exact C of a few small models: python -m tests.golden.make_golden

The golden files are reviewed in diffs: a change to a template or a lowering shows up here as
the C it changes, for every ISA. tests/test_golden.py compares the C generated now with them.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import compiler  # noqa: E402
from compiler import nn  # noqa: E402

HERE = Path(__file__).parent
ISAS = ("avx512", "avx2", "generic")


class Residual(nn.Module):
    """conv + bn + relu, conv + bn, then the residual add and relu: two fused kernels."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


def models():
    """name -> (module, input shape): small, but every kind of kernel a CNN has."""
    compiler.manual_seed(0)
    return {
        "stem": (nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16),
                               nn.ReLU(), nn.MaxPool2d(3, 2, 1)).eval(), (1, 3, 16, 16)),
        "residual": (Residual().eval(), (1, 8, 6, 6)),
        "head": (nn.Sequential(nn.Conv2d(8, 16, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                               nn.Linear(16, 10), nn.Softmax(dim=1)).eval(), (2, 8, 5, 5)),
        "decoder": (nn.Sequential(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.Tanh(),
                                  nn.Upsample(scale_factor=2), nn.Conv2d(8, 3, 3, padding=1),
                                  nn.Sigmoid()).eval(), (1, 16, 3, 3)),
    }


def source(model, shape, isa: str) -> str:
    """The kernels and entry point smelt emits for `isa` (m.source from the first kernel on:
    the common header before them is the same in every program), without building them."""
    from compiler.codegen.emit import prepare, render_program
    from compiler.planner import plan
    from compiler.target import Target
    p = plan(compiler.trace(model, shape), target=Target.detect(isa))
    program = prepare(p)
    render_program(p, program, type(model).__name__, "golden")
    return program.source[program.source.index("\n/* k000_") + 1:]


def path(name: str, isa: str) -> Path:
    return HERE / f"{name}.{isa}.c"


def main() -> None:
    for name, (model, shape) in models().items():
        for isa in ISAS:
            path(name, isa).write_text(source(model, shape, isa))
    print(f"wrote {len(models()) * len(ISAS)} golden sources to {HERE}")


if __name__ == "__main__":
    main()
