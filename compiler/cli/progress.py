"""The progress display of long compiles: compile()'s progress(stage, done, total) drawn as a
tqdm bar per stage on stderr, only when the user watches a terminal (stdout and stderr both
are one), so logs and pipes stay clean."""
from __future__ import annotations

import sys

from tqdm import tqdm

#: what a stage counts, when it counts something
UNITS = {"C compiler": "translation units"}


def watching() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


class Progress:
    """A compile() progress callback; does nothing unless `enabled` (default: watching())."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = watching() if enabled is None else enabled
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or self.bar.desc != stage:
            self.close()
            counts = total > 1 or stage in UNITS
            self.bar = tqdm(total=total, desc=stage, unit=UNITS.get(stage, "steps"),
                            bar_format="{desc}: {n}/{total} {unit} {elapsed}" if counts
                            else "{desc}... {elapsed}", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
