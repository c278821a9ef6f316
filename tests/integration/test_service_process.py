"""`review-bot serve` as a real process: graceful SIGTERM, kill -9 mid-job, bad config.

The stub adapter (no platform credentials needed) runs in dry run; the job store is a
real SQLite file that outlives the killed process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bot.model import JobState
from bot.service.store.sqlite import SqliteJobStore
from tests.fakes.serve_process import EXE, STUB_TOKEN, ServeProcess, job_state, write_config

TOKEN = STUB_TOKEN
# What `review-bot jobs` needs to load the config (its stub token is ${REVIEW_BOT_STUB_TOKEN}).
ENV = {**os.environ, "REVIEW_BOT_STUB_TOKEN": TOKEN}
# Enough test code that analysis is still running when the test kills the server.
BIG_TEST = "".join(
    f"class T{i}:\n    def test_{i}(self):\n        self.m = mock.patch('a.b').start()\n"
    f"        server = self.api.get_servers()[0]\n\n"
    for i in range(1500)
)


def start(config: Path, cwd: Path) -> ServeProcess:
    server = ServeProcess(config, cwd, token=TOKEN)
    try:
        server.wait_ready()
    except RuntimeError:
        server.kill()
        raise
    return server


@pytest.fixture
def servers() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.kill()
        server.reap()


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def descendants(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).children(recursive=True)
    return []


def is_pool_child(proc: psutil.Process) -> bool:
    """A multiprocessing spawn child: an analysis worker, not the resource tracker."""
    with contextlib.suppress(psutil.Error):
        return "multiprocessing.spawn" in " ".join(proc.cmdline())
    return False


def describe(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{proc.pid}: {' '.join(proc.cmdline())}"
    return f"{proc.pid}: (gone)"


def still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` not yet ended; a zombie (ended, not yet reaped) counts as ended.
    ``is_running`` compares start times, so a reused pid is not mistaken for its process."""
    running = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):  # ZombieProcess is one too
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
    return running


def test_sigterm_finishes_the_job_and_exits_in_grace(tmp_path: Path, servers) -> None:
    server = start(write_config(tmp_path), tmp_path)
    servers.append(server)
    reply = server.post(
        {
            "project": "p",
            "change": "1",
            "revision": "a",
            "delivery": "d1",
            "files": {"tests/test_a.py": "x = mock.patch('a').start()\n"},
        }
    )
    wait_for(lambda: job_state(tmp_path / "bot.db", reply["job_id"]) is JobState.done)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    output = server.output()
    assert TOKEN not in output  # the secret never reaches the logs
    shown = subprocess.run(
        [EXE, "jobs", "show", str(reply["job_id"]), "-c", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
        check=True,
    ).stdout
    assert json.loads(shown)["result"]["dry_run"] is True


def test_kill_9_mid_job_loses_nothing(tmp_path: Path, servers) -> None:
    config = write_config(tmp_path, lease_seconds=2)
    first = start(config, tmp_path)
    servers.append(first)
    reply = first.post(
        {
            "project": "p",
            "change": "2",
            "revision": "b",
            "delivery": "d2",
            "files": {"tests/test_big.py": BIG_TEST},
        }
    )
    db = tmp_path / "bot.db"
    wait_for(lambda: job_state(db, reply["job_id"]) is JobState.running)
    wait_for(lambda: any(is_pool_child(p) for p in descendants(first.proc.pid)))
    children = descendants(first.proc.pid)  # the analysis workers, the resource tracker
    first.proc.kill()  # SIGKILL: no cleanup, the lease stays behind
    first.proc.wait()
    assert job_state(db, reply["job_id"]) is JobState.running
    # The children die with serve by themselves (bot/core/lifetime.py): checked before the
    # fixture's reap() kills serve's process group, which would hide orphans.
    deadline = time.monotonic() + 5
    while still_running(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not still_running(children), [describe(p) for p in still_running(children)]
    second = start(config, tmp_path)
    servers.append(second)
    wait_for(lambda: job_state(db, reply["job_id"]) is JobState.done, timeout=120)
    store = SqliteJobStore(f"sqlite:///{db}")
    job = store.get(reply["job_id"])
    store.close()
    assert job is not None and job.attempts >= 2
    assert job.result is not None and job.result["dry_run"] is True


def test_bad_config_refuses_to_start_and_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("server: {port: 99999}\n")
    done = subprocess.run(
        [EXE, "serve", "-c", str(tmp_path / "bad.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and "server.port" in done.stderr


def test_jobs_list_and_retry_a_dead_job(tmp_path: Path) -> None:
    from bot.model import JobKey

    config = write_config(tmp_path, max_attempts=1)
    store = SqliteJobStore(f"sqlite:///{tmp_path / 'bot.db'}", max_attempts=1)
    job_id = store.enqueue(JobKey("stub", "proj", "7", "c0ffee"), {}).job_id
    job = store.lease("test", 30)
    assert job is not None and job.id == job_id
    assert store.fail(job_id, "test", "boom", transient=True) is JobState.dead
    store.close()

    def jobs(*args: str) -> str:
        return subprocess.run(
            [EXE, "jobs", *args, "-c", str(config)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=ENV,
            check=True,
        ).stdout

    listed = jobs("list", "--state", "dead")
    assert f"{job_id:>6}  dead" in listed and "proj / 7 @ c0ffee" in listed
    assert "queued again" in jobs("retry", str(job_id))
    assert job_state(tmp_path / "bot.db", job_id) is JobState.queued
    missing = subprocess.run(
        [EXE, "jobs", "show", "999", "-c", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ENV,
        check=False,
    )
    assert missing.returncode == 2 and "no job 999" in missing.stderr


def test_sigterm_during_a_long_analysis_releases_the_job_and_exits(tmp_path: Path, servers) -> None:
    server = start(write_config(tmp_path), tmp_path)  # grace: 5 s
    servers.append(server)
    reply = server.post(
        {
            "project": "p",
            "change": "3",
            "revision": "c",
            "delivery": "d3",
            "files": {"tests/test_big.py": BIG_TEST * 4},
        }
    )
    db = tmp_path / "bot.db"
    wait_for(lambda: job_state(db, reply["job_id"]) is JobState.running)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0, server.output()
    assert time.monotonic() - started < 15
    assert job_state(db, reply["job_id"]) is JobState.queued  # released, not lost
