"""Kernel families, and the one predicate that says which of them runs a node.

A family is a lowering (compiler/kernels/<module>.py) and its template. `runs` answers, for a
node and the layouts its inputs and output would have, whether the family runs it well; the
layout pass asks it before it decides layouts, and lowering asks it again to pick the family,
so the two can never disagree. kernels/__init__.py lists every op's families in order of
preference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..layout import NCHW, Layout


@dataclass(frozen=True)
class Layouts:
    """The layouts a node's inputs and output have, or would have."""

    ins: tuple[Layout, ...]
    out: Layout

    @staticmethod
    def of(node) -> Layouts:
        return Layouts(tuple(i.layout for i in node.inputs), node.layout)

    @property
    def blocked(self) -> bool:
        return self.out.blocked or any(lay.blocked for lay in self.ins)

    @property
    def nchw(self) -> bool:
        return not self.blocked

    def same(self) -> bool:
        """Every input in the output's layout."""
        return all(lay == self.out for lay in self.ins)


@dataclass(frozen=True)
class Family:
    name: str
    #: (node, target, layouts) -> bool: this family runs `node` in these layouts
    runs: Callable
    #: (spec, target) -> None: fills the KernelSpec; called only where `runs` said yes
    lower: Callable
    #: plain loops over NCHW, kept for kernels="reference" and for what nothing faster runs
    reference: bool = False
    #: may write its output over its first input (the memory plan decides when it does)
    in_place: bool = False
    #: sums what the direct algorithm sums (False: a faster algorithm that rounds otherwise,
    #: such as Winograd's; compile(..., exact=True) never picks it)
    exact: bool = True


def nchw_only(node, target, layouts: Layouts) -> bool:
    """The reference families' predicate: every tensor NCHW."""
    return layouts.nchw


def all_nchw(node) -> Layouts:
    return Layouts((NCHW,) * len(node.inputs), NCHW)
