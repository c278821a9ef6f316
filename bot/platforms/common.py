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


# Where a rule names its page in the bundled layout (``url: docs/rules/x.md``): a path in
# this repository, published under ``review.docs_url``.
RULE_PAGES = "docs/rules/"


def rule_link(url: str | None, docs_url: str | None) -> str | None:
    """A rule's page as an absolute link, or None when it has none that works elsewhere.

    An absolute ``url`` is the rule's own and is kept. A repository path under
    ``docs/rules/`` is joined to ``docs_url`` (the base those pages are published at);
    any other relative path, or any path without a ``docs_url``, is published nowhere
    known, and a relative link would resolve against the reader's page (a PR's own
    repository, a SARIF viewer's), so it is not linked."""
    if not url:
        return None
    if urlsplit(url).scheme:
        return url
    page = url.removeprefix("./")
    if not docs_url or not page.startswith(RULE_PAGES):
        return None
    return urljoin(docs_url.rstrip("/") + "/", page.removeprefix(RULE_PAGES))


def with_rule_links(plan: ReviewPlan, docs_url: str | None) -> ReviewPlan:
    """The plan with every rule link absolute (:func:`rule_link`), for every format and
    platform: ``docs_url`` is ``review.docs_url``."""
    comments = tuple(replace(c, url=rule_link(c.url, docs_url)) for c in plan.comments)
    return replace(plan, comments=comments)
