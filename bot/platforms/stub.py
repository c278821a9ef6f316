"""A platform that lives in memory, for tests and local trials of the service.

POST /webhooks/stub with ``X-Stub-Token`` (``platforms.stub.token``, never empty) and a
JSON body::

    {"project": "p", "change": "42", "revision": "abc", "delivery": "d-1",
     "recheck": false, "files": {"tests/test_x.py": "..."}, "diff": "unified diff",
     "base_files": {"tests/test_x.py": "..."}}

``event`` other than "review" (the default) is ignored. Without ``diff`` every file
counts as added. ``base_files`` (optional) are the base side's contents, which turn on
the comparison with the base. Posted plans are kept in ``posted``; each change's comment
bodies, with their hidden fingerprint markers, in ``threads``, so that posting a finding
the change already carries is skipped, as a real adapter must. ``fail_next`` makes the
next posts fail, to exercise retries and dead letters.
"""

from __future__ import annotations

import hmac
from typing import Any

from bot.core.diff import parse_diff
from bot.core.fingerprint import marker, read_marker
from bot.errors import DiffError, IntakeError, PermanentError, TransientError, WebhookRejected
from bot.model import Change, ChangedFile, FileStatus, Job, Reader, ReviewPlan
from bot.platforms.base import (
    BackgroundTask,
    Headers,
    Ignored,
    ParsedEvent,
    SweepTarget,
    WebhookRoute,
)
from bot.platforms.common import json_object

TOKEN_HEADER = "X-Stub-Token"
_REQUIRED = ("project", "change", "revision")


class StubAdapter:
    name = "stub"

    def __init__(self, token: str, *, credentials: bool = True) -> None:
        if not token:
            # An empty token would let any request in: the header's default is "" too.
            raise ValueError("the stub adapter needs a token (platforms.stub.token)")
        self._token = token
        self._credentials = credentials
        # (project, change, revision) -> plan; a dict, so posting twice is idempotent.
        self.posted: dict[tuple[str, str, str], ReviewPlan] = {}
        # (project, change) -> comment bodies, as a platform keeps a change's comments.
        self.threads: dict[tuple[str, str], list[str]] = {}
        self.post_calls = 0
        self.abandoned: list[tuple[int, str]] = []
        self._failures: list[Exception] = []
        # What a reconcile sweep finds: target name -> (updated at, event) of open changes;
        # a name mapped to an exception makes listing it raise that.
        self.open: dict[str, list[tuple[float, ParsedEvent]] | Exception] = {}
        self.listed: list[tuple[str, float]] = []  # (target, since) of each listing call

    @property
    def has_credentials(self) -> bool:
        return self._credentials

    def fail_next(
        self, times: int, *, transient: bool = True, retry_after: float | None = 0.0
    ) -> None:
        """The next ``times`` posts raise TransientError (or PermanentError)."""
        for _ in range(times):
            self._failures.append(
                TransientError("stub: try later", retry_after, 503)
                if transient
                else PermanentError("stub: refused", 422)
            )

    async def abandon(self, job: Job, outcome: str) -> None:
        self.abandoned.append((job.id, outcome))

    def routes(self) -> list[WebhookRoute]:
        return [WebhookRoute("POST", "/webhooks/stub", self.parse_webhook)]

    def background_tasks(self) -> list[BackgroundTask]:
        return []

    async def sweep_targets(self) -> list[SweepTarget]:
        return [SweepTarget(name) for name in self.open]

    async def open_changes(self, target: SweepTarget, since: float) -> list[ParsedEvent]:
        self.listed.append((target.name, since))
        found = self.open[target.name]
        if isinstance(found, Exception):
            raise found
        return [event for updated, event in found if updated >= since]

    def health(self) -> dict[str, Any]:
        return {}

    def parse_webhook(self, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
        # Constant-time compare: a token check must not leak the token byte by byte.
        given = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            raise WebhookRejected(401, "bad or missing token")
        data = json_object(body)
        event = data.get("event", "review")
        if event != "review":
            return Ignored(f"event {event!r} is not reviewed")
        missing = [k for k in _REQUIRED if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise WebhookRejected(400, f"missing or empty: {', '.join(missing)}")
        files = _text_map(data, "files")
        base_files = _text_map(data, "base_files") if "base_files" in data else None
        delivery = data.get("delivery")
        return ParsedEvent(
            platform=self.name,
            project=data["project"],
            change=data["change"],
            revision=data["revision"],
            delivery_id=str(delivery) if delivery is not None else None,
            recheck=bool(data.get("recheck", False)),
            payload={
                "files": files,
                "diff": str(data.get("diff", "")),
                "base_files": base_files,
            },
        )

    async def fetch(self, job: Job) -> Change:
        files: dict[str, str] = job.payload.get("files", {})
        diff: str = job.payload.get("diff", "")
        try:
            changed = (
                parse_diff(diff)
                if diff
                else [ChangedFile(p, FileStatus.added, whole_file=True) for p in files]
            )
        except DiffError as exc:
            raise PermanentError(f"stub: {exc}") from None
        base_files: dict[str, str] | None = job.payload.get("base_files")
        return Change(
            changed,
            _reader(files, "contents"),
            read_base=None if base_files is None else _reader(base_files, "base contents"),
        )

    async def post(self, job: Job, plan: ReviewPlan) -> dict[str, Any]:
        self.post_calls += 1
        if self._failures:
            raise self._failures.pop(0)
        self.posted[(job.key.project, job.key.change, job.key.revision)] = plan
        thread = self.threads.setdefault((job.key.project, job.key.change), [])
        said = {read_marker(body) for body in thread}
        new = [c for c in plan.comments if c.fingerprint not in said]
        thread += [f"{c.message}\n\n{marker(c.fingerprint)}" for c in new]
        return {
            "posted": True,
            "comments": len(new),
            "already_posted": len(plan.comments) - len(new),
        }


def _text_map(data: dict[str, Any], key: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise WebhookRejected(400, f"{key} must map paths to text")
    return value


def _reader(texts: dict[str, str], what: str) -> Reader:
    contents = {p: t.encode() for p, t in texts.items()}

    def read(path: str) -> bytes:
        if path not in contents:
            raise IntakeError(f"stub: no {what} for {path}")
        return contents[path]

    return read
