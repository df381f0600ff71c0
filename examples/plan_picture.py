"""Print the plan of a residual network and draw its kernel graph.

    python examples/plan_picture.py [out.svg]

Writes the Graphviz DOT text next to the SVG; the SVG needs Graphviz's `dot` program.
"""
import sys
from pathlib import Path

import compiler
from compiler import nn


class Residual(nn.Module):
    def __init__(self, c, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c * stride, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c * stride)
        self.conv2 = nn.Conv2d(c * stride, c * stride, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c * stride)
        self.relu = nn.ReLU(inplace=True)
        self.down = nn.Identity() if stride == 1 else nn.Sequential(
            nn.Conv2d(c, c * stride, 1, stride, bias=False), nn.BatchNorm2d(c * stride))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.down(x))


def main():
    svg = Path(sys.argv[1] if len(sys.argv) > 1 else "plan.svg")
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                        nn.ReLU(), Residual(16), Residual(16, stride=2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).eval()
    m = compiler.compile(net, (1, 3, 32, 32))
    print(m.plan)
    svg.with_suffix(".dot").write_text(m.plan.to_dot())
    try:
        m.plan.save_svg(svg)
        print(f"\nwrote {svg} and {svg.with_suffix('.dot')}")
    except RuntimeError as e:
        print(f"\nwrote {svg.with_suffix('.dot')}; no SVG: {e}")


if __name__ == "__main__":
    main()
