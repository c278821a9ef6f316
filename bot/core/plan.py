"""Findings -> the ReviewPlan: fingerprints, threshold, suppressions, the baseline, the
summary. Pure. Also the plan's JSON form, which `jobs show` stores and tests compare."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.fingerprint import fingerprints, normalised
from bot.core.review import select
from bot.model import Comment, Finding, PlanSummary, ReviewPlan, Severity, SkippedFile


def baseline_key(finding: Finding) -> tuple[str, str]:
    """What makes a head finding "the same" as a base one: the rule and the code, wherever
    it stood, so moved, re-indented and renamed code all compare equal."""
    return finding.rule_id, normalised(finding.matched)


def plan(
    head: Sequence[Finding],
    texts: Mapping[str, str],
    min_severity: Severity,
    *,
    base: Sequence[Finding] | None = None,
    skipped: Sequence[SkippedFile] = (),
    analysed_files: int = 0,
    established: frozenset[Finding] = frozenset(),
) -> ReviewPlan:
    """``head``: every finding on the new side; ``texts``: the new text of each file (for
    suppression comments); ``base``: the findings of the base side of the change, or None
    when the base is not at hand (then nothing is dropped as old); ``established``: the
    head findings that follow the file's existing practice (core/idiom.py), not posted."""
    # Fingerprints over all head findings, so a threshold or a suppression elsewhere in
    # the file never shifts the occurrence numbers of the findings that are posted.
    identity = dict(zip(head, fingerprints(head), strict=True))
    chosen = select(head, texts, min_severity)
    shown = [f for f in chosen.shown if f not in established]
    damped = len(chosen.shown) - len(shown)
    in_base = 0
    if base is not None:
        old = {baseline_key(f) for f in base}
        kept = [f for f in shown if baseline_key(f) not in old]
        in_base = len(shown) - len(kept)
        shown = kept
    comments = tuple(to_comment(f, identity[f]) for f in shown)
    summary = PlanSummary(
        analysed_files=analysed_files,
        skipped=tuple(skipped),
        below_threshold=chosen.below_threshold,
        suppressed=chosen.suppressed,
        in_base=in_base,
        established=damped,
        baseline=base is not None,
        present=tuple(sorted(set(identity.values()))),
    )
    return ReviewPlan(comments, summary)


def to_comment(f: Finding, fp: str) -> Comment:
    return Comment(
        fingerprint=fp,
        rule_id=f.rule_id,
        severity=f.severity,
        path=f.path,
        span=f.span,
        message=f.message,
        matched=f.matched,
        pack=f.pack,
        note=f.note,
        url=f.url,
        fix=f.fix,
    )


# --- JSON --------------------------------------------------------------------------------


@functools.cache
def _adapter() -> Any:
    # pydantic is imported on first use: a CLI run that prints text never pays for it here.
    from pydantic import TypeAdapter

    return TypeAdapter(ReviewPlan)


def plan_to_json(review: ReviewPlan) -> dict[str, Any]:
    """The plan as JSON-ready data; ``by_rule``/``by_severity`` are added for readers and
    ignored by ``plan_from_json`` (they derive from the comments)."""
    data: dict[str, Any] = _adapter().dump_python(review, mode="json")
    data["by_rule"] = review.by_rule()
    data["by_severity"] = {s.name: n for s, n in review.by_severity().items()}
    return data


def plan_from_json(data: Mapping[str, Any]) -> ReviewPlan:
    fields = {k: v for k, v in data.items() if k not in ("by_rule", "by_severity")}
    plan_: ReviewPlan = _adapter().validate_python(fields)
    return plan_
