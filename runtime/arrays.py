"""Aligned numpy allocations, and many arrays carved from one allocation.

Why one allocation: numpy asks the kernel for huge pages on large allocations, so filling
one 40 MB block costs a few page faults where forty 1 MB arrays cost ten thousand, which is
most of what a warm compile spends on a ResNet's weights.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ALIGNMENT = 64
#: below this many bytes of work, threads cost more than they save
PARALLEL_BYTES = 4 << 20


def aligned_empty(count: int, dtype=np.float32, alignment: int = ALIGNMENT) -> np.ndarray:
    """A 1-D array of `count` items whose data starts on an `alignment`-byte boundary."""
    return aligned(np.empty, count, dtype, alignment)


def aligned_zeros(count: int, dtype=np.float32, alignment: int = ALIGNMENT) -> np.ndarray:
    """Like aligned_empty, zero-filled (by the allocator: pages nobody writes stay untouched)."""
    return aligned(np.zeros, count, dtype, alignment)


def aligned_copy(array: np.ndarray, alignment: int = ALIGNMENT) -> np.ndarray:
    """`array` itself if its data is aligned and contiguous, else an aligned 1-D copy."""
    if array.ctypes.data % alignment == 0 and array.flags.c_contiguous:
        return array
    copy = aligned_empty(array.size, array.dtype, alignment)
    copy[:] = array.ravel()
    return copy


def aligned(allocate, count: int, dtype, alignment: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    raw = allocate(count + alignment // itemsize, dtype=dtype)
    skip = (-raw.ctypes.data % alignment) // itemsize
    return raw[skip:skip + count]


def carve(specs: list[tuple[tuple, np.dtype]]) -> list[np.ndarray]:
    """Uninitialised arrays of the given (shape, dtype)s, each 64-byte aligned, all in one
    allocation."""
    spans, total = [], 0
    for shape, dtype in specs:
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        spans.append((total, nbytes))
        total += -(-nbytes // ALIGNMENT) * ALIGNMENT
    block = aligned_empty(max(total, ALIGNMENT), np.uint8)
    return [block[start:start + nbytes].view(dtype).reshape(shape)
            for (shape, dtype), (start, nbytes) in zip(specs, spans)]


def run_balanced(tasks: list, sizes: list[int]) -> None:
    """Call every task (a no-argument callable doing bulk numpy work, which releases the GIL)
    on as many threads as there are CPUs, dealt so that their `sizes` (bytes) balance. A warm
    compile spends most of its time filling arrays with a model's weights; two cores fill
    them in less time than one."""
    workers = min(os.cpu_count() or 1, len(tasks))
    if workers <= 1 or sum(sizes) < PARALLEL_BYTES:
        run_all(tasks)
        return
    bins, loads = [[] for _ in range(workers)], [0] * workers
    for size, task in sorted(zip(sizes, tasks), key=lambda pair: -pair[0]):
        i = loads.index(min(loads))
        bins[i].append(task)
        loads[i] += size
    with ThreadPoolExecutor(workers - 1) as pool:
        others = [pool.submit(run_all, b) for b in bins[1:]]
        run_all(bins[0])
        for future in others:
            future.result()                      # re-raises a task's exception here


def run_all(tasks: list) -> None:
    for task in tasks:
        task()
