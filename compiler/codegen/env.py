"""The Jinja environment, where the templates live, and the C identifier sanitiser."""
from __future__ import annotations

import functools
import importlib.resources
import re
from pathlib import Path

import jinja2

from ..ops.base import c_float
from . import cexpr
from .cformat import wrap_comment, wrap_list


def templates_dir() -> Path:
    """`compiler/_templates` in an installed wheel, `<checkout>/templates` in a source tree."""
    packaged = importlib.resources.files("compiler") / "_templates"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("smelt's templates are missing: expected compiler/_templates in the "
                            f"installed package or {checkout} in a source checkout")


@functools.cache
def env() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,      # a missing variable is an error, never ""
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False)
    environment.filters["cfloat"] = c_float
    environment.filters["comment"] = c_comment
    environment.filters["shape"] = lambda s: "x".join(map(str, s))
    environment.filters["wrap"] = wrap_list
    environment.filters["c_comment_block"] = comment_block
    environment.filters["paragraph"] = paragraph
    environment.globals.update(var=cexpr.var, atom=cexpr.atom, lift=cexpr.lift,
                               running=running, loop_values=loop_values, accumulators=accumulators, plus=cexpr.plus,
                               addr=cexpr.addr)
    return environment


def comment_block(text: str, width: int = 84) -> str:
    """`/* text */`, sanitised and broken into lines short enough for any indentation."""
    lines = wrap_comment(c_comment(text), width=width, lead=" * ")
    if len(lines) == 1:
        return f"/* {lines[0][3:]} */"
    return "/* " + lines[0][3:] + "\n" + "\n".join(lines[1:]) + " */"


def paragraph(text: str, first: str = " * ", end: str = "", width: int = 100) -> str:
    """Prose from a template (line breaks anywhere) as comment lines within `width` columns:
    the first starts with `first`, the others with " * ", the last ends with `end`."""
    lines = wrap_comment(" ".join(text.split()), width - len(end), " * ")
    return first + "\n".join(lines)[3:] + end


def accumulators(j: int, blocks: int, start: str | None = None) -> str:
    """`a<j>_0 = b0, a<j>_1 = b1, ...`: pixel j's accumulators, each starting at its bias (or
    all at `start`)."""
    return ", ".join(f"a{j}_{o} = {start or f'b{o}'}" for o in range(blocks))


def running(loops) -> list[tuple[str, int]]:
    """The (name, count) loops of a nest that run more than once (the ones written out)."""
    return [(name, count) for name, count in loops if count > 1]


def loop_values(loops) -> list:
    """Each loop's variable as seen in its body: the constant 0 if the loop runs once."""
    return [cexpr.var(name, count) if count > 1 else cexpr.lift(0) for name, count in loops]


def render(template: str, **context) -> str:
    return env().get_template(template).render(**context)


_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while asm typeof".split())


def c_identifier(*parts: str, max_len: int = 60) -> str:
    """A C identifier made from user-supplied names: letters, digits and '_' only, never
    starting with a digit, never a keyword, never a reserved `__` or `_X` form. Callers add
    a unique prefix."""
    text = "_".join(_NOT_IDENT.sub("_", str(p)) for p in parts if str(p))
    text = re.sub(r"_+", "_", text).strip("_")
    if not text:
        text = "anon"
    text = text[:max_len].rstrip("_")
    if text[0].isdigit() or text in C_KEYWORDS:
        text = "n" + text
    return text


def c_comment(text) -> str:
    """Text safe inside /* ... */: printable ASCII, no line breaks or backslashes, no comment
    delimiters and no trigraphs (`??/` is a backslash to a compiler that honours them)."""
    text = "".join(ch if 32 <= ord(ch) < 127 and ch != "\\" else "?" for ch in str(text))
    text = text.replace("*/", "* /").replace("/*", "/ *")
    return re.sub(r"\?(?=\?)", "? ", text)
