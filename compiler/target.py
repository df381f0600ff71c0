"""The machine we generate code for: SIMD width and the default thread count."""
from __future__ import annotations

import os
from dataclasses import dataclass

from runtime.cpu import cpu_flags, physical_cores  # noqa: F401  (re-exported)


#: what a CPU must report (/proc/cpuinfo flags) to run each ISA's code: the x86-64-v3 and -v4
#: feature levels that the build's -march names
ISA_REQUIRES = {
    "avx512": frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2",
                         "fma"}),
    "avx2": frozenset({"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"}),
    "generic": frozenset(),
}
VECTOR_FLOATS = {"avx512": 16, "avx2": 8, "generic": 4}


def host_isa() -> str:
    """The widest ISA this machine runs."""
    flags = cpu_flags()
    return next(isa for isa in ("avx512", "avx2", "generic") if ISA_REQUIRES[isa] <= flags)


@dataclass(frozen=True)
class Target:
    isa: str                     # "avx512", "avx2" or "generic"
    vector_floats: int           # floats per SIMD register
    build_isa: str = "native"    # the build's -march choice: "native", or the ISA by name

    @staticmethod
    def detect(isa: str | None = None) -> Target:
        """`isa`, else $SMELT_ISA, else this machine's widest ISA (built with -march=native)."""
        chosen = isa if isa is not None else os.environ.get("SMELT_ISA") or None
        if chosen is None:
            return Target(host_isa(), VECTOR_FLOATS[host_isa()])
        if chosen not in VECTOR_FLOATS:
            where = "isa" if isa is not None else "$SMELT_ISA"
            raise ValueError(f"{where}={chosen!r} is not supported; supported: "
                             f"{', '.join(VECTOR_FLOATS)}")
        return Target(chosen, VECTOR_FLOATS[chosen], chosen)

    def require_runnable(self) -> None:
        """Refuse to build for running here what this CPU cannot execute."""
        missing = ISA_REQUIRES[self.isa] - cpu_flags()
        if missing:
            raise ValueError(f"isa={self.isa!r} code cannot run on this CPU (it lacks "
                             f"{', '.join(sorted(missing))}); this machine runs "
                             f"isa={host_isa()!r}")
