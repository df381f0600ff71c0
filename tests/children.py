"""Forked children in tests: their exit status, and a child that hangs killed, not waited on."""
from __future__ import annotations

import os
import signal
import time


def wait_or_kill(pid: int, seconds: float = 60) -> int:
    """The child's exit status (a crash as minus its signal); one still running after
    `seconds` is killed, which reads as -SIGKILL."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -signal.SIGKILL


def run_in_child(fn, seconds: float = 60) -> int:
    """fn() in a forked child: 0 when it returned True, 3 when False, 4 when it raised."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if fn() else 3)
        except BaseException:
            os._exit(4)
    return wait_or_kill(pid, seconds)
