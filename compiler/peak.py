"""The machine's FMA peak, measured by a kernel smelt generates (templates/fma_peak.c.j2).

The kernel goes through the same Jinja environment, cffi build and disk cache as a model, with
the same flags, so "% of peak" compares a model's kernels with the best that generated code
gets out of the vector units on this machine:

    from compiler.peak import measure_fma_peak
    measure_fma_peak(1), measure_fma_peak(2)      # GFLOP/s on 1 and 2 threads
"""
from __future__ import annotations

import functools
import time

import numpy as np

from runtime import cache
from runtime.threads import check_threads

from .codegen.env import render
from .target import Target

#: independent vector accumulators per thread: enough to hide the FMA latency on two ports
#: (4 cycles x 2 ports = 8 in flight), as many as the register file holds with room to spare
ACCUMULATORS = {"avx512": 24, "avx2": 12, "generic": 8}
CDEF = "void smelt_fma_peak(int64_t iters, int nthreads, float *out);"


@functools.cache
def fma_kernel(isa: str | None = None):
    """(loaded library, FLOP per iteration per thread, C source) for `isa` (None: this
    machine's widest)."""
    target = Target.detect(isa)
    accumulators = ACCUMULATORS[target.isa]
    flops = 2 * target.vector_floats * accumulators
    source = render("fma_peak.c.j2", isa=target.isa, vlen=target.vector_floats,
                    accumulators=accumulators, flops_per_iteration=flops)
    target.require_runnable()
    library = cache.load([source], CDEF, target.build_isa)
    return library, flops, source


def run_fma(threads: int, iters: int, isa: str | None = None) -> float:
    """Seconds that `threads` threads take for `iters` iterations each."""
    module, _, _ = fma_kernel(isa)
    out = np.zeros(max(threads, 1), np.float32)
    start = time.perf_counter()
    module.lib.smelt_fma_peak(iters, threads, module.ffi.from_buffer("float[]", out))
    seconds = time.perf_counter() - start
    if not np.all(np.isfinite(out)):
        raise RuntimeError("the FMA peak kernel produced a non-finite checksum")
    return seconds


def measure_fma_peak(threads: int = 1, *, isa: str | None = None, seconds: float = 0.2,
                     repeats: int = 3) -> float:
    """GFLOP/s of `threads` OpenMP threads issuing independent vector FMAs back to back: the
    best of `repeats` runs of about `seconds` each. With libgomp, set OMP_PROC_BIND=spread
    (or OMP_PLACES=cores) for the kernel's proc_bind(spread) to keep threads on separate cores."""
    check_threads(threads)
    _, flops, _ = fma_kernel(isa)
    iters = 20_000
    run_fma(threads, iters, isa)                              # wake the threads and the clocks
    while (elapsed := run_fma(threads, iters, isa)) < seconds / 8:
        iters *= 4
    iters = max(1, int(iters * seconds / elapsed))
    best = min(run_fma(threads, iters, isa) for _ in range(repeats))
    return threads * iters * flops / best / 1e9
