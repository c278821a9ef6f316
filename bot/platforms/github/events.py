"""GitHub webhook deliveries -> ``ParsedEvent | Ignored``. Pure: no API call, no clock.

What asks for a review:

- ``pull_request`` opened, synchronize, reopened, ready_for_review: review the head sha;
- ``issue_comment`` created on a PR whose body matches the re-check command, by an allowed
  commenter: a forced review of whatever the head is when the job runs (the payload has no
  sha, and the handler may not call the API to learn it);
- ``check_run`` rerequested on our own check run (the Re-run button): a forced review of
  that run's head sha.

Everything else valid is ``Ignored``; a bad signature raises ``WebhookRejected(401)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from bot.config.models import GitHubConfig
from bot.errors import WebhookRejected
from bot.platforms.base import Headers, Ignored, ParsedEvent

PLATFORM = "github"
CHECK_NAME = "review-bot"
# The job revision of a re-check asked for in a comment: "the head when the job runs".
CURRENT_HEAD = "HEAD"
REVIEWED_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})


@dataclass(frozen=True)
class EventRules:
    """What parsing needs of the config."""

    secret: bytes
    review_drafts: bool = False
    recheck: re.Pattern[str] = re.compile(r"(?m)^\s*/recheck\s*$")
    allowed: frozenset[str] = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
    app_id: int | None = None
    bot_login: str | None = None

    @classmethod
    def from_config(cls, settings: GitHubConfig) -> EventRules:
        assert settings.webhook_secret is not None, "the config requires it when enabled"
        return cls(
            secret=settings.webhook_secret.get_secret_value().encode(),
            review_drafts=settings.review_drafts,
            recheck=re.compile(settings.recheck_command),
            allowed=frozenset(settings.recheck_allowed),
            app_id=settings.app_id,
            bot_login=settings.bot_login,
        )


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, headers: Headers, body: bytes) -> None:
    given = headers.get("X-Hub-Signature-256", "")
    # Constant time over the whole value: a mismatch must not say how much matched.
    if not given or not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        raise WebhookRejected(401, "missing or wrong X-Hub-Signature-256")


def parse(rules: EventRules, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
    verify(rules.secret, headers, body)
    event = headers.get("X-GitHub-Event", "")
    try:
        data = json.loads(_json_of(headers, body))
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    delivery = headers.get("X-GitHub-Delivery") or None
    if event == "ping":
        return Ignored("pong", status=200, kind="ping")
    try:
        if event == "pull_request":
            return _pull_request(rules, data, delivery)
        if event == "issue_comment":
            return _issue_comment(rules, data, delivery)
        if event == "check_run":
            return _check_run(rules, data, delivery)
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookRejected(400, f"{event} payload lacks a field: {exc}") from None
    return Ignored(f"event {event or '(none)'!r} is not reviewed")


def _json_of(headers: Headers, body: bytes) -> bytes | str:
    """A webhook set to "application/x-www-form-urlencoded" sends the JSON as ``payload``."""
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        return parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload", [""])[0]
    return body


def _job(
    data: dict[str, Any], number: int, revision: str, delivery: str | None, **payload: Any
) -> ParsedEvent:
    repo = str(data["repository"]["full_name"])
    installation = (data.get("installation") or {}).get("id")
    return ParsedEvent(
        platform=PLATFORM,
        project=repo,
        change=str(int(number)),
        revision=revision,
        delivery_id=delivery,
        recheck=bool(payload.pop("recheck", False)),
        payload={
            "repo": repo,
            "number": int(number),
            "installation": int(installation) if installation is not None else None,
            **payload,
        },
    )


def _pull_request(
    rules: EventRules, data: dict[str, Any], delivery: str | None
) -> ParsedEvent | Ignored:
    action = data.get("action")
    if action not in REVIEWED_ACTIONS:
        return Ignored(f"pull_request action {action!r} is not reviewed")
    pr = data["pull_request"]
    if pr.get("state") == "closed":
        return Ignored("pull request is closed")
    if pr.get("draft") and not rules.review_drafts:
        return Ignored("draft pull request (github.review_drafts is off)")
    head = str(pr["head"]["sha"])
    return _job(data, pr["number"], head, delivery, head=head, base=str(pr["base"]["sha"]))


def from_pull(
    rules: EventRules, pr: dict[str, Any], repo: str, installation: int | None
) -> ParsedEvent | Ignored:
    """An open PR as listed by the API (the reconciler's sweep), judged as its
    ``opened`` webhook would be: the same drafts and closed rules, the same job."""
    data = {
        "action": "opened",
        "pull_request": pr,
        "repository": {"full_name": repo},
        "installation": None if installation is None else {"id": installation},
    }
    return _pull_request(rules, data, None)


def _is_self(rules: EventRules, user: dict[str, Any]) -> bool:
    return user.get("type") == "Bot" or (
        rules.bot_login is not None and user.get("login") == rules.bot_login
    )


def _issue_comment(
    rules: EventRules, data: dict[str, Any], delivery: str | None
) -> ParsedEvent | Ignored:
    if data.get("action") != "created":
        return Ignored(f"issue_comment action {data.get('action')!r} is not reviewed")
    issue, comment = data["issue"], data["comment"]
    if not issue.get("pull_request"):
        return Ignored("comment on an issue, not a pull request")
    user = comment.get("user") or {}
    if _is_self(rules, user):
        return Ignored("comment by a bot")
    if not rules.recheck.search(str(comment.get("body") or "")):
        return Ignored("comment is not a re-check command")
    if issue.get("state") == "closed":
        return Ignored("pull request is closed")
    author = (issue.get("user") or {}).get("login")
    if comment.get("author_association") not in rules.allowed and user.get("login") != author:
        return Ignored("re-check by a commenter who may not ask for one", kind="unauthorised")
    return _job(
        data,
        issue["number"],
        CURRENT_HEAD,
        delivery,
        recheck=True,
        comment_id=int(comment["id"]),
    )


def _check_run(
    rules: EventRules, data: dict[str, Any], delivery: str | None
) -> ParsedEvent | Ignored:
    if data.get("action") != "rerequested":
        return Ignored(f"check_run action {data.get('action')!r} is not reviewed")
    run = data["check_run"]
    app = (run.get("app") or {}).get("id")
    if rules.app_id is None or app != rules.app_id or run.get("name") != CHECK_NAME:
        return Ignored("check run of another app")
    head = str(run["head_sha"])
    prs = run.get("pull_requests") or []
    if prs:
        pr = prs[0]
        return _job(
            data, pr["number"], head, delivery, recheck=True, head=head, base=pr["base"]["sha"]
        )
    # A fork's PR is not listed on the run; we wrote its number into external_id.
    external = str(run.get("external_id") or "")
    if not external.isdigit():
        return Ignored("check run names no pull request")
    return _job(data, int(external), head, delivery, recheck=True, head=head)
