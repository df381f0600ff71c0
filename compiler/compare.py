"""m.compare(x, reference): how close every kernel's output is to a reference, layer by layer.

Each kernel's output is the value of its last fused layer. The compiled model runs its kernels
one by one (CompiledModel.kernel_outputs); a reference records the value of every layer it
runs under the layer's name (compiler/references.py); the two meet at the kernel's last layer,
by name and call (a module applied twice has two values). Nodes the planner made (a layout
conversion, an output copy) hold the value of the layer they copy, and a kernel that writes a
slice of a concatenation is compared with that slice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph, Node
from .ops import Cat, Copy, Reorder
from .references import reference_values


@dataclass
class Row:
    """One kernel next to the reference. Without a reference value, the numbers are None
    and `note` says why."""

    kernel: str
    layers: list[str]
    layer: str                       # the layer compared: the kernel's last
    shape: tuple                     # the kernel's output (NCHW)
    max_abs: float | None = None
    max_rel: float | None = None     # |a - b| / max(|b|, tiny)
    max_ulp: float | None = None     # float32 ULP distance (NaN == NaN is 0, NaN != number inf)
    where: tuple | None = None       # index of the element with the largest |a - b|
    got: float | None = None         # the kernel's value there
    expected: float | None = None    # the reference's value there
    ok: bool | None = None           # within tolerance (None: nothing to compare with)
    note: str = ""


@dataclass
class Comparison:
    """One Row per kernel, in execution order; print() shows them as a table."""

    rows: list[Row]
    reference: str                   # what the kernels were compared with
    rtol: float
    atol: float

    @property
    def worst(self) -> Row | None:
        """The first kernel past the tolerance, or None."""
        return next((r for r in self.rows if r.ok is False), None)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        head = ("kernel", "layers", "max abs", "max rel", "max ULP", "worst at", "got",
                "expected", "")
        rows = [head] + [cells(r) for r in self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)] + [0]
        lines = ["  ".join(c.ljust(w) if i < 2 or i == 8 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
        worst = self.worst
        verdict = (f"first past tolerance: {worst.kernel} ({worst.layer})" if worst
                   else "every kernel within tolerance")
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join([f"compared with {self.reference} (rtol={self.rtol:g}, atol="
                          f"{self.atol:g} x max(1, max |reference|)): {verdict}"] + lines)

    __repr__ = __str__


def cells(r: Row) -> tuple:
    layers = ", ".join(r.layers)
    layers = layers if len(layers) <= 48 else layers[:45] + "..."
    if r.ok is None:
        return (r.kernel, layers) + ("-",) * 6 + (r.note,)
    ulp = "inf" if r.max_ulp == np.inf else f"{r.max_ulp:.0f}"
    return (r.kernel, layers, f"{r.max_abs:.3g}", f"{r.max_rel:.3g}", ulp,
            ",".join(map(str, r.where)), f"{r.got:.7g}", f"{r.expected:.7g}",
            "ok" if r.ok else "FAIL")


def compare(graph: Graph, model, inputs: list, reference=None, *, step: int = 0,
            rtol: float = 1e-4, atol: float = 1e-5) -> Comparison:
    """Compare the compiled `model` (compiled from `graph`) with `reference` on `inputs`;
    `step` is the model's next call number (Dropout2d masks)."""
    values, description = reference_values(reference, graph, inputs, step)
    calls = call_names(graph)
    plan = model.plan
    rows = []
    for k, spec, got in zip(model.kernels, plan.kernels, model.kernel_outputs(*inputs)):
        origin, node = produced(spec.node, plan.graph)
        name, call = calls.get(id(origin), (origin.name, None))
        row = Row(k.name, list(k.layers), name + (f" (call {call + 1})" if call else ""),
                  got.shape)
        expected = values.find(name, call) if call is not None else None
        if expected is not None and expected.shape != got.shape:
            expected = slice_of_cat(expected, node, plan.graph)
        if call is None:
            row.note = f"{name}: made by the planner, no layer to compare"
        elif expected is None:
            row.note = f"no reference value for {row.layer}"
        elif expected.shape != got.shape:
            row.note = f"{name}: reference shape {expected.shape} != {got.shape}"
        else:
            measure(row, got, expected, rtol, atol)
        rows.append(row)
    return Comparison(rows, description, rtol, atol)


def call_names(graph: Graph) -> dict[int, tuple[str, int]]:
    """id(node.origin) -> (name, call): the call-th node of that name in execution order
    (by origin, as planned nodes are copies of the graph's, or of what it was copied from)."""
    seen: dict[str, int] = {}
    out = {}
    for node in graph.inputs + graph.nodes:
        out[id(node.origin)] = (node.name, seen.get(node.name, 0))
        seen[node.name] = seen.get(node.name, 0) + 1
    return out


def last_step(node: Node) -> Node:
    """The node whose value `node`'s kernel stores: the last of its fused layers."""
    fused = list(node.fused)
    if node.store is not None:
        fused.insert(node.store_after, node.store)
    return fused[-1] if fused else node.folded[-1] if node.folded else node


def produced(node: Node, g: Graph) -> tuple[Node, Node]:
    """(traced node whose value the kernel of `node` writes, the planned node it writes it
    as). A copy or layout conversion holds its input's value; a cat whose pieces all end in
    one elementwise layer after it (moved into the producers) holds that layer's value."""
    last = last_step(node)
    if last is node and isinstance(node.op, (Copy, Reorder)):
        return produced(node.inputs[0], g)
    if last is node and isinstance(node.op, Cat):
        ends = {id(last_step(p).origin): last_step(p).origin
                for p in node.inputs[:node.anchor_arity]}
        if len(ends) == 1:
            (end,) = ends.values()
            if not any(end is i.origin for i in node.origin.inputs):
                return end, node
    return last.origin, node


def slice_of_cat(value: np.ndarray, node: Node, g: Graph) -> np.ndarray:
    """The slice of a concatenation's `value` that `node` (one of its pieces) writes, or
    `value` itself when `node` is no piece of a cat of that shape."""
    cats = [n for n in g.nodes if isinstance(n.op, Cat)] + \
        [n.concat_of for n in g.nodes if n.concat_of is not None]
    if node.slice_of is not None:
        cats.insert(0, node.slice_of[0])
    for cat in cats:
        pieces = [id(p) for p in cat.inputs]
        if id(node) in pieces and tuple(cat.shape) == value.shape:
            dim = cat.op.dim
            start = sum(p.shape[dim] for p in cat.inputs[:pieces.index(id(node))])
            index = (slice(None),) * dim + (slice(start, start + node.shape[dim]),)
            return value[index]
    return value


def errors(got: np.ndarray, expected: np.ndarray):
    """Elementwise |a - b|, relative error and float32 ULP distance (float64 arrays).
    Equal values (NaN and NaN, inf and inf) differ by 0; NaN and a number by inf."""
    a, b = got.astype(np.float32), expected.astype(np.float32)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    one_nan = np.isnan(a) != np.isnan(b)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        rel = diff / np.maximum(np.abs(b.astype(np.float64)), np.finfo(np.float32).tiny)
    ulp = np.abs(ordered(a) - ordered(b)).astype(np.float64)
    for e in (diff, rel, ulp):
        e[same] = 0
        e[one_nan] = np.inf
    return diff, rel, ulp


def ordered(x: np.ndarray) -> np.ndarray:
    """float32 bit patterns as integers in the order of the values (-0 and +0 equal)."""
    bits = x.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def measure(row: Row, got: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    """Fill `row` with the errors of `got` against `expected` and the verdict."""
    diff, rel, ulp = errors(got, expected)
    row.ok = True
    if diff.size == 0:
        row.max_abs = row.max_rel = row.max_ulp = 0.0
        row.where, row.got, row.expected = (), 0.0, 0.0
        return
    b = np.abs(expected.astype(np.float64))
    finite = b[np.isfinite(b)]
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    row.max_abs, row.max_rel, row.max_ulp = float(diff.max()), float(rel.max()), \
        float(ulp.max())
    row.where = tuple(int(i) for i in worst)
    row.got, row.expected = float(got[worst]), float(expected[worst])
    with np.errstate(invalid="ignore"):
        row.ok = bool(np.all(diff <= atol * scale + rtol * np.where(np.isfinite(b), b, 0)))
