"""The machine we generate code for: SIMD width and the default thread count."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (empty where /proc is missing)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def physical_cores() -> int:
    """Cores, not hardware threads: FMA-bound kernels gain nothing from SMT siblings."""
    try:
        cores = set()
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and phys is not None and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        if phys is not None and core is not None:
            cores.add((phys, core))
        if cores:
            return min(len(cores), len(os.sched_getaffinity(0)))
    except (OSError, AttributeError):
        pass
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Target:
    isa: str                     # "avx512", "avx2" or "generic"
    vector_floats: int           # floats per SIMD register

    @staticmethod
    def detect(isa: str | None = None) -> Target:
        flags = cpu_flags()
        if isa is None:
            isa = "avx512" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags \
                else "generic"
        widths = {"avx512": 16, "avx2": 8, "generic": 4}
        if isa not in widths:
            raise ValueError(f"isa={isa!r} is not supported; supported: {', '.join(widths)}")
        return Target(isa, widths[isa])
