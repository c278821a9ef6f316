"""One review of a change, end to end and platform-neutral: what `review-bot check` prints
is what the bot would post, because the CLI and the service both call ``run_check``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.compiled import CompiledRule
from bot.core.engine import (
    Analysed,
    AnalysisPool,
    Progress,
    analyze_files,
    default_jobs,
    start_method_for_this_process,
    workers_for,
)
from bot.core.idiom import established
from bot.core.options import CheckOptions
from bot.core.plan import plan
from bot.core.sources import decode_source
from bot.model import (
    ChangedFile,
    FileStatus,
    FilterMode,
    Finding,
    ReviewPlan,
    SkippedFile,
    Snapshot,
    SourceFile,
    SyntaxProblem,
)


@dataclass(frozen=True)
class CheckResult:
    plan: ReviewPlan
    sources: dict[str, str]  # path -> new text, for formats that show code
    # Reviewed files that do not parse, which the CLI warns about; the platforms say nothing.
    syntax_problems: tuple[SyntaxProblem, ...] = ()


def run_check(
    snap: Snapshot,
    rules: Sequence[CompiledRule],
    options: CheckOptions,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    pool: AnalysisPool | None = None,
) -> CheckResult:
    """Analyse the head side of ``snap``; with a base at hand, analyse the base side of
    each hunk too and drop what the change did not introduce.

    Under ``options.limits`` the analysis runs in ``pool`` (the service keeps one), or
    in a pool of up to ``jobs`` processes made for this call; without, in-process."""
    started = time.monotonic()
    head, skipped = _decoded(
        [f for f in snap.files if f.status is not FileStatus.deleted], snap.head, options
    )
    limits = options.limits
    deadline = None if limits.seconds_per_job is None else started + limits.seconds_per_job
    if pool is None and limits.bounded and head:
        processes = workers_for(head, options.filter_mode, jobs or default_jobs())
        with AnalysisPool(
            rules, processes, limits, start_method=start_method_for_this_process()
        ) as own:
            analysis = _Analysis(rules, own, deadline)
            return _check(snap, head, skipped, options, analysis, progress)
    return _check(snap, head, skipped, options, _Analysis(rules, pool, deadline), progress)


@dataclass(frozen=True)
class _Analysis:
    """Where one review's files are analysed: in ``pool`` by its ``deadline``, or here."""

    rules: Sequence[CompiledRule]
    pool: AnalysisPool | None
    deadline: float | None

    def __call__(
        self,
        sources: Sequence[SourceFile],
        mode: FilterMode,
        rule_ids: frozenset[str] | None = None,
        progress: Progress | None = None,
    ) -> Analysed:
        if self.pool is None:
            return analyze_files(sources, self.rules, mode, progress, rule_ids)
        return self.pool.analyze(sources, mode, rule_ids, progress, self.deadline)


def _check(
    snap: Snapshot,
    head: Sequence[SourceFile],
    skipped: Sequence[SkippedFile],
    options: CheckOptions,
    analyze: _Analysis,
    progress: Progress | None,
) -> CheckResult:
    findings, failed, syntax_problems = analyze(head, options.filter_mode, progress=progress)
    texts = {s.path: s.text for s in head}
    damped = _established(head, texts, findings, options, analyze)
    base: list[Finding] | None = None
    if options.baseline and snap.base is not None:
        # Only rules at the threshold can have something to post, so only they can be
        # silenced by the base side (suppressions are left to plan(): a superset is enough).
        wanted = frozenset(f.rule_id for f in findings if f.severity >= options.min_severity)
        base = []
        if wanted:
            sides = [b for f in snap.files if (b := f.base_side) and b.path in snap.base]
            # An unreadable base, or one over the limits, hides nothing.
            base_sources, _ = _decoded(sides, snap.base, options)
            base, _, _ = analyze(base_sources, options.filter_mode, wanted)
    review = plan(
        findings,
        texts,
        options.min_severity,
        base=base,
        skipped=[*snap.skipped, *skipped, *failed],
        analysed_files=len(head) - len(failed),
        established=damped,
    )
    return CheckResult(review, texts, tuple(syntax_problems))


def _established(
    head: Sequence[SourceFile],
    texts: Mapping[str, str],
    findings: Sequence[Finding],
    options: CheckOptions,
    analyze: _Analysis,
) -> frozenset[Finding]:
    """Findings that follow the file's practice. Only rules with something to post, and
    only files that have unchanged lines, are run again over the whole file."""
    if options.idiom_threshold <= 0:
        return frozenset()
    candidates = [f for f in findings if f.severity >= options.min_severity]
    paths = {f.path for f in candidates}
    files = [s for s in head if s.path in paths and not s.change.whole_file]
    if not files:
        return frozenset()
    if options.filter_mode in (FilterMode.file, FilterMode.nofilter):
        context = list(findings)  # the first run already matched the whole files
    else:
        wanted = frozenset(f.rule_id for f in candidates)
        context, _, _ = analyze(files, FilterMode.nofilter, wanted)
    changes = {s.path: s.change for s in files}
    return established(candidates, context, changes, texts, options.idiom_threshold)


def _decoded(
    files: Sequence[ChangedFile], contents: dict[str, bytes], options: CheckOptions
) -> tuple[list[SourceFile], list[SkippedFile]]:
    sources: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    for changed in files:
        loaded = decode_source(changed, contents[changed.path], options.max_file_bytes)
        if isinstance(loaded, SkippedFile):
            skipped.append(loaded)
        else:
            sources.append(loaded)
    return sources, skipped
