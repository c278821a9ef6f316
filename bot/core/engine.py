"""Analyse many source files, spread over processes.

ast-grep-py holds the GIL while parsing and matching, so threads would run one at a
time. Each worker process compiles the rules once (in its initializer) and then
analyses whole files; small inputs stay in-process, where a pool would cost more
than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from bot.core.analyze import Analyzer
from bot.core.compiled import CompiledRule
from bot.model import FilterMode, Finding, SourceFile

# Below this much text a pool's start-up costs more than it saves (measured with bench/).
POOL_MIN_BYTES = 256_000
POOL_MIN_FILES = 4

_worker: Analyzer | None = None


def _init_worker(rules: Sequence[CompiledRule]) -> None:
    global _worker
    _worker = Analyzer(rules)


def _analyze_in_worker(args: tuple[SourceFile, FilterMode]) -> list[Finding]:
    assert _worker is not None, "worker not initialised"
    return _worker.analyze(*args)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def analyze_files(
    sources: Sequence[SourceFile],
    rules: Sequence[CompiledRule],
    mode: FilterMode,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Finding]:
    """Findings of every file, in input order."""
    jobs = jobs or default_jobs()
    size = sum(len(s.text) for s in sources)
    use_pool = jobs > 1 and len(sources) >= POOL_MIN_FILES and size >= POOL_MIN_BYTES
    results: Iterator[list[Finding]]
    if not use_pool:
        analyzer = Analyzer(rules)
        results = (analyzer.analyze(s, mode) for s in sources)
        return _collect(results, len(sources), progress)
    # Imported here: concurrent.futures.process and multiprocessing cost ~6 ms of start-up,
    # which a review of one or a few files (no pool) should not pay.
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(sources))
    chunk = max(1, len(sources) // (workers * 4))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(rules,)) as pool:
        results = pool.map(_analyze_in_worker, [(s, mode) for s in sources], chunksize=chunk)
        return _collect(results, len(sources), progress)


def _collect(
    results: Iterator[list[Finding]], total: int, progress: Callable[[int, int], None] | None
) -> list[Finding]:
    findings: list[Finding] = []
    for done, found in enumerate(results, 1):
        findings += found
        if progress is not None:
            progress(done, total)
    return findings
