"""The frame around every kernel's body: header comment, signature, constant pointers.

A kernel takes its inputs and output, then only what its body uses: `params` when it reads
constants, `state` when it keeps running statistics or seeds, `step` when a random op draws
for this call, `nthreads` when it runs a parallel loop. The signature is written here once
and serves the C definition, the cffi declaration and the entry point's call.
"""
from __future__ import annotations

from .cexpr import plus
from .cformat import reindent, wrap_comment
from .env import c_comment, render

#: the per-call arguments, in order, and their C types
EXTRA_ARGS = (("params", "const float *"), ("state", "double *"), ("step", "uint64_t "),
              ("nthreads", "int "))


def extra_args(spec) -> list[str]:
    """The per-call arguments `spec`'s kernel takes after its arrays."""
    used = {"params": bool(spec.constants), "state": bool(spec.state_slots),
            "step": spec.uses_step, "nthreads": spec.parallel}
    return [name for name, _ in EXTRA_ARGS if used[name]]


def kernel_signature(spec, restrict: bool = True, static: bool = False) -> str:
    r = "restrict " if restrict else ""
    first = "" if spec.inplace else r        # in place: out is in0, so neither is restrict
    args = [f"const float *{first if i == 0 else r}in{i}" for i in range(len(spec.in_shapes))]
    args.append(f"float *{first}out")
    return c_signature(spec.name, args + typed(extra_args(spec), r),
                       "static void " if static else "void ")


#: the entry point's per-call arguments after its arrays, in order
ENTRY_ARGS = (("params", "const float *"), ("state", "double *"), ("arena", "float *"),
              ("step", "uint64_t "), ("nthreads", "int "))


def entry_extras(kernels, arena_floats: int) -> list[str]:
    """What the entry point takes after its inputs and outputs: what its kernels use, the
    arena if there are intermediates, and the thread count (it pins the OpenMP workers)."""
    used = {name for k in kernels for name in extra_args(k)} | {"nthreads"}
    if arena_floats:
        used.add("arena")
    return [name for name, _ in ENTRY_ARGS if name in used]


def entry_signature(name: str, n_in: int, n_out: int, extras: list[str],
                    restrict: bool = True) -> str:
    r = "restrict " if restrict else ""
    args = [f"const float *{r}in{i}" for i in range(n_in)] + \
        [f"float *{r}out{j}" for j in range(n_out)]
    return c_signature(name, args + typed(extras, r))


def typed(names: list[str], r: str) -> list[str]:
    types = dict(EXTRA_ARGS + ENTRY_ARGS)
    return [f"{types[n]}{r if '*' in types[n] else ''}{n}" for n in names]


def c_signature(name: str, args: list[str], returns: str = "void ") -> str:
    """`void name(args)` (or another return type and linkage), broken after commas to stay
    within 100 columns with a `;` after."""
    head = f"{returns}{name}("
    lines, line = [], head
    for i, arg in enumerate(args):
        piece = arg + ("," if i < len(args) - 1 else ")")
        if len(line) + len(piece) > 99 and line != head:
            lines.append(line.rstrip())
            line = " " * len(head)
        line += piece + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


def kernel_call(spec, inputs: list[str], output: str) -> str:
    return f"{spec.name}({', '.join(inputs + [output] + extra_args(spec))})"


def shape_text(shape, layout, physical) -> str:
    text = "x".join(map(str, shape))
    return f"{text} ({layout}: {'x'.join(map(str, physical))})" if layout.blocked else text


def kernel_header(spec) -> str:
    """/* name: layers, then op kinds, shapes, MFLOP and the lowering's note, line by line */"""
    lines = wrap_comment(c_comment(f"{spec.name}: {' + '.join(spec.layers)}"), lead="/* ")
    lines[1:] = [" *   " + line[3:] for line in lines[1:]]
    lines += wrap_comment(" + ".join(spec.kinds), lead=" *   ")
    for i, (shape, layout, physical) in enumerate(zip(spec.in_shapes, spec.in_layouts,
                                                      spec.in_physical)):
        lines.append(f" *   in{i}  {shape_text(shape, layout, physical)}")
    lines.append(f" *   out  {shape_text(spec.out_shape, spec.out_layout, spec.out_physical)}")
    note = f"{spec.flops / 1e6:.3f} MFLOP" + (f"; {spec.note}" if spec.note else "") + \
        ("; in place: out is in0" if spec.inplace else "")
    lines += wrap_comment(c_comment(note), lead=" *   ")
    return "\n".join(lines) + "\n */"


def constant_lines(spec) -> list[str]:
    lines = []
    for c in spec.constants:
        line = f"const float *restrict {c.cname} = {plus('params', c.offset)};"
        note = f"   /* {c_comment(c.note)} */" if c.note else ""
        lines.append(line + (note if len(line) + len(note) <= 96 else ""))
    return lines


def kernel_source(spec) -> str:
    """The whole C function of `spec`: its template renders the body."""
    body = render(spec.template, k=spec, cfg=spec.ctx).strip("\n")
    block = reindent("\n".join(["{", *constant_lines(spec), body, "}"]))
    return "\n".join([kernel_header(spec), kernel_signature(spec), block.rstrip("\n")])
