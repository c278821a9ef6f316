"""One review of a change, end to end and platform-neutral: what `review-bot check` prints
is what the bot would post, because the service calls exactly this."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.config.models import Config
from bot.core.compiled import CompiledRule
from bot.core.engine import analyze_files
from bot.core.globs import GlobSet
from bot.core.review import select
from bot.core.sources import decode_source
from bot.model import Change, FileStatus, FilterMode, Finding, Problem, Severity, SourceFile


@dataclass(frozen=True)
class CheckResult:
    findings: list[Finding]  # what would be posted, sorted
    problems: list[Problem]
    sources: dict[str, str]
    analysed_files: int
    below_threshold: int
    suppressed: int


def load_sources(change: Change, config: Config) -> tuple[list[SourceFile], list[Problem]]:
    """The test files of a change with their new text; everything skipped is reported."""
    tests = GlobSet(config.test_files.globs)
    limit = config.limits.max_files
    sources: list[SourceFile] = []
    problems: list[Problem] = []
    candidates = [f for f in change.files if tests.matches(f.path)]
    if len(candidates) > limit:
        problems.append(
            Problem(
                "",
                f"{len(candidates)} test files changed; only the first "
                f"{limit} are analysed (limits.max_files)",
            )
        )
        candidates = candidates[:limit]
    for changed in candidates:
        if changed.status is FileStatus.deleted:
            continue
        if changed.status is FileStatus.binary:
            problems.append(Problem(changed.path, "skipped: binary file"))
            continue
        loaded = decode_source(changed, change.read(changed.path), config.limits.max_file_bytes)
        if isinstance(loaded, Problem):
            problems.append(loaded)
        else:
            sources.append(loaded)
    return sources, problems


def run_check(
    change: Change,
    rules: Sequence[CompiledRule],
    config: Config,
    *,
    mode: FilterMode | None = None,
    min_severity: Severity | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    sources, problems = load_sources(change, config)
    findings = analyze_files(
        sources, rules, mode or config.review.filter_mode, jobs=jobs, progress=progress
    )
    texts = {s.path: s.text for s in sources}
    chosen = select(findings, texts, min_severity or config.min_severity)
    return CheckResult(
        findings=chosen.shown,
        problems=problems,
        sources=texts,
        analysed_files=len(sources),
        below_threshold=chosen.below_threshold,
        suppressed=chosen.suppressed,
    )
