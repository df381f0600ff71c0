"""Native calls that survive fork.

GNU OpenMP keeps its pool of worker threads per calling thread, and fork copies no thread
but the one that forked: in the child, that thread's pool lists workers that do not exist,
and its next parallel region waits for them forever. A thread started in the child has no
pool yet and builds a fresh one. So in a forked child, calls made on the thread that forked
run on a helper thread started in the child; every other thread calls directly.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_forked_thread: int | None = None
_helper: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _forked_thread, _helper, _helper_lock
    _forked_thread = threading.get_ident()
    _helper = None                       # a helper of the parent's did not survive the fork
    _helper_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def call(fn, *args):
    """fn(*args), on a fresh thread when this is the thread that forked this process."""
    global _helper
    if _forked_thread is None or threading.get_ident() != _forked_thread:
        return fn(*args)
    with _helper_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="smelt-after-fork")
    return _helper.submit(fn, *args).result()
