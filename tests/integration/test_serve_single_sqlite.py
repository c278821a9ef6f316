"""One `review-bot serve` per SQLite file (bot/service/serve_lock.py), with real processes.

A second serve on the same file is refused (exit 2, one line naming the file and the
holder's pid) and the first goes on; a ``kill -9``ed serve leaves no stale lock; serves on
different files, and `review-bot jobs` beside a serve, are not affected.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config.models import StorageConfig
from bot.errors import UsageError
from bot.model import JobState
from bot.service.serve_lock import ServeLock, serve_lock
from bot.service.store.sqlite import SqliteJobStore
from tests.fakes.serve_process import EXE, STUB_TOKEN, ServeProcess, job_state, write_config

# What `review-bot jobs` needs to load the config (its stub token is ${REVIEW_BOT_STUB_TOKEN}).
ENV = {**os.environ, "REVIEW_BOT_STUB_TOKEN": STUB_TOKEN}


@pytest.fixture
def serves() -> Iterator[list[ServeProcess]]:
    """Every serve a test starts, stopped and reaped when it ends, however it ends."""
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.kill()
        server.reap()


def run_serve(serves: list[ServeProcess], directory: Path) -> ServeProcess:
    """A serve on ``directory/bot.db``, ready."""
    server = ServeProcess(write_config(directory), directory)
    serves.append(server)
    server.wait_ready()
    return server


def healthz(server: ServeProcess) -> int:
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as reply:
        return int(reply.status)


def wait_done(db: Path, job_id: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while job_state(db, job_id) is not JobState.done:
        assert time.monotonic() < deadline, f"job {job_id} did not finish"
        time.sleep(0.1)


def review(server: ServeProcess, change: str) -> int:
    """A stub webhook for ``change``; the job's id."""
    body = {
        "project": "p",
        "change": change,
        "revision": "a" * 8,
        "delivery": f"d{change}",
        "files": {"tests/test_a.py": "x = mock.patch('a').start()\n"},
    }
    return int(server.post(body)["job_id"])


def jobs_in(db: Path) -> list[tuple[int, str, int, float]]:
    store = SqliteJobStore(f"sqlite:///{db}")
    try:
        return [(j.id, j.state.value, j.attempts, j.updated) for j in store.list(None, limit=100)]
    finally:
        store.close()


def test_a_second_serve_on_the_same_file_is_refused(tmp_path: Path, serves) -> None:
    first = run_serve(serves, tmp_path)
    db = tmp_path / "bot.db"
    wait_done(db, review(first, "1"))
    before = jobs_in(db)

    second = ServeProcess(write_config(tmp_path), tmp_path)
    serves.append(second)
    started = time.monotonic()
    assert second.proc.wait(timeout=30) == 2
    assert time.monotonic() - started < 15
    lines = second.output().splitlines()
    assert len(lines) == 1, lines  # nothing was logged: it stopped before the store
    assert lines[0].startswith("review-bot: error: another review-bot serve")
    assert f"(pid {first.proc.pid})" in lines[0] and str(db.resolve()) in lines[0]
    assert "postgresql://" in lines[0]

    assert first.proc.poll() is None and healthz(first) == 200
    assert jobs_in(db) == before  # the refused serve leased, migrated, released nothing
    wait_done(db, review(first, "2"))  # and the first still works its queue


def test_a_kill_9_leaves_no_stale_lock(tmp_path: Path, serves) -> None:
    first = run_serve(serves, tmp_path)
    first.kill()  # SIGKILL: no cleanup ran, the lock file keeps its pid
    assert f"{first.proc.pid} " in (tmp_path / "bot.db.serve.lock").read_text()
    second = run_serve(serves, tmp_path)
    assert healthz(second) == 200
    assert (tmp_path / "bot.db.serve.lock").read_text().startswith(f"{second.proc.pid} ")


def test_serves_on_different_files_both_run(tmp_path: Path, serves) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = run_serve(serves, tmp_path / "a")
    b = run_serve(serves, tmp_path / "b")
    assert healthz(a) == 200 and healthz(b) == 200
    assert a.proc.poll() is None and b.proc.poll() is None


def test_jobs_commands_open_the_file_while_serve_runs(tmp_path: Path, serves) -> None:
    server = run_serve(serves, tmp_path)
    job_id = review(server, "3")
    wait_done(tmp_path / "bot.db", job_id)
    config = str(tmp_path / "config.yaml")
    for args in (["list"], ["show", str(job_id)]):
        done = subprocess.run(
            [EXE, "jobs", *args, "-c", config],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=ENV,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert (
        f"{job_id:>6}  done"
        in subprocess.run(
            [EXE, "jobs", "list", "-c", config],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=ENV,
            timeout=30,
            check=True,
        ).stdout
    )
    assert server.proc.poll() is None and healthz(server) == 200


def test_the_lock_conflicts_between_two_opens_in_one_process(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first, second = ServeLock(db), ServeLock(db)
    # Two ServeLocks are two open() calls: two open file descriptions, which flock keeps
    # apart even in one process.
    with first:
        assert first.held
        with pytest.raises(UsageError, match=rf"\(pid {os.getpid()}\) is using {db}"):
            second.acquire()
        assert not second.held
    assert not first.held
    with second:  # released by close(): the next one takes it
        assert second.held
        assert (tmp_path / "bot.db.serve.lock").read_text().split()[0] == str(os.getpid())


def test_no_lock_without_a_sqlite_file(tmp_path: Path) -> None:
    assert serve_lock(StorageConfig(url="sqlite:///:memory:")) is None
    assert serve_lock(StorageConfig(url="postgresql://bot@db.example:5432/bot")) is None
    found = serve_lock(StorageConfig(url=f"sqlite:///{tmp_path}/bot.db?mode=rw"))
    assert found is not None and found.path == tmp_path / "bot.db.serve.lock"
    missing = ServeLock(tmp_path / "nowhere" / "bot.db")
    with missing:  # no directory: left to the store, which names it
        assert not missing.held
    assert not (tmp_path / "nowhere").exists()


def test_a_missing_directory_is_still_the_stores_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/nowhere/bot.db'}}\n")
    done = subprocess.run(
        [EXE, "serve", "-c", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "serve.lock" not in done.stderr
