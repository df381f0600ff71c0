"""Lay out generated C the way a person would: four-space indentation by brace depth.

Templates are written for the structure of the code, not its indentation (a loop that runs
once is left out, and its body moves up a level); this pass re-indents every line from the
braces. It knows the little C the templates write: statements, blocks, `for`/`if`/`else`
with or without braces, block comments and preprocessor lines (kept at column 0).
"""
from __future__ import annotations

import re

INDENT = "    "
_CONTROL = re.compile(r"(for|if|while|else)\b")


def reindent(source: str) -> str:
    """`source` with each line indented by its brace depth; blank runs squeezed to one, none
    just inside braces, and a block that is the whole body of another merged into it."""
    source = "\n".join(drop_redundant_braces(source.splitlines()))
    out: list[str] = []
    levels: list[int] = []        # per open brace, the levels it indents (more under `for (..)`)
    pending = 0                   # unbraced `for (...)` / `if (...)` lines awaiting their body
    in_comment = in_macro = False
    for raw in source.splitlines():
        if in_macro:               # a preprocessor line continued with a backslash: verbatim
            out.append(raw.rstrip())
            in_macro = raw.rstrip().endswith("\\")
            continue
        line = raw.strip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if in_comment:             # continuation lines of a block comment: " * ..." under "/*"
            out.append(INDENT * (sum(levels) + pending) + " " + line)
            in_comment = "*/" not in line
            continue
        if line.startswith("#"):
            out.append(line)
            in_macro = line.endswith("\\")
            continue
        code = strip_comments(line)
        closing = code.startswith("}")
        extra = pending
        if closing and levels:
            extra = levels.pop() - 1     # a brace closes at the column of the line it opened
        out.append(INDENT * (sum(levels) + extra) + line)
        if line.startswith("/*") and "*/" not in line:
            in_comment = True
        net = code.count("{") - code.count("}") + closing
        for i in range(max(net, 0)):
            levels.append(1 + pending if i == 0 else 1)
        for _ in range(max(-net, 0)):
            if levels:
                levels.pop()
        statement = code.lstrip("} ")
        if _CONTROL.match(statement) and not code.endswith(("{", ";", "}")):
            pending += 1
        elif code:
            pending = 0
    while out and out[-1] == "":
        out.pop()
    tidy = [line for i, line in enumerate(out)
            if line or not (i + 1 < len(out) and out[i + 1].lstrip().startswith("}")
                            or i > 0 and out[i - 1].endswith("{"))]
    return "\n".join(piece for line in tidy for piece in wrap_line(line)) + "\n"


def wrap_line(line: str, width: int = 100) -> list[str]:
    """A statement too long for `width` columns broken after commas (or before `?` and `:`)
    at its outermost parenthesis level, continuation lines indented one level deeper."""
    if len(line) <= width or line.lstrip().startswith(("/*", "*", "#")):
        return [line]
    indent = line[:len(line) - len(line.lstrip())] + INDENT
    breaks, depth = [], 0               # (rank, where): lower ranks (outer levels) first
    for i, ch in enumerate(line):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and line[i + 1:i + 2] == " ":
            breaks.append((2 * depth, i + 2))
        elif ch in "?:" and line[i - 1:i + 2] in (f" {ch} ",):
            breaks.append((2 * depth - 1, i))
        elif ch == "=" and line[i - 1:i + 2] == " = " and depth == 0 and \
                len(indent) + len(line) - i - 2 <= width:     # the right-hand side fits alone
            breaks.append((0, i + 2))
        elif ch in "+-" and line[i - 1:i + 2] == f" {ch} ":
            breaks.append((2 * depth + 1, i))
    pieces, start = [], 0
    while len(line) - start + (len(indent) if pieces else 0) > width:
        limit = start + width - (len(indent) if pieces else 0)
        fits = [b for b in breaks if start < b[1] <= limit]
        if not fits:
            break
        at = max(fits, key=lambda b: (-b[0], b[1]))[1]     # the outermost level, the latest
        pieces.append(line[start:at].rstrip())
        start = at
    pieces.append(line[start:])
    return [pieces[0]] + [indent + piece.lstrip() for piece in pieces[1:]]


def drop_redundant_braces(lines: list[str]) -> list[str]:
    """Remove a bare `{` ... `}` block that directly follows an opening brace and is directly
    followed by the closing one: `for (..) { { body } }` is `for (..) { body }`."""
    code = [strip_comments(line) for line in lines]
    live = [i for i, c in enumerate(code) if c]
    nxt = {a: b for a, b in zip(live, live[1:])}
    prev = {b: a for a, b in zip(live, live[1:])}
    match, stack = {}, []
    for i in live:
        if code[i] == "{":
            stack.append(i)
        elif code[i] == "}" and stack:
            match[stack.pop()] = i
        elif code[i].count("{") != code[i].count("}"):
            stack.extend([-1] * max(code[i].count("{") - code[i].count("}"), 0))
            for _ in range(max(code[i].count("}") - code[i].count("{"), 0)):
                if stack:
                    stack.pop()
    drop = set()
    for open_, close in match.items():
        before, after = prev.get(open_), nxt.get(close)
        if before is not None and after is not None and code[before].endswith("{") and \
                code[after].startswith("}"):
            drop |= {open_, close}
    return [line for i, line in enumerate(lines) if i not in drop]


def strip_comments(line: str) -> str:
    """The code of one line: comments and string/char literals' braces do not count."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    line = re.sub(r"/\*.*?\*/", "", line)
    line = line.split("/*")[0].split("//")[0]
    return line.strip()


def wrap_list(items, indent: int = 4, width: int = 88) -> str:
    """Comma-separated `items` broken into lines of at most `width` columns (the first line
    continues whatever precedes it; later ones are indented by `indent`)."""
    lines, current = [], ""
    for text in map(str, items):
        candidate = f"{current}, {text}" if current else text
        if current and len(candidate) + indent + 2 > width:
            lines.append(current + ",")
            current = text
        else:
            current = candidate
    lines.append(current)
    return ("\n" + " " * indent).join(lines)


def wrap_comment(text: str, width: int = 100, lead: str = " * ") -> list[str]:
    """Words of `text` as comment lines of at most `width` columns, each starting `lead`."""
    lines, current = [], ""
    for word in text.split():
        if current and len(lead) + len(current) + 1 + len(word) > width:
            lines.append(lead + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(lead + current)
    return lines
