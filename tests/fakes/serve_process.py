"""`review-bot serve` as a real process, for the integration tests and the benchmarks.

The stub adapter needs no platform credentials and runs in dry run; the job store is a
SQLite file in the given directory, so it outlives a killed process (or a PostgreSQL
database, ``storage_url``, that several replicas share; its password comes from the
variable PG_PASSWORD_ENV, which ``ServeProcess(env=...)`` sets). Whoever starts a
``ServeProcess`` stops it: ``stop()`` (SIGTERM, then a bounded wait, then SIGKILL) or
``kill()``, and then ``reap()``; each is safe to call twice, so a fixture can always call
them. The server runs in a process group of its own, so that ``reap()`` can end what a
``kill -9`` of the server leaves behind (its analysis pool children, see issue 11).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from bot.model import Job, JobState
from bot.service.store.sqlite import SqliteJobStore

EXE = str(Path(sys.executable).parent / "review-bot")
STUB_TOKEN = "stub-token-not-in-logs"
# The variable a PostgreSQL store's password is read from (storage.password: ${...}).
PG_PASSWORD_ENV = "REVIEW_BOT_PG_PASSWORD"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def storage_line(directory: Path, storage_url: str | None = None) -> str:
    """The ``storage:`` line: SQLite at ``directory/bot.db``, or the PostgreSQL
    ``storage_url`` (no password in it) with the password from PG_PASSWORD_ENV."""
    if storage_url is None:
        return f"storage: {{url: 'sqlite:///{directory / 'bot.db'}'}}"
    return f"storage: {{url: '{storage_url}', password: '${{{PG_PASSWORD_ENV}}}'}}"


def write_config(
    directory: Path,
    *,
    storage_url: str | None = None,
    extra_lines: Sequence[str] = (),
    **workers: object,
) -> Path:
    """A config with the stub platform in dry run and the store at ``directory/bot.db``
    (or at ``storage_url``, see `storage_line`); the stub's token comes from the
    environment ServeProcess gives the server. ``extra_lines`` are appended as they are
    (top-level keys not written here)."""
    lines = [
        storage_line(directory, storage_url),
        "server: {shutdown_grace_seconds: 5}",
        "platforms: {stub: {enabled: true, dry_run: true, token: '${REVIEW_BOT_STUB_TOKEN}'}}",
        "logging: {json: true}",
    ]
    if workers:
        lines.append("workers: {" + ", ".join(f"{k}: {v}" for k, v in workers.items()) + "}")
    lines.extend(extra_lines)
    path = directory / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def job_state(db: Path, job_id: int) -> JobState | None:
    """A job's state, read from the store file the way `review-bot jobs` reads it."""
    store = SqliteJobStore(f"sqlite:///{db}")
    try:
        job = store.get(job_id)
        return None if job is None else job.state
    finally:
        store.close()


class ServeProcess:
    """One `review-bot serve`; its output goes to a log file beside the config. ``env``
    is added to the server's environment (a PostgreSQL password under PG_PASSWORD_ENV)."""

    def __init__(
        self,
        config: Path,
        cwd: Path,
        *,
        token: str = STUB_TOKEN,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"serve-{self.port}.log"
        self._log = self.log_path.open("w+")
        self.proc = subprocess.Popen(
            [EXE, "serve", "-c", str(config), "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, "REVIEW_BOT_STUB_TOKEN": token, **(env or {})},
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not become ready:\n" + self.output()[-4000:])

    def post(self, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """POST a stub webhook; the 202 answer's JSON."""
        request = urllib.request.Request(
            self.url + "/webhooks/stub",
            data=json.dumps(body).encode(),
            headers={"X-Stub-Token": self.token, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            if reply.status != 202:
                raise RuntimeError(f"webhook answered {reply.status}")
            answer: dict[str, Any] = json.loads(reply.read())
            return answer

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit code, or None when it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the server alone: no cleanup at all, as a crash would leave things."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()

    def reap(self) -> None:
        """SIGKILL whatever is left of the server's process group: the test is over."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def service_config(tmp: Path, *, storage_url: str | None = None) -> list[str]:
    """The service settings the end-to-end tests share: a SQLite store in ``tmp`` (or the
    PostgreSQL ``storage_url``, see `storage_line`), short backoffs, one analysis process
    and JSON logs."""
    return [
        storage_line(tmp, storage_url),
        "server: {shutdown_grace_seconds: 5}",
        "workers: {analysis_processes: 1, backoff_base_seconds: 0.2, backoff_cap_seconds: 1}",
        "logging: {json: true}",
    ]


class ServiceUnderTest:
    """A `review-bot serve` with its config in ``tmp`` and a SQLite store there: what the
    end-to-end tests of each platform share (readiness, job waits, metrics)."""

    def __init__(self, tmp: Path, config_text: str) -> None:
        self.tmp = tmp
        self.config = tmp / "config.yaml"
        self.config.write_text(config_text)
        self.server = ServeProcess(self.config, tmp)

    def __enter__(self) -> Self:
        try:
            self.server.wait_ready()
        except RuntimeError:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.stop()
        self.server.reap()

    def store(self) -> SqliteJobStore:
        return SqliteJobStore(f"sqlite:///{self.tmp / 'bot.db'}")

    def wait_job(self, job_id: int, timeout: float = 60.0) -> Job:
        """The job once it is finished (done, failed or dead)."""
        deadline = time.monotonic() + timeout
        store = self.store()
        try:
            while time.monotonic() < deadline:
                job = store.get(job_id)
                if job is not None and job.state in (JobState.done, JobState.failed, JobState.dead):
                    return job
                time.sleep(0.05)
        finally:
            store.close()
        raise AssertionError(f"job {job_id} did not finish:\n{self.server.output()[-3000:]}")

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=5) as reply:
                body = reply.read().decode()
                status = reply.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def metrics(self) -> str:
        return str(self.get("/metrics")[1])
