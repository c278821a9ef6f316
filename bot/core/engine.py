"""Analyse many source files, spread over processes.

ast-grep-py holds the GIL while parsing and matching, so threads would run one at a
time. Each worker process compiles the rules once (in its initializer) and then
analyses whole files; small inputs stay in-process, where a pool would cost more
than it saves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.core.analyze import Analyzer
from bot.core.compiled import CompiledRule
from bot.core.lifetime import die_with_parent
from bot.model import FilterMode, Finding, SkippedFile, SkipReason, SourceFile

# Below this much text a pool's start-up costs more than it saves (measured with bench/).
POOL_MIN_BYTES = 256_000
POOL_MIN_FILES = 4

_worker: Analyzer | None = None


def _init_worker(rules: Sequence[CompiledRule]) -> None:
    global _worker
    die_with_parent()
    _worker = Analyzer(rules)


@dataclass(frozen=True)
class FileDone:
    """Progress: one more file analysed, and how long its analysis took."""

    done: int
    total: int
    path: str
    seconds: float


Progress = Callable[[FileDone], None]

# One file's outcome: its findings, or why its analysis failed; and its analysis time.
_Outcome = tuple[list[Finding] | SkippedFile, float]
_Task = tuple[SourceFile, FilterMode, frozenset[str] | None]


def _analyze_one(analyzer: Analyzer, task: _Task) -> _Outcome:
    source, mode, rule_ids = task
    start = time.perf_counter()
    try:
        return analyzer.analyze(source, mode, rule_ids), time.perf_counter() - start
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


def analyze_files(
    sources: Sequence[SourceFile],
    rules: Sequence[CompiledRule],
    mode: FilterMode,
    jobs: int | None = None,
    progress: Progress | None = None,
    rule_ids: frozenset[str] | None = None,
) -> tuple[list[Finding], list[SkippedFile]]:
    """Findings of every file, in input order, and the files whose analysis failed.
    ``rule_ids`` limits the run to those rules (None: all)."""
    jobs = jobs or default_jobs()
    size = sum(len(s.text) for s in sources)
    use_pool = jobs > 1 and len(sources) >= POOL_MIN_FILES and size >= POOL_MIN_BYTES
    tasks = [(s, mode, rule_ids) for s in sources]
    results: Iterator[_Outcome]
    if not use_pool:
        analyzer = Analyzer(rules)
        results = (_analyze_one(analyzer, t) for t in tasks)
        return _collect(results, sources, progress)
    # Imported here: concurrent.futures.process and multiprocessing cost ~6 ms of start-up,
    # which a review of one or a few files (no pool) should not pay.
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(sources))
    chunk = max(1, len(sources) // (workers * 4))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(rules,)) as pool:
        results = pool.map(_analyze_in_worker, tasks, chunksize=chunk)
        return _collect(results, sources, progress)


def _collect(
    results: Iterator[_Outcome], sources: Sequence[SourceFile], progress: Progress | None
) -> tuple[list[Finding], list[SkippedFile]]:
    findings: list[Finding] = []
    failed: list[SkippedFile] = []
    for done, ((outcome, seconds), source) in enumerate(zip(results, sources, strict=True), 1):
        if isinstance(outcome, SkippedFile):
            failed.append(outcome)
        else:
            findings += outcome
        if progress is not None:
            progress(FileDone(done, len(sources), source.path, seconds))
    return findings, failed
