"""Compile a PyTorch model as it is: check it, compile it, call it (three lines).

    pip install ".[torch]" && python examples/from_torch.py
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import compiler


class Block(nn.Module):
    """A residual block, written as PyTorch users write them."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += x
        return F.relu(out)


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU6())
        self.layer1 = nn.Sequential(Block(32), Block(32))
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.layer1(self.stem(x))
        return self.fc(x.mean((2, 3)))


def main():
    torch.manual_seed(0)
    net = Net().eval()                      # eval: BatchNorm folds into the convolutions
    x = np.random.rand(1, 3, 64, 64).astype(np.float32)

    print(compiler.check(net, x.shape))     # every part smelt cannot compile, if any
    m = compiler.compile(net, x.shape)      # traced with torch.fx, planned, built, loaded
    y = m(x)

    print(m.plan)                           # the kernels, named after net's own layers
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    print(f"max |smelt - torch| = {np.abs(y - expected).max():.2e}")


if __name__ == "__main__":
    main()
