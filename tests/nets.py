"""Helper modules and whole networks, written once against a framework's `nn` and `cat`."""
from __future__ import annotations


def helpers(nn, cat) -> dict:
    """Small wrappers that let a one-line spec express `+` and cat."""

    class Add(nn.Module):
        """a(x) + b(x) (b defaults to the identity)."""

        def __init__(self, a, b=None):
            super().__init__()
            self.a = a
            self.b = b if b is not None else nn.Identity()

        def forward(self, x):
            return self.a(x) + self.b(x)

    class AddInputs(nn.Module):
        def forward(self, x, y):
            return x + y

    class Cat(nn.Module):
        """cat([m(x) for m in branches], dim)."""

        def __init__(self, *branches, dim=1):
            super().__init__()
            self.branches = nn.ModuleList(branches)
            self.dim = dim

        def forward(self, x):
            return cat([m(x) for m in self.branches], dim=self.dim)

    class CatInputs(nn.Module):
        def __init__(self, dim=1):
            super().__init__()
            self.dim = dim

        def forward(self, *xs):
            return cat(list(xs), dim=self.dim)

    return {"Add": Add, "AddInputs": AddInputs, "Cat": Cat, "CatInputs": CatInputs}
