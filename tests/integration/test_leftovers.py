"""The leftover-process check of tests/leftovers.py, run on generated test files.

Each case runs pytest in a subprocess with a copy of the suite's own tests/conftest.py, so
what is proved is the wiring the suite uses: a test that leaves a process running fails the
session even though every test passed, the leftover is named and killed; processes that end
within the grace period, and multiprocessing's resource tracker, do not fail it, and the
check does not reap a child that a test still holds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the subreaper that makes orphans seen is Linux"
)

LEAK = """
import subprocess

def test_leaks():
    # Detached: a session of its own, and its parent shell exits, so it is an orphan.
    subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > {orphan}"],
        check=True, start_new_session=True,
    )
    # A plain child that nobody waits for.
    with open("{child}", "w") as out:
        out.write(str(subprocess.Popen(["sleep", "61"]).pid))
"""

CLEAN = """
import multiprocessing
import os
import multiprocessing.resource_tracker
import subprocess

import psutil

LOCK = None

def test_an_orphan_that_ends_soon():
    subprocess.run(["sh", "-c", "sleep 2 &"], check=True, start_new_session=True)

def test_the_resource_tracker_stays():
    global LOCK
    LOCK = multiprocessing.get_context("spawn").Lock()  # starts the tracker in this process
    assert psutil.pid_exists(multiprocessing.resource_tracker._resource_tracker._pid)

def test_a_child_that_is_waited_for():
    subprocess.run(["sleep", "0.1"], check=True)

ENDED = None

def test_a_child_ends_during_one_test():
    global ENDED
    ENDED = subprocess.Popen(["sh", "-c", "exit 3"])
    os.waitid(os.P_PID, ENDED.pid, os.WEXITED | os.WNOWAIT)  # a zombie now, not reaped

def test_and_is_waited_for_in_the_next():
    # The check between the two tests must not reap it: its status would be lost (0).
    assert ENDED.wait() == 3
"""


def run_pytest(directory: Path, test_text: str) -> subprocess.CompletedProcess[str]:
    (directory / "pytest.ini").write_text("[pytest]\n")  # the rootdir: not this repository's
    shutil.copy(REPO / "tests" / "conftest.py", directory / "conftest.py")
    (directory / "test_generated.py").write_text(test_text)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_generated.py"],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_leaked_process_fails_the_session_and_is_killed(tmp_path: Path) -> None:
    orphan_file, child_file = tmp_path / "orphan.pid", tmp_path / "child.pid"
    done = run_pytest(tmp_path, LEAK.format(orphan=orphan_file, child=child_file))
    orphan, child = int(orphan_file.read_text()), int(child_file.read_text())
    try:
        output = done.stdout + done.stderr
        assert done.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert "1 passed, 2 leftover processes" in output  # the check failed the session
        assert "leftover processes" in output
        seen_after = "(first seen after test_generated.py::test_leaks)"
        assert f"pid {orphan}: sleep 60 {seen_after}" in output
        assert f"pid {child}: sleep 61 {seen_after}" in output
        assert not running(orphan) and not running(child)
    finally:
        for pid in (orphan, child):  # should the check be broken, leak nothing here
            with contextlib.suppress(psutil.Error):
                if running(pid):
                    psutil.Process(pid).kill()


def test_processes_that_end_in_time_and_the_resource_tracker_pass(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, CLEAN)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.OK, output
    assert "5 passed" in output
    assert "leftover processes" not in output
