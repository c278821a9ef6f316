"""The analysis pool under limits, with real worker processes: a file over its time or
memory limit is reported as not reviewed, its worker is replaced, and the other files'
findings still come back. The rules are the pathological pack in tests/fixtures/slow-rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.engine import AnalysisPool, FileDone, start_method_for_this_process
from bot.core.options import AnalysisLimits
from bot.model import ChangedFile, FileStatus, FilterMode, SkipReason, SourceFile
from bot.rules.load import load_project

SLOW_RULES = Path(__file__).resolve().parent.parent / "fixtures" / "slow-rules" / "sgconfig.yml"


def source(path: str, text: str) -> SourceFile:
    return SourceFile(ChangedFile(path, FileStatus.added, whole_file=True), text)


def slow_text(functions: int = 600) -> str:
    """Test code on which the pathological rule takes far longer than any limit here
    (600 functions: minutes)."""
    body = [
        f"def test_{i}(self):\n    value_{i} = compute(alpha, beta)\n    check(value_{i})\n"
        for i in range(functions)
    ]
    return "import time\n\n\n" + "\n".join(body)


def huge_text() -> str:
    """~8 MB of code: its syntax tree alone needs more than 256 MB of address space."""
    return "x = [\n" + "    'a', 1, b.c,\n" * 500_000 + "]\n"


OK = source("tests/test_ok.py", "import time\n\n\ndef test_wait():\n    time.sleep(1)\n")


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return load_project(SLOW_RULES)


def pool(rules, start_method: str = "spawn", **limits: float) -> AnalysisPool:  # type: ignore[no-untyped-def]
    return AnalysisPool(rules, 1, AnalysisLimits(**limits), start_method=start_method)  # type: ignore[arg-type]


# The service's pools spawn their workers; the CLI's fork them when it runs one thread.
@pytest.fixture(params=["spawn", "fork"])
def timed_pool(rules, request: pytest.FixtureRequest) -> Iterator[AnalysisPool]:  # type: ignore[no-untyped-def]
    with pool(rules, request.param, seconds_per_file=1.5) as p:
        yield p


@pytest.mark.timeout(120)
def test_a_file_over_its_time_limit_is_not_reviewed_and_the_rest_is(
    timed_pool: AnalysisPool,
) -> None:
    seen: list[FileDone] = []
    slow = source("tests/test_slow.py", slow_text())
    findings, skipped, _ = timed_pool.analyze([slow, OK], FilterMode.added, progress=seen.append)
    assert [(f.path, f.rule_id) for f in findings] == [("tests/test_ok.py", "sleep-call")]
    (over,) = skipped
    assert over.path == "tests/test_slow.py"
    assert over.reason is SkipReason.time_budget
    assert "1.5 s" in over.message and "limits.analysis_seconds_per_file" in over.message
    assert sorted(f.path for f in seen) == ["tests/test_ok.py", "tests/test_slow.py"]
    assert [f.done for f in seen] == [1, 2] and {f.total for f in seen} == {2}
    # The stopped worker was replaced: the pool still analyses.
    again, none, _ = timed_pool.analyze([OK], FilterMode.added)
    assert [f.rule_id for f in again] == ["sleep-call"] and none == []


@pytest.mark.timeout(120)
def test_the_job_budget_ends_every_file_not_done_by_then(rules) -> None:  # type: ignore[no-untyped-def]
    import time

    with pool(rules, seconds_per_file=60, seconds_per_job=1.5) as p:
        slow = source("tests/test_slow.py", slow_text())
        # One worker: the small file waits behind the slow one and is not reached.
        deadline = time.monotonic() + 1.5
        findings, skipped, _ = p.analyze([slow, OK], FilterMode.added, deadline=deadline)
        assert findings == []
        assert [(s.path, s.reason) for s in skipped] == [
            ("tests/test_slow.py", SkipReason.time_budget),
            ("tests/test_ok.py", SkipReason.time_budget),
        ]
        assert all("limits.analysis_seconds_per_job" in s.message for s in skipped)
        again, _, _ = p.analyze([OK], FilterMode.added)
        assert [f.rule_id for f in again] == ["sleep-call"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_a_file_over_the_memory_limit_is_not_reviewed_and_the_rest_is(
    rules, start_method: str
) -> None:  # type: ignore[no-untyped-def]
    with pool(rules, start_method, memory_mb=256) as p:
        huge = source("tests/test_huge.py", huge_text())
        findings, skipped, _ = p.analyze(
            [huge, OK], FilterMode.added, rule_ids=frozenset({"sleep-call"})
        )
        assert [(f.path, f.rule_id) for f in findings] == [("tests/test_ok.py", "sleep-call")]
        (over,) = skipped
        assert (over.path, over.reason) == ("tests/test_huge.py", SkipReason.memory)
        assert "256 MB" in over.message and "limits.analysis_memory_mb" in over.message


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_file_is_named_and_replaced(rules) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import threading

    import psutil

    with pool(rules, seconds_per_file=60) as p:
        workers = [w for w in psutil.Process().children() if _pool_worker(w)]
        assert workers, "the pool starts its workers at once"

        def kill_when_busy() -> None:
            # The worker is busy once it uses CPU on the slow file.
            for _ in range(200):
                if any(w.cpu_times().user > 1.0 for w in workers):
                    break
                threading.Event().wait(0.05)
            for worker in workers:
                os.kill(worker.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        slow = source("tests/test_slow.py", slow_text())
        findings, skipped, _ = p.analyze([slow], FilterMode.added)
        killer.join()
        assert findings == []
        (died,) = skipped
        assert died.reason is SkipReason.analysis_failed
        assert "process died (signal SIGKILL)" in died.message
        again, _, _ = p.analyze([OK], FilterMode.added)
        assert [f.rule_id for f in again] == ["sleep-call"]


def _pool_worker(process) -> bool:  # type: ignore[no-untyped-def]
    """A live spawn worker: not multiprocessing's resource tracker, which is a child too,
    nor the zombie of an earlier test's process (pytest reaps those at the end)."""
    import psutil

    try:
        live = process.status() != psutil.STATUS_ZOMBIE
        return live and "spawn_main" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def test_a_single_threaded_process_forks_and_a_threaded_one_spawns() -> None:
    import threading

    assert start_method_for_this_process() == "fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method_for_this_process() == "spawn"
    finally:
        stop.set()
        other.join()
