"""How many OpenMP threads a call may use: checked, and the default."""
from __future__ import annotations

import os

from .cpu import physical_cores

#: OpenMP threads per CPU this process may run on: more only oversubscribes, and a huge
#: count makes libgomp allocate per-thread state for all of them (and abort).
THREADS_PER_CPU = 4


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def max_threads() -> int:
    return THREADS_PER_CPU * available_cpus()


def check_threads(value, what: str = "threads") -> int:
    """`value` if it is a thread count in 1..max_threads(), else a ValueError naming `what`
    (the option or the environment variable) and the allowed range."""
    top = max_threads()
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        raise ValueError(f"{what} must be an int from 1 to {top} ({THREADS_PER_CPU} per CPU "
                         f"this process may run on), got {value!r}")
    return value


def default_threads() -> int:
    """$SMELT_NUM_THREADS (checked like the `threads` option), else the physical cores."""
    env = os.environ.get("SMELT_NUM_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError:
            value = env                   # not a number: check_threads refuses it
        return check_threads(value, "SMELT_NUM_THREADS")
    return physical_cores()
