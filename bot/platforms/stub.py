"""A platform that lives in memory, for tests and local trials of the service.

POST /webhooks/stub with ``X-Stub-Token`` and a JSON body::

    {"project": "p", "change": "42", "revision": "abc", "delivery": "d-1",
     "recheck": false, "files": {"tests/test_x.py": "..."}, "diff": "unified diff"}

``event`` other than "review" (the default) is ignored. Without ``diff`` every file
counts as added. Posted reviews are kept in ``posted``; ``fail_next`` makes the next
posts fail, to exercise retries and dead letters.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from bot.core.diff import parse_diff
from bot.errors import DiffError, IntakeError, PermanentError, TransientError, WebhookRejected
from bot.model import Change, ChangedFile, FileStatus
from bot.platforms.base import (
    BackgroundTask,
    Headers,
    Ignored,
    ParsedEvent,
    WebhookRoute,
)

if TYPE_CHECKING:
    from bot.model import Job

TOKEN_HEADER = "X-Stub-Token"
_REQUIRED = ("project", "change", "revision")


class StubAdapter:
    name = "stub"

    def __init__(self, token: str, *, credentials: bool = True) -> None:
        self._token = token
        self._credentials = credentials
        # (project, change, revision) -> review; a dict, so posting twice is idempotent.
        self.posted: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.post_calls = 0
        self._failures: list[Exception] = []

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

    def routes(self) -> list[WebhookRoute]:
        return [WebhookRoute("POST", "/webhooks/stub", self.parse_webhook)]

    def background_tasks(self) -> list[BackgroundTask]:
        return []

    def parse_webhook(self, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
        # Constant-time compare: a token check must not leak the token byte by byte.
        given = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            raise WebhookRejected(401, "bad or missing token")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise WebhookRejected(400, "body must be a JSON object")
        event = data.get("event", "review")
        if event != "review":
            return Ignored(f"event {event!r} is not reviewed")
        missing = [k for k in _REQUIRED if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise WebhookRejected(400, f"missing or empty: {', '.join(missing)}")
        files = data.get("files", {})
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise WebhookRejected(400, "files must map paths to text")
        delivery = data.get("delivery")
        return ParsedEvent(
            platform=self.name,
            project=data["project"],
            change=data["change"],
            revision=data["revision"],
            delivery_id=str(delivery) if delivery is not None else None,
            recheck=bool(data.get("recheck", False)),
            payload={"files": files, "diff": str(data.get("diff", ""))},
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
        contents = {p: t.encode() for p, t in files.items()}

        def read(path: str) -> bytes:
            if path not in contents:
                raise IntakeError(f"stub: no contents for {path}")
            return contents[path]

        return Change(changed, read)

    async def post(self, job: Job, review: dict[str, Any]) -> dict[str, Any]:
        self.post_calls += 1
        if self._failures:
            raise self._failures.pop(0)
        key = (job.key.project, job.key.change, job.key.revision)
        self.posted[key] = review
        return {"posted": True, "comments": len(review.get("findings", []))}
