"""A pytest plugin: the session fails when a test leaves a process running.

A test that starts a process and loses track of it (a ``kill -9`` of a server whose pool
children live on, a daemon started in the background) leaves it burning CPU after the
run, and nothing else would notice. On Linux the pytest process makes itself a child
subreaper at session start, so such an orphan is re-parented to pytest instead of init
and stays among its descendants. At session end, after every fixture's teardown, the
plugin waits a few seconds for the descendants to exit by themselves, then kills what is
left and fails the session, naming each leftover and the test after which it was first
seen.

Loaded by tests/conftest.py; tests/integration/test_leftovers.py runs it on generated
test files to prove it fails when it should and only then.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import time
from dataclasses import dataclass

import psutil
import pytest

_PR_SET_CHILD_SUBREAPER = 36
# Long enough for a server stopped by the last test's teardown to finish exiting.
GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str
    first_seen_after: str  # the nodeid of the test after which it was first seen, or ""

    def __str__(self) -> str:
        where = f" (first seen after {self.first_seen_after})" if self.first_seen_after else ""
        return f"pid {self.pid}: {self.command}{where}"


def become_subreaper() -> bool:
    """Adopt orphaned descendants, so that they can be seen (and reaped) at the end."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def _owned_by_pytest() -> set[int]:
    """Helpers multiprocessing starts once per process and keeps until the interpreter
    exits; they end on their own when pytest does. Exactly these pids are excused:

    - the resource tracker (multiprocessing.resource_tracker), started in the pytest process
      the first time a test creates a multiprocessing lock, queue or pool there;
    - the forkserver (multiprocessing.forkserver), started the first time a test uses the
      forkserver context; its children are not excused.
    """
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    pids = {
        getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None),
        getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None),
    }
    return {pid for pid in pids if pid is not None}


def _key(proc: psutil.Process) -> tuple[int, float]:
    # A pid can be reused; with its start time it names one process.
    return proc.pid, proc.create_time()


def _describe(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        return "?"


class LeftoverCheck:
    """The plugin's state: when each descendant was first seen, and what was left."""

    def __init__(self) -> None:
        self.first_seen: dict[tuple[int, float], str] = {}
        self.leftovers: list[Leftover] = []

    def running_descendants(self, *, reap: bool) -> list[psutil.Process]:
        """The descendants still running, excused helpers aside. With ``reap``, the zombies
        among pytest's own children are reaped on the way (re-parented orphans end as our
        zombies). Not during the session: reaping a child that a test's ``Popen`` still
        holds would make its ``returncode`` 0 (ECHILD), hiding how it ended."""
        me = os.getpid()
        excused = _owned_by_pytest()
        running = []
        for proc in psutil.Process(me).children(recursive=True):
            if proc.pid in excused:
                continue
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    if reap and proc.ppid() == me:
                        # By pid, not waitpid(-1): that could reap an excused helper, which
                        # multiprocessing later waits for by pid.
                        with contextlib.suppress(ChildProcessError):
                            os.waitpid(proc.pid, os.WNOHANG)
                    continue
                _key(proc)  # raises if it is already gone
            except psutil.NoSuchProcess:
                continue
            running.append(proc)
        return running

    def note(self, nodeid: str) -> None:
        for proc in self.running_descendants(reap=False):
            with contextlib.suppress(psutil.Error):
                self.first_seen.setdefault(_key(proc), nodeid)

    def collect(self, grace: float = GRACE_SECONDS) -> list[Leftover]:
        """Wait up to ``grace`` seconds for the descendants to exit, then kill the rest and
        return them."""
        deadline = time.monotonic() + grace
        running = self.running_descendants(reap=True)
        while running and time.monotonic() < deadline:
            time.sleep(0.1)
            running = self.running_descendants(reap=True)
        found = []
        for proc in running:
            try:
                seen = self.first_seen.get(_key(proc), "")
                found.append(Leftover(proc.pid, _describe(proc), seen))
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        # Reaps the killed ones that are our children; waits (polls) for the others.
        psutil.wait_procs(running, timeout=5)
        # And the zombies of grandchildren re-parented to us meanwhile.
        self.running_descendants(reap=True)
        return found


_check = LeftoverCheck()


def pytest_sessionstart(session: pytest.Session) -> None:
    become_subreaper()  # elsewhere than Linux, orphans re-parented to init go unseen


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    try:
        return (yield)
    finally:
        # After the test's teardown: what it started and did not stop is attributed to it.
        _check.note(item.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Runs after the last test's teardown, which tore down the session-scoped fixtures too.
    _check.leftovers = _check.collect()
    if _check.leftovers and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if _check.leftovers and reporter is not None:
        # Counted in the last line ("1 passed, 2 leftover processes"), so a green-looking
        # run does not hide them.
        reporter.stats.setdefault("leftover processes", []).extend(_check.leftovers)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _check.leftovers:
        return
    terminalreporter.write_sep("=", "leftover processes", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(_check.leftovers)} process(es) started by the tests were still running "
        f"{GRACE_SECONDS:g} s after the session ended; killed now:",
        red=True,
    )
    for leftover in _check.leftovers:
        terminalreporter.write_line(f"  {leftover}", red=True)
