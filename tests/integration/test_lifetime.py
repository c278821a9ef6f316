"""bot.core.lifetime.die_with_parent with real processes: the test starts a middle process,
the middle starts a child that calls die_with_parent(), and the test SIGKILLs the middle.

Here, not in tests/unit: real processes belong in tests/integration (README, layout). The
test process is a child subreaper (tests/leftovers.py), so the orphaned child is re-parented
to it and its exit status can be read with waitpid.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import Connection

import pytest

from bot.core.lifetime import die_with_parent
from tests.leftovers import become_subreaper

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and the subreaper are Linux"
)

SPAWN = multiprocessing.get_context("spawn")


def child_that_dies_with_parent(ready: Connection) -> None:
    die_with_parent()
    ready.send("armed")
    time.sleep(60)
    os._exit(0)  # not reached unless the parent's death went unnoticed


def child_whose_parent_died_first(ready: Connection) -> None:
    parent = multiprocessing.parent_process()
    assert parent is not None
    ready.send("started")
    deadline = time.monotonic() + 30
    # Until the kernel has re-parented us: the parent is gone before die_with_parent runs.
    while os.getppid() == parent.pid and time.monotonic() < deadline:
        time.sleep(0.01)
    die_with_parent()
    os._exit(0)  # die_with_parent returned: the parent's death went unnoticed


def middle(report: Connection, target_name: str) -> None:
    """Start the child, tell the test its pid once it is running, and wait to be killed."""
    mine, childs = SPAWN.Pipe(duplex=False)
    child = SPAWN.Process(target=globals()[target_name], args=(childs,))
    child.start()
    mine.recv()
    report.send(child.pid)
    time.sleep(60)


def exit_code_of_orphan(pid: int, timeout: float) -> int | None:
    """The exit code of ``pid`` once it is re-parented to us and has ended; None if it is
    still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # not re-parented to us yet
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    return None


def kill_middle_and_wait_for_child(target_name: str) -> int | None:
    if not become_subreaper():
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    reports, report = SPAWN.Pipe(duplex=False)
    mid = SPAWN.Process(target=middle, args=(report, target_name))
    mid.start()
    child, code = None, None
    try:
        if not reports.poll(60):
            raise AssertionError("the middle process did not report its child")
        child = int(reports.recv())
        os.kill(mid.pid, signal.SIGKILL)  # no cleanup at all, as a crash
        mid.join()
        code = exit_code_of_orphan(child, timeout=5)
        return code
    finally:
        if mid.is_alive():
            mid.kill()
        if child is not None and code is None:  # still running: the test failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            exit_code_of_orphan(child, timeout=5)


def test_the_child_is_killed_when_its_parent_is_killed() -> None:
    # -SIGKILL: the kernel's parent-death signal ended it, not its own sleep running out.
    assert kill_middle_and_wait_for_child("child_that_dies_with_parent") == -signal.SIGKILL


def test_a_child_whose_parent_died_before_the_call_exits() -> None:
    # The child waits until it has been re-parented, so the parent is certainly gone when
    # die_with_parent runs: it must notice and exit(1) instead of returning.
    assert kill_middle_and_wait_for_child("child_whose_parent_died_first") == 1
