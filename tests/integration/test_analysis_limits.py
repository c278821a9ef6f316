"""limits.analysis_* end to end, with the pathological rule pack of tests/fixtures/slow-rules:
`review-bot check` warns and exits 2, and `review-bot serve` completes the job with the
slow file named as not reviewed and the other file's finding in the plan."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.model import JobState
from bot.service.store.sqlite import SqliteJobStore
from tests.fakes.serve_process import EXE, ServeProcess, job_state
from tests.integration.test_analysis_pool import OK, SLOW_RULES, huge_text, slow_text

LIMITS = "limits: {analysis_seconds_per_file: 1.5, analysis_seconds_per_job: 60}"


def tree(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_slow.py").write_text(slow_text())
    (root / "tests" / "test_ok.py").write_text(OK.text)
    return root


@pytest.mark.timeout(120)
def test_check_names_the_file_over_its_limit_and_exits_2(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo")
    config = tmp_path / "team.yaml"
    config.write_text(f"rules: {{sgconfig: {SLOW_RULES}}}\n{LIMITS}\n")
    argv = [EXE, "check", "-c", str(config), "--format", "json", "tests"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=100)
    assert done.returncode == 2, done.stderr
    assert "tests/test_slow.py: not reviewed: its analysis took over 1.5 s" in done.stderr
    assert "limits.analysis_seconds_per_file" in done.stderr
    report = json.loads(done.stdout)
    assert [(f["path"], f["rule_id"]) for f in report["findings"]] == [
        ("tests/test_ok.py", "sleep-call")
    ]
    assert [(p["path"], p["reason"]) for p in report["problems"]] == [
        ("tests/test_slow.py", "time_budget")
    ]
    # --fail-on off: the warning stays, the exit status does not fail CI.
    done = subprocess.run(
        [*argv, "--fail-on", "off"], cwd=root, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0 and "tests/test_slow.py: not reviewed" in done.stderr


@pytest.mark.timeout(120)
def test_check_exits_2_when_a_worker_dies_on_a_file(tmp_path: Path) -> None:
    import psutil

    root = tree(tmp_path / "repo")
    config = tmp_path / "team.yaml"
    config.write_text(f"rules: {{sgconfig: {SLOW_RULES}}}\n")
    argv = [EXE, "check", "-c", str(config), "--format", "json", "-j", "1", "tests"]
    with subprocess.Popen(
        argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as check:
        cli = psutil.Process(check.pid)
        deadline = time.monotonic() + 60
        busy: list[psutil.Process] = []
        while not busy and time.monotonic() < deadline:
            # The worker is on the slow file once it has used a second of CPU.
            busy = [w for w in cli.children() if w.cpu_times().user > 1.0]
            time.sleep(0.05)
        assert busy, "no worker got busy"
        busy[0].kill()
        out, err = check.communicate(timeout=60)
    assert check.returncode == 2, err
    assert "tests/test_slow.py: not reviewed: its analysis process died (signal SIGKILL)" in err
    assert "1 file(s) not reviewed" in err
    assert [f["path"] for f in json.loads(out)["findings"]] == ["tests/test_ok.py"]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Starts `review-bot serve` with the given limits and rules lines."""
    started: list[ServeProcess] = []

    def start(limits: str, rules: str = f"rules: {{sgconfig: {SLOW_RULES}}}") -> ServeProcess:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"storage: {{url: 'sqlite:///{tmp_path / 'bot.db'}'}}\n"
            "server: {shutdown_grace_seconds: 5}\n"
            "platforms: {stub: {enabled: true, dry_run: true}}\n"
            "workers: {analysis_processes: 1}\n"
            f"{rules}\n{limits}\n"
        )
        proc = ServeProcess(config, tmp_path)
        started.append(proc)
        proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.reap()


def review(server: ServeProcess, db: Path, change: str, files: dict[str, str]) -> dict[str, Any]:
    """Post a change, wait for its job to be done, and return the job's plan."""
    reply = server.post(
        {"project": "p", "change": change, "revision": "r", "delivery": change, "files": files}
    )
    deadline = time.monotonic() + 90
    while job_state(db, reply["job_id"]) is not JobState.done:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.2)
    store = SqliteJobStore(f"sqlite:///{db}")
    try:
        job = store.get(reply["job_id"])
    finally:
        store.close()
    assert job is not None and job.result is not None and job.attempts == 1
    plan: dict[str, Any] = job.result["plan"]
    return plan


@pytest.mark.timeout(120)
def test_serve_completes_the_job_with_the_slow_file_not_reviewed(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    server = serve(LIMITS)
    files = {"tests/test_slow.py": slow_text(), "tests/test_ok.py": OK.text}
    plan = review(server, tmp_path / "bot.db", "1", files)
    assert [(c["path"], c["rule_id"]) for c in plan["comments"]] == [
        ("tests/test_ok.py", "sleep-call")
    ]
    (skipped,) = plan["summary"]["skipped"]
    assert skipped["path"] == "tests/test_slow.py" and skipped["reason"] == "time_budget"
    assert "limits.analysis_seconds_per_file" in skipped["message"]
    # The worker that was stopped was replaced: the next job is analysed too.
    plan = review(server, tmp_path / "bot.db", "2", {"tests/test_ok.py": OK.text})
    assert [c["rule_id"] for c in plan["comments"]] == ["sleep-call"]


@pytest.mark.timeout(120)
def test_serve_names_a_file_over_the_memory_limit_and_reviews_the_rest(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    server = serve(
        "limits: {analysis_memory_mb: 256, max_file_bytes: 20000000}",
        f"rules: {{sgconfig: {SLOW_RULES}, severity: {{pathological: 'off'}}}}",
    )
    files = {"tests/test_huge.py": huge_text(), "tests/test_ok.py": OK.text}
    plan = review(server, tmp_path / "bot.db", "1", files)
    assert [(c["path"], c["rule_id"]) for c in plan["comments"]] == [
        ("tests/test_ok.py", "sleep-call")
    ]
    (skipped,) = plan["summary"]["skipped"]
    assert (skipped["path"], skipped["reason"]) == ("tests/test_huge.py", "memory")
    assert "256 MB" in skipped["message"]
    assert "not reviewed: memory" in skipped["message"]
