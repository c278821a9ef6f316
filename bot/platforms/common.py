"""What every platform shares: a webhook body read as a JSON object, which posted findings
are fixed, rule links that work from a review, and the review's headline. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.errors import WebhookRejected
from bot.model import Comment, ReviewPlan


def json_object(body: bytes | str) -> dict[str, Any]:
    """The delivery's JSON object; anything else is the sender's error (400)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return data


def headline(comments: Sequence[Comment], more: int = 0) -> str:
    """``more``: new findings this review leaves out (past a platform's limit)."""
    if not comments:
        return "review-bot: no new findings."
    sev = ", ".join(f"{k} {s.name}" for s, k in ReviewPlan(tuple(comments)).by_severity().items())
    n = len(comments) + more
    shown_here = " shown here" if more else ""
    return f"review-bot: {n} new finding{'s' if n != 1 else ''} ({sev}{shown_here})."


def fixed(
    plan: ReviewPlan, already: Mapping[str, Mapping[str, Any]], replied: set[str]
) -> list[tuple[str, Mapping[str, Any]]]:
    """Posted comments whose finding is gone at the head and not answered yet. A file the
    review skipped proves nothing, so its comments are left alone."""
    skipped = {s.path for s in plan.summary.skipped}
    present = set(plan.summary.present)
    return [
        (fp, c)
        for fp, c in already.items()
        if fp not in present and fp not in replied and c.get("path") not in skipped
    ]


def with_rule_links(plan: ReviewPlan, docs_url: str | None) -> ReviewPlan:
    """Rule pages as absolute links: a rule's relative ``url`` (``docs/rules/x.md``) is
    joined to ``review.rule_docs_url``; without one it cannot be linked from a PR, where
    it would resolve against the PR's own repository."""
    comments = []
    for c in plan.comments:
        url = c.url
        if url and not urlsplit(url).scheme:
            url = urljoin(docs_url.rstrip("/") + "/", url) if docs_url else None
        comments.append(replace(c, url=url))
    return replace(plan, comments=tuple(comments))
