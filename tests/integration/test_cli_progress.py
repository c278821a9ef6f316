"""The progress bar of the real `review-bot check`: on stderr when it is a terminal, and only then.

The console script runs as a subprocess with its stderr on a pseudo-terminal (or a pipe), on
the self-contained project of tests/integration/test_cli.py.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from tests.integration.test_cli import TEST_FILE, new_file_diff
from tests.integration.test_cli import proj as proj  # the fixture: the project, as the cwd

FILES = 25
COLUMNS = 100
EXE = Path(sys.executable).parent / "review-bot"
REPORT_END = f"50 findings (25 errors, 25 warnings) in {FILES} files"


@pytest.fixture
def tree(proj: Path) -> list[str]:
    """``FILES`` test files, each with an error and a warning of the project's rules."""
    paths = [f"nova/tests/test_{n}.py" for n in range(FILES)]
    for path in paths:
        (proj / path).write_text(TEST_FILE)
    (proj / "all.diff").write_text("".join(new_file_diff(p, TEST_FILE) for p in paths))
    return paths


def check_args(mode: str) -> list[str]:
    source = ["nova"] if mode == "paths" else ["--diff", "all.diff"]
    return [str(EXE), "check", "-c", "review-bot.yaml", "--color", "never", *source]


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``args`` with stderr on a pseudo-terminal ``COLUMNS`` wide; stdout is a pipe.
    Returns the process and what the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    received = bytearray()

    def drain() -> None:
        # Read as it comes, so a full pty buffer can never block the child.
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: no process holds the terminal any more
                return
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {**os.environ, "TERM": "xterm"}  # not "dumb", whatever runs the tests
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    assert not reader.is_alive(), "the terminal stayed open after the check exited"
    # The terminal turns each "\n" into "\r\n".
    return done, received.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("mode", ["paths", "diff"])
def test_a_terminal_shows_counts_and_the_slowest_file(
    proj: Path, tree: list[str], mode: str
) -> None:
    done, terminal = run_on_a_terminal(check_args(mode), proj)
    assert done.returncode == 1, terminal  # an error-severity finding fails by default
    assert done.stdout.rstrip().endswith(REPORT_END)  # the report, whole, on stdout
    assert "analysed" not in done.stdout and "\r" not in done.stdout
    bar = terminal.split("\n")[-2]  # the last line before the final newline: the bar's
    frames = [f for f in bar.split("\r") if f]
    assert f"{FILES}/{FILES} files" in frames[-1]
    slowest = re.search(r"slowest (\d+\.\d\d)s (\S+)$", frames[-1])
    assert slowest is not None, frames[-1]
    assert slowest.group(2) in tree
    assert all(len(f) < COLUMNS for f in frames)  # a wrapped line would break the redraw
    assert terminal.endswith("\n")  # closed: whatever follows starts on a clean line


def test_a_pipe_gets_no_bar(proj: Path, tree: list[str]) -> None:
    piped = subprocess.run(
        check_args("paths"),
        cwd=proj,
        env={**os.environ, "TERM": "xterm"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    assert piped.stdout.rstrip().endswith(REPORT_END)
    assert "analysed" not in piped.stderr and "slowest" not in piped.stderr
    assert "\r" not in piped.stderr
