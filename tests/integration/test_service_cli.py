"""`review-bot serve` and `review-bot jobs` as a new user meets them (issue 12): starting
without a stub token, a port in use, what the logs say, what `jobs show` shows, reading
commands without a store, and the README's stub trial, run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.model import JobState
from tests.fakes.serve_process import EXE, STUB_TOKEN, ServeProcess, job_state

README = Path(__file__).resolve().parents[2] / "README.md"
TEST_FILE = "tests/test_demo.py"
# missing-cleanup (warning) on line 7, with a fix.
TEST_TEXT = (
    "import unittest\nfrom unittest import mock\n\n\nclass T(unittest.TestCase):\n"
    "    def setUp(self):\n        mock.patch('os.getcwd').start()\n"
)


def env(**changes: str | None) -> dict[str, str]:
    """os.environ with ``changes`` (None removes a variable)."""
    result = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def config(tmp: Path, *lines: str, name: str = "config.yaml") -> Path:
    """A config with the store in ``tmp`` and one analysis process, plus ``lines``."""
    path = tmp / name
    text = [f"storage: {{url: 'sqlite:///{tmp / 'bot.db'}'}}", "workers: {analysis_processes: 1}"]
    path.write_text("\n".join([*text, *lines]) + "\n")
    return path


def run(*args: str, cwd: Path, timeout: float = 60, **env_changes: str | None) -> Any:
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env(**env_changes),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def servers() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.stop()
        server.reap()


def start(servers: list[ServeProcess], path: Path, cwd: Path) -> ServeProcess:
    server = ServeProcess(path, cwd)
    servers.append(server)
    server.wait_ready()
    return server


def wait_done(db: Path, job_id: int, server: ServeProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while job_state(db, job_id) not in (JobState.done, JobState.failed, JobState.dead):
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.1)


def wait_for_line(server: ServeProcess, pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, server.output(), re.MULTILINE)
        if match:
            return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no line matching {pattern!r}:\n{server.output()[-3000:]}")


# --- 10: the stub's token -----------------------------------------------------------------


def test_an_enabled_stub_without_a_token_refuses_to_start_naming_the_key(tmp_path: Path) -> None:
    path = config(tmp_path, "platforms: {stub: {enabled: true, dry_run: true}}")
    done = run("serve", "-c", str(path), "--port", "0", cwd=tmp_path, REVIEW_BOT_STUB_TOKEN=None)
    assert done.returncode == 2, done.stderr
    assert "platforms.stub: enabled needs token" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bot.db").exists()


def test_the_stub_token_comes_from_the_config_key(tmp_path: Path, servers) -> None:
    (tmp_path / "stub-token").write_text(STUB_TOKEN + "\n")
    path = config(
        tmp_path, "platforms: {stub: {enabled: true, dry_run: true, token_file: stub-token}}"
    )
    # The environment's token is another one: the config's key wins.
    server = ServeProcess(path, tmp_path, token="not-the-token")
    servers.append(server)
    server.wait_ready()
    server.token = STUB_TOKEN
    assert server.post({"project": "p", "change": "1", "revision": "r"})["status"] == "queued"
    server.token = "not-the-token"
    with pytest.raises(OSError, match="401"):
        server.post({"project": "p", "change": "2", "revision": "r"})


# --- 11: listening --------------------------------------------------------------------------


def test_a_port_in_use_is_one_line_exit_2_and_nothing_started(tmp_path: Path) -> None:
    path = config(tmp_path, "platforms: {stub: {enabled: true, dry_run: true}}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            "serve", "-c", str(path), "--port", str(port), cwd=tmp_path,
            REVIEW_BOT_STUB_TOKEN=STUB_TOKEN,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"review-bot: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )
    # Bound before anything else is made: no store, so no worker and no pool either.
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize("port", ["65536", "99999", "-1"])
def test_a_port_out_of_range_is_one_line_and_exit_2(tmp_path: Path, port: str) -> None:
    path = config(tmp_path)
    done = run("serve", "-c", str(path), "--port", port, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"review-bot: error: cannot listen on 127.0.0.1:{port}: port out of range (0-65535)\n"
    )


# --- 13: what the logs say ----------------------------------------------------------------


def test_text_logs_carry_the_address_the_job_ids_and_why_a_job_failed(
    tmp_path: Path, servers
) -> None:
    server = start(servers, config(tmp_path, "platforms: {stub: {enabled: true}}"), tmp_path)
    serving = wait_for_line(server, r"^.* INFO serving .*$")
    assert f"host=127.0.0.1 port={server.port} platforms=stub" in serving
    # A diff without file headers: the job fails at once, and its last line says why.
    reply = server.post({"project": "o/r", "change": "7", "revision": "abc", "diff": "junk\n"})
    wait_done(tmp_path / "bot.db", reply["job_id"], server)
    failed = wait_for_line(server, r"^.* WARNING job failed .*$")
    assert (
        f"job_id={reply['job_id']} platform=stub project=o/r change=7 revision=abc outcome=failed"
        in failed
    )
    assert 'reason="stub: malformed diff at line 1: no file header' in failed
    assert "Traceback" not in server.output()
    assert STUB_TOKEN not in server.output()


def test_serve_warns_when_no_platform_is_enabled(tmp_path: Path, servers) -> None:
    server = start(servers, config(tmp_path, "logging: {json: true}"), tmp_path)
    serving = json.loads(wait_for_line(server, r'^\{.*"message": "serving".*$'))
    assert (serving["host"], serving["port"], serving["platforms"]) == (
        "127.0.0.1",
        server.port,
        [],
    )
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    warning = next(line for line in lines if line["level"] == "warning")
    assert warning["message"].startswith("no platform is enabled")
    assert lines.index(warning) < lines.index(serving)


# --- 12: jobs show --------------------------------------------------------------------------


def test_jobs_show_of_a_posted_job_has_the_review_and_readable_times(
    tmp_path: Path, servers
) -> None:
    path = config(tmp_path, "platforms: {stub: {enabled: true}}")  # posts, no dry run
    server = start(servers, path, tmp_path)
    reply = server.post(
        {"project": "p", "change": "1", "revision": "r1", "files": {TEST_FILE: TEST_TEXT}}
    )
    wait_done(tmp_path / "bot.db", reply["job_id"], server)

    def show(*extra: str) -> dict[str, Any]:
        done = run(
            "jobs", "show", str(reply["job_id"]), "-c", str(path), *extra, cwd=tmp_path,
            REVIEW_BOT_STUB_TOKEN=STUB_TOKEN,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        shown: dict[str, Any] = json.loads(done.stdout)
        return shown

    shown = show()
    assert shown["state"] == "done" and shown["result"]["posted"]["comments"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown["created"]), shown["created"]
    (comment,) = shown["review"]["comments"]
    assert (comment["path"], comment["lines"], comment["rule"], comment["severity"]) == (
        TEST_FILE,
        "7",
        "missing-cleanup",
        "warning",
    )
    assert comment["message"] and "addCleanup(patcher.stop)" in comment["fix"]["new_text"]
    assert shown["review"]["summary"]["analysed_files"] == 1
    assert "payload" not in shown and "plan" not in shown["result"]
    raw = show("--raw")
    assert raw["payload"]["files"] == {TEST_FILE: TEST_TEXT}
    assert raw["result"]["plan"]["comments"][0]["rule_id"] == "missing-cleanup"


# --- 14: reading commands never create a store --------------------------------------------


@pytest.mark.parametrize("command", [["list"], ["show", "1"], ["retry", "1"]])
def test_reading_commands_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "config.yaml").write_text("dry_run: true\n")  # the default storage.url
    done = run("jobs", *command, "-c", "config.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("review-bot: error: job store 'sqlite:///review-bot.db': ")
    assert f"no store at '{tmp_path.resolve() / 'review-bot.db'}'" in done.stderr
    assert "storage.url" in done.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "config.yaml"]


# --- 10: the README's trial, as written ---------------------------------------------------


def _readme_trial() -> tuple[str, str]:
    """The YAML and the shell block of the README's stub trial."""
    section = README.read_text().split("### A trial with the stub adapter", 1)[1]
    section = section.split("\n### ", 1)[0]
    yaml = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    shell = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert yaml and shell, "the README's stub trial has a yaml and a sh block"
    return yaml.group(1), shell.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's example uses curl")
def test_the_readme_stub_trial_works_as_written(tmp_path: Path, servers) -> None:
    yaml, shell = _readme_trial()
    (tmp_path / "trial.yaml").write_text(yaml)
    lines = shell.splitlines()
    assert "review-bot serve -c trial.yaml &" in lines
    server = start(servers, tmp_path / "trial.yaml", tmp_path)  # on a free port, not 8080
    # The curl command and its here-document, run by bash against that server.
    first = next(i for i, line in enumerate(lines) if line.startswith("curl "))
    last = lines.index("EOF", first)
    curl = "\n".join(lines[first : last + 1]).replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    posted = subprocess.run(
        ["bash", "-c", curl],
        capture_output=True,
        text=True,
        env=env(REVIEW_BOT_STUB_TOKEN=server.token),
        timeout=30,
        check=True,
    )
    answer = json.loads(posted.stdout)
    assert answer["status"] == "queued", answer
    wait_done(tmp_path / "trial.db", answer["job_id"], server)
    show = next(line for line in lines if line.startswith("review-bot jobs show"))
    argv = show.split("#")[0].split()[1:]
    done = run(*argv, cwd=tmp_path, REVIEW_BOT_STUB_TOKEN=server.token)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["result"] == {"dry_run": True}
    assert [(c["rule"], c["lines"]) for c in shown["review"]["comments"]] == [
        ("missing-cleanup", "7")
    ]
