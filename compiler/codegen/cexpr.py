"""Integer C expressions that fold their constants as they are built.

Templates write index arithmetic as they would in C, on `Expr` values:

    {{ (n * cb_count + cb) * plane + oh * row + ow0 * v }}

and the text that comes out has every literal product computed and every `* 1`, `+ 0` and
`+ -3` gone: `n * 24576 + cb * 4096 + oh * 64 + ow0 * 16`. A loop that runs once binds its
variable to the constant 0, so everything indexed by it folds away with the loop.

An Expr is a sum of integer multiples of atoms (loop variables, table lookups such as
`kh_lo[oh]`, or an opaque quotient) plus a constant. A loop variable knows its range, so a
channel written as `cb * 16 + lane` (lane < 16) divides by 16 into `cb` and leaves `lane`.
Offsets stay within a C `int`: compiler/limits.py bounds every tensor's element count below
2**31.
"""
from __future__ import annotations

from typing import Union

Value = Union["Expr", int]


class Expr:
    __slots__ = ("terms", "const", "ranges")

    def __init__(self, terms: dict[str, int] | None = None, const: int = 0,
                 ranges: dict[str, tuple[int, int]] | None = None):
        self.terms = {a: c for a, c in (terms or {}).items() if c}
        self.const = int(const)
        self.ranges = {a: r for a, r in (ranges or {}).items() if a in self.terms}

    @property
    def is_const(self) -> bool:
        return not self.terms

    def __add__(self, other: Value) -> Expr:
        other = lift(other)
        terms = dict(self.terms)
        for atom, coef in other.terms.items():
            terms[atom] = terms.get(atom, 0) + coef
        return Expr(terms, self.const + other.const, {**self.ranges, **other.ranges})

    __radd__ = __add__

    def __neg__(self) -> Expr:
        return self * -1

    def __sub__(self, other: Value) -> Expr:
        return self + (-lift(other))

    def __rsub__(self, other: Value) -> Expr:
        return lift(other) - self

    def __mul__(self, other: Value) -> Expr:
        other = lift(other)
        if other.is_const:
            k = other.const
            return Expr({a: c * k for a, c in self.terms.items()}, self.const * k, self.ranges)
        if self.is_const:
            return other * self.const
        return atom(f"({self}) * ({other})")

    __rmul__ = __mul__

    def split(self, k: int) -> tuple[Expr, Expr] | None:
        """(quotient, remainder) of division by k when the terms that k does not divide are
        known to stay within [0, k) (loop ranges), else None."""
        whole = {a: c // k for a, c in self.terms.items() if c % k == 0}
        rest = Expr({a: c for a, c in self.terms.items() if c % k}, self.const % k, self.ranges)
        lo = hi = rest.const
        for a, c in rest.terms.items():
            if a not in self.ranges:
                return None
            first, last = self.ranges[a][0], self.ranges[a][1] - 1
            lo, hi = lo + min(c * first, c * last), hi + max(c * first, c * last)
        if lo < 0 or hi >= k:
            return None
        return Expr(whole, self.const // k, self.ranges), rest

    def __floordiv__(self, k: int) -> Expr:
        """C division by a positive literal; the operand is never negative where we use it."""
        parts = self.split(k)
        return parts[0] if parts is not None else atom(f"{self.grouped()} / {k}")

    def __mod__(self, k: int) -> Expr:
        parts = self.split(k)
        return parts[1] if parts is not None else atom(f"{self.grouped()} % {k}")

    def grouped(self) -> str:
        """The expression as an operand of a tighter-binding operator."""
        text = str(self)
        return text if len(self.terms) + bool(self.const) <= 1 and self.const >= 0 and \
            all(c == 1 for c in self.terms.values()) else f"({text})"

    def __str__(self) -> str:
        parts = []
        for a, c in self.terms.items():
            magnitude = a if abs(c) == 1 else f"{a} * {abs(c)}"
            parts.append(("- " if c < 0 else "+ ") + magnitude)
        if self.const or not parts:
            parts.append(("- " if self.const < 0 else "+ ") + str(abs(self.const)))
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    def __repr__(self) -> str:
        return f"Expr({self})"

    def __eq__(self, other) -> bool:
        other = lift(other) if isinstance(other, (int, Expr)) else None
        return other is not None and self.terms == other.terms and self.const == other.const

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.terms.items())), self.const))


def lift(value: Value) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an index expression takes ints, got {value!r}")
    return Expr(const=value)


def var(name: str, count: int | None = None, start: int = 0) -> Expr:
    """A C variable (a loop index, a pointer offset held in a variable); a loop index knows
    its range [start, start + count)."""
    return Expr({name: 1}, ranges={name: (start, start + count)} if count else None)


def atom(text: str) -> Expr:
    """Any C expression, used as an opaque term (a table lookup, a quotient)."""
    return Expr({text: 1})


def plus(base: str, offset: Value) -> str:
    """`base + offset` as C text, `base` alone when the offset is 0 (pointer arithmetic)."""
    offset = lift(offset)
    if offset == 0:
        return base
    if not offset.terms and offset.const < 0 or next(iter(offset.terms.values()), 1) < 0:
        return f"{base} - {-offset}"
    return f"{base} + {offset}"


def addr(base: str, offset: Value) -> str:
    """`plus` as an operand of a cast: `base`, or `(base + offset)`."""
    text = plus(base, offset)
    return text if text == base else f"({text})"
