"""Analyse many source files: in this process, or in worker processes under limits.

ast-grep-py holds the GIL while parsing and matching, and no signal can stop it there,
so the only way to bound one file's analysis is to run it in a process that can be
killed. ``AnalysisPool`` does that: each file is one task with a time limit; a task over
it is stopped and its worker replaced (pebble does both), a worker over its memory limit
(``RLIMIT_AS``) dies and is replaced too, and either way the file is reported as not
reviewed while the others go on. Without limits (``AnalysisLimits()``, the core's
default, for tests and library use) the files are analysed in-process.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pebble import ProcessExpired, ProcessPool

from bot.core.analyze import Analyzer, interest_lines, report_order
from bot.core.compiled import CompiledRule
from bot.core.lifetime import die_with_parent
from bot.core.options import MIB, AnalysisLimits
from bot.model import (
    FilterMode,
    Finding,
    Severity,
    SkippedFile,
    SkipReason,
    SourceFile,
    SyntaxProblem,
)

# From this size on, a file's rules are shared among the workers (measured with
# bench/new_file_vs_cli.py: a worker's start costs less than the rules it takes over).
SPLIT_MIN_CHARS = 200_000
# How often a review waiting for its files looks again at each one (see analyze).
_POLL_SECONDS = 0.25

_worker: Analyzer | None = None


def _init_worker(rules: Sequence[CompiledRule], memory_mb: int | None) -> None:
    global _worker
    die_with_parent()
    # A forked worker inherits the parent's faulthandler (pytest's, say), which would print
    # a traceback for the abort that an allocation over the limit ends in; the parent
    # reports that abort itself, as "memory".
    faulthandler.disable()
    if memory_mb is not None:
        # Address space, not RSS: the only limit the kernel enforces per process. ast-grep
        # aborts when an allocation fails, which the parent reads as "memory".
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_mb * MIB if hard == resource.RLIM_INFINITY else min(memory_mb * MIB, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # an unprivileged hard limit stays
    _worker = Analyzer(rules)


@dataclass(frozen=True)
class FileDone:
    """Progress: one more file analysed, and how long its analysis took."""

    done: int
    total: int
    path: str
    seconds: float


Progress = Callable[[FileDone], None]

# One file's findings and where it does not parse.
_Result = tuple[list[Finding], SyntaxProblem | None]
# One file's outcome: its result, or why its analysis failed; and its analysis time.
_Outcome = tuple[_Result | SkippedFile, float]
# Many files': the findings, the files not reviewed, and the files that do not parse.
Analysed = tuple[list[Finding], list[SkippedFile], list[SyntaxProblem]]
_Task = tuple[SourceFile, FilterMode, frozenset[str] | None]


def _analyze_one(analyzer: Analyzer, task: _Task) -> _Outcome:
    source, mode, rule_ids = task
    start = time.perf_counter()
    try:
        return analyzer.analyze_file(source, mode, rule_ids), time.perf_counter() - start
    except MemoryError:
        return _over_memory(source.path, None), time.perf_counter() - start
    except Exception as exc:  # one file's failure must not lose the review of the others
        skipped = SkippedFile(
            source.path,
            SkipReason.analysis_failed,
            f"skipped: analysis failed ({type(exc).__name__}: {exc})",
        )
        return skipped, time.perf_counter() - start


def _analyze_in_worker(task: _Task) -> _Outcome:
    assert _worker is not None, "worker not initialised"
    return _analyze_one(_worker, task)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _over_memory(path: str, memory_mb: int | None) -> SkippedFile:
    limit = f" of {memory_mb} MB" if memory_mb is not None else ""
    return SkippedFile(
        path,
        SkipReason.memory,
        f"not reviewed: memory: its analysis went over the limit{limit} "
        "(limits.analysis_memory_mb)",
    )


class AnalysisPool:
    """Worker processes that analyse one file per task, within ``limits``.

    The pool lives as long as its owner wants: a CLI run, or the service, which keeps
    one per rule set. Its workers start here, in the calling thread, and on Linux die
    with that thread (bot/core/lifetime.py): create the pool in a thread that lives as
    long as the pool does (the main thread). Replacements start in pebble's manager
    thread, which lives as long as the pool.
    """

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        processes: int,
        limits: AnalysisLimits,
        *,
        start_method: str = "spawn",
    ) -> None:
        self.limits = limits
        self.processes = processes
        self._rules = list(rules)
        # spawn by default: the service runs an event loop and threads, and forking those
        # can copy a held lock into the child and hang it. A single-threaded caller (the
        # CLI) may fork, which saves each worker a fresh interpreter and the rules' import.
        self._pool = ProcessPool(
            max_workers=processes,
            initializer=_init_worker,
            initargs=(self._rules, limits.memory_mb),
            context=multiprocessing.get_context(start_method),
        )
        if not self._pool.active:  # reading it starts the workers, in this thread
            raise RuntimeError("the analysis pool did not start")
        self._scheduled: set[Future[_Outcome]] = set()  # for close(), from any thread

    def analyze(
        self,
        sources: Sequence[SourceFile],
        mode: FilterMode,
        rule_ids: frozenset[str] | None = None,
        progress: Progress | None = None,
        deadline: float | None = None,
    ) -> Analysed:
        """Like ``analyze_files``. ``deadline`` (``time.monotonic()``) ends the job's
        budget: files not done by then are reported as not reviewed."""
        futures: dict[Future[_Outcome], int] = {}
        for i, source in enumerate(sources):
            for part in self._parts(source, mode, rule_ids):
                task = (source, mode, part)
                future = self._pool.schedule(
                    _analyze_in_worker, args=(task,), timeout=self.limits.seconds_per_file
                )
                futures[future] = i
        self._scheduled.update(futures)
        parts: list[list[_Outcome]] = [[] for _ in sources]
        left = Counter(futures.values())
        files_done = 0
        pending = set(futures)
        try:
            while pending:
                budget = None if deadline is None else deadline - time.monotonic()
                if budget is not None and budget <= 0:
                    for future in pending:
                        future.cancel()  # a running task's worker is stopped and replaced
                    break
                timeout = _POLL_SECONDS if budget is None else min(_POLL_SECONDS, budget)
                wait(pending, timeout, return_when=FIRST_COMPLETED)
                # Each future is asked, not only wait(): the standard library's waiters
                # never hear of a running future that is cancelled (close() does that,
                # and pebble allows it), so such a future would be waited for forever.
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    i = futures[future]
                    parts[i].append(self._outcome(future, sources[i].path))
                    left[i] -= 1
                    if left[i] == 0 and progress is not None:
                        files_done += 1
                        seconds = max(s for _, s in parts[i])
                        progress(FileDone(files_done, len(sources), sources[i].path, seconds))
        finally:
            self._scheduled.difference_update(futures)
        results = (
            _joined(outcomes) if left[i] == 0 else (self._out_of_time(source.path), 0.0)
            for i, (outcomes, source) in enumerate(zip(parts, sources, strict=True))
        )
        return _collect(results, sources, None)

    def _parts(
        self, source: SourceFile, mode: FilterMode, rule_ids: frozenset[str] | None
    ) -> list[frozenset[str] | None]:
        """The rule sets of one file's tasks: a large file's rules are shared among the
        workers, which each parse it, so that one file does not wait for one process."""
        if self.processes < 2 or not _large(source, mode):
            return [rule_ids]
        ids = [
            r.id
            for r in self._rules
            if r.severity is not Severity.off
            and r.applies_to(source.path)
            and (rule_ids is None or r.id in rule_ids)
        ]
        shares = min(self.processes, len(ids))
        return [frozenset(ids[k::shares]) for k in range(shares)] or [rule_ids]

    def _outcome(self, future: Future[_Outcome], path: str) -> _Outcome:
        try:
            return future.result()
        except TimeoutError:
            seconds = self.limits.seconds_per_file or 0.0
            skipped = SkippedFile(
                path,
                SkipReason.time_budget,
                f"not reviewed: its analysis took over {seconds:g} s "
                "(limits.analysis_seconds_per_file)",
            )
            return skipped, seconds
        except ProcessExpired as exc:
            return self._died(path, exc.exitcode), 0.0
        except CancelledError:
            return self._out_of_time(path), 0.0
        except Exception as exc:  # a broken pool, say: the other files still get reported
            skipped = SkippedFile(
                path,
                SkipReason.analysis_failed,
                f"not reviewed: its analysis failed ({type(exc).__name__}: {exc})",
            )
            return skipped, 0.0

    def _died(self, path: str, exitcode: int | None) -> SkippedFile:
        code = exitcode or 0
        if code == -signal.SIGABRT and self.limits.memory_mb is not None:
            return _over_memory(path, self.limits.memory_mb)
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return SkippedFile(
            path,
            SkipReason.analysis_failed,
            f"not reviewed: its analysis process died ({how})",
        )

    def _out_of_time(self, path: str) -> SkippedFile:
        seconds = self.limits.seconds_per_job or 0.0
        return SkippedFile(
            path,
            SkipReason.time_budget,
            f"not reviewed: the review's analysis budget of {seconds:g} s ran out "
            "(limits.analysis_seconds_per_job)",
        )

    def close(self) -> None:
        """Stop the workers, also those still on a file; a review waiting for one gets
        its files back as not reviewed."""
        for future in list(self._scheduled):
            future.cancel()
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _joined(parts: Sequence[_Outcome]) -> _Outcome:
    """One file's outcome from its tasks': a file is reviewed only when all of them are."""
    findings: list[Finding] = []
    problems: list[SyntaxProblem] = []
    for outcome, seconds in parts:
        if isinstance(outcome, SkippedFile):
            return outcome, seconds
        findings += outcome[0]
        if outcome[1] is not None:  # each part parsed the whole file: one is enough
            problems.append(outcome[1])
    result = sorted(findings, key=report_order), (problems[0] if problems else None)
    return result, max(seconds for _, seconds in parts)


def _large(source: SourceFile, mode: FilterMode) -> bool:
    """Whether the part of ``source`` that is searched is large: a small hunk in a large
    file costs little more than its parse, which a second worker would only repeat."""
    text = source.text
    if len(text) < SPLIT_MIN_CHARS:
        return False
    lines = interest_lines(source.change, mode)
    if lines is None:
        return True
    return len(lines) * len(text) >= SPLIT_MIN_CHARS * (text.count("\n") + 1)


def start_method_for_this_process() -> str:
    """fork while this process runs only its main thread and the platform has fork, else
    spawn (see AnalysisPool)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def workers_for(sources: Sequence[SourceFile], mode: FilterMode, jobs: int) -> int:
    """How many workers are worth starting for ``sources``: no more than it has tasks."""
    tasks = sum(jobs if _large(s, mode) else 1 for s in sources)
    return max(1, min(jobs, tasks))


def analyze_files(
    sources: Sequence[SourceFile],
    rules: Sequence[CompiledRule],
    mode: FilterMode,
    progress: Progress | None = None,
    rule_ids: frozenset[str] | None = None,
) -> Analysed:
    """Findings of every file, in input order, the files whose analysis failed and those
    that do not parse, all in this process and without limits. ``rule_ids`` limits the
    run to those rules (None: all)."""
    analyzer = Analyzer(rules)
    tasks = [(s, mode, rule_ids) for s in sources]
    return _collect((_analyze_one(analyzer, t) for t in tasks), sources, progress)


def _collect(
    results: Iterator[_Outcome], sources: Sequence[SourceFile], progress: Progress | None
) -> Analysed:
    findings: list[Finding] = []
    failed: list[SkippedFile] = []
    problems: list[SyntaxProblem] = []
    for done, ((outcome, seconds), source) in enumerate(zip(results, sources, strict=True), 1):
        if isinstance(outcome, SkippedFile):
            failed.append(outcome)
        else:
            findings += outcome[0]
            if outcome[1] is not None:
                problems.append(outcome[1])
        if progress is not None:
            progress(FileDone(done, len(sources), source.path, seconds))
    return findings, failed, problems
