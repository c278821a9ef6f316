"""`review-bot jobs list|show|retry`: inspect and re-run the service's jobs.

They read the store `review-bot serve` writes and never make one: a storage.url that
names no store is an error, not an empty list.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from bot.cli.exits import EXIT_OK
from bot.config.models import load_config
from bot.core.plan import plan_from_json
from bot.errors import UsageError
from bot.model import Comment, Job, JobState, ReviewPlan, Span
from bot.service.store import open_store


def cmd_jobs(args: argparse.Namespace) -> int:

    config = load_config(args.config, secrets=False)
    store = open_store(config, create=False)
    try:
        if args.jobs_command == "list":
            state = JobState(args.state) if args.state else None
            jobs = store.list(state, limit=args.limit)
            print(f"{'ID':>6}  {'STATE':<10}  {'TRIES':>5}  PLATFORM  PROJECT / CHANGE @ REVISION")
            for job in jobs:
                k = job.key
                print(
                    f"{job.id:>6}  {job.state.value:<10}  {job.attempts:>5}  {k.platform:<8}  "
                    f"{k.project} / {k.change} @ {k.revision[:12]}"
                )
            return EXIT_OK
        job = store.get(args.id)
        if job is None:
            raise UsageError(f"no job {args.id} in {config.storage.url}")
        if args.jobs_command == "retry":
            store.retry(args.id)
            print(f"job {args.id} queued again")
            return EXIT_OK
        print(json.dumps(show_job(job, raw=args.raw), indent=2, ensure_ascii=False))
        return EXIT_OK
    finally:
        store.close()


def iso_time(epoch: float | None) -> str | None:
    """ISO 8601 in UTC, to the second: ``2025-05-01T09:30:12Z``."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    return moment.replace("+00:00", "Z")


def show_job(job: Job, *, raw: bool = False) -> dict[str, Any]:
    """What `jobs show` prints: the job, its outcome and the review it posted or would
    post; with ``raw`` also the event's payload and the result as stored."""
    k = job.key
    shown: dict[str, Any] = {
        "id": job.id,
        "state": job.state.value,
        "attempts": job.attempts,
        "platform": k.platform,
        "project": k.project,
        "change": k.change,
        "revision": k.revision,
        "delivery_id": job.delivery_id,
        "created": iso_time(job.created),
        "updated": iso_time(job.updated),
    }
    if job.state is JobState.queued:
        shown["next_attempt"] = iso_time(job.not_before)
    if job.lease_owner is not None:
        shown["lease"] = {"owner": job.lease_owner, "expires": iso_time(job.lease_expires)}
    if job.last_error is not None:
        shown["last_error"] = job.last_error
    result = dict(job.result or {})
    stored_plan = result.pop("plan", None)
    shown["result"] = (job.result if raw else result) or None
    shown["review"] = None if stored_plan is None else _review(stored_plan)
    if raw:
        shown["payload"] = job.payload
    return shown


def _review(stored: dict[str, Any]) -> dict[str, Any]:
    try:
        plan = plan_from_json(stored)
    except ValueError:  # a plan stored in another shape: shown as it is
        return stored
    return {
        "comments": [_comment(c) for c in plan.comments],
        "by_rule": plan.by_rule(),
        "by_severity": {s.name: n for s, n in plan.by_severity().items()},
        "summary": _summary(plan),
    }


def _lines(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _at(span: Span) -> str:
    """``LINE:COL-LINE:COL``, columns 1-based as editors count them."""
    s, e = span.start, span.end
    return f"{s.line}:{s.column + 1}-{e.line}:{e.column + 1}"


def _comment(c: Comment) -> dict[str, Any]:
    lines = c.span.lines
    shown: dict[str, Any] = {
        "path": c.path,
        "lines": _lines(lines.start, lines.stop - 1),
        "rule": c.rule_id,
        "severity": c.severity.name,
        "message": c.message,
    }
    if c.note:
        shown["note"] = c.note
    if c.url:
        shown["url"] = c.url
    if c.fix is not None:
        fix: dict[str, Any] = {}
        if c.fix.suggestion is not None:
            sug = c.fix.suggestion
            fix["lines"] = _lines(sug.start_line, sug.end_line)
            fix["new_text"] = sug.text
        fix["edits"] = [{"at": _at(e.span), "replacement": e.replacement} for e in c.fix.edits]
        shown["fix"] = fix
    shown["fingerprint"] = c.fingerprint
    return shown


def _summary(plan: ReviewPlan) -> dict[str, Any]:
    s = plan.summary
    return {
        "analysed_files": s.analysed_files,
        "skipped": [
            {"path": f.path, "reason": f.reason.value, "why": f.message} for f in s.skipped
        ],
        "below_threshold": s.below_threshold,
        "suppressed": s.suppressed,
        "in_base": s.in_base,
        "established": s.established,
        "baseline": s.baseline,
        "notes": list(s.notes),
    }
