"""What a code-review platform (GitHub, Gerrit, the test stub) plugs into the service.

The split is deliberate: ``parse_webhook`` runs in the HTTP handler and may only look
at the request (verify the signature, read the event) so the handler answers fast and
never waits on a platform API; ``fetch`` and ``post`` run later in the worker, where
failures can be retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.model import Change, Job, ReviewPlan


@dataclass(frozen=True)
class ParsedEvent:
    """A webhook that asks for a review: the job key fields plus what the worker needs."""

    platform: str
    project: str
    change: str
    revision: str
    delivery_id: str | None = None
    recheck: bool = False
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignored:
    """A valid webhook we do not act on (a comment, a label...); answered ``status``
    (202, or 200 for a ping) and counted by ``kind`` (e.g. "unauthorised" re-checks)."""

    reason: str
    status: int = 202
    kind: str = "ignored"


@dataclass(frozen=True)
class SweepTarget:
    """One listing call of the reconciler's sweep: a repository, or a query that covers
    a whole server. ``name`` is what logs and errors show."""

    name: str
    installation: int | None = None  # GitHub App: whose token lists it


Headers = Mapping[str, str]
WebhookParser = Callable[[Headers, bytes], "ParsedEvent | Ignored"]
# Runs before the body is read: the route's path parameters and the peer's address;
# raises WebhookRejected (a sender that cannot sign, like Gerrit's webhooks plugin).
WebhookAuthorizer = Callable[[Mapping[str, str], "str | None"], None]


@dataclass(frozen=True)
class WebhookRoute:
    method: str  # "POST"
    path: str  # "/webhooks/github", or with parameters: "/webhooks/gerrit/{token}"
    parse: WebhookParser
    authorize: WebhookAuthorizer | None = None


# Where a background task hands the events it receives: the same path as a webhook's
# (dedupe, enqueue, wake the worker). It raises when the store cannot take the event.
EventSink = Callable[["ParsedEvent | Ignored"], Awaitable[None]]


class Checkpoint(Protocol):
    """How far a background task got (an epoch time), kept in the job store: a task that
    starts again, here or on another replica that took over, resumes from there."""

    async def load(self) -> float | None: ...
    async def save(self, value: float) -> None: ...


BackgroundTask = Callable[[EventSink, Checkpoint], Awaitable[None]]


@runtime_checkable
class PlatformAdapter(Protocol):
    name: str

    @property
    def has_credentials(self) -> bool:
        """False means dry run: the review is rendered and stored, never posted."""
        ...

    def routes(self) -> list[WebhookRoute]: ...

    def parse_webhook(self, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
        """Verify and decode a delivery; raise WebhookRejected. No platform API calls."""
        ...

    async def fetch(self, job: Job) -> Change:
        """The changed files of the job's revision and a reader of their new bytes."""
        ...

    async def post(self, job: Job, plan: ReviewPlan) -> dict[str, Any]:
        """Say what the plan says, on this platform; must be idempotent: a comment whose
        fingerprint the change already carries (core/fingerprint.py's marker) is not
        posted again, after a retry, a re-check or on a new revision."""
        ...

    async def abandon(self, job: Job, outcome: str) -> None:
        """The job ended without a post (``outcome``: stale, superseded, failed, dead):
        undo what ``fetch`` started (GitHub's check run in progress). Best effort."""
        ...

    def background_tasks(self) -> list[BackgroundTask]:
        """Long-lived coroutines run beside the routes (e.g. a Gerrit stream-events
        listener) on the replica that leads, one at a time across replicas; they are
        cancelled when it stops leading, and on shutdown."""
        ...

    async def sweep_targets(self) -> list[SweepTarget]:
        """What a reconcile sweep lists, one listing call each (empty: nothing to sweep)."""
        ...

    async def open_changes(self, target: SweepTarget, since: float) -> list[ParsedEvent]:
        """The open changes of ``target`` updated since ``since`` (epoch s), each at its
        head or current patch set, under the same rules as their webhooks (drafts...)."""
        ...

    def health(self) -> dict[str, Any]:
        """What /readyz and /metrics show of the adapter's own state (a stream's
        connection, say); empty when there is nothing beyond the routes."""
        ...


class AdapterRegistry:
    """Platform name -> adapter; the server and the worker look adapters up here."""

    def __init__(self, adapters: list[PlatformAdapter] | None = None) -> None:
        self._adapters: dict[str, PlatformAdapter] = {}
        for adapter in adapters or []:
            self.register(adapter)

    def register(self, adapter: PlatformAdapter) -> None:
        if adapter.name in self._adapters:
            raise ValueError(f"platform {adapter.name!r} registered twice")
        self._adapters[adapter.name] = adapter

    def get(self, name: str) -> PlatformAdapter:
        try:
            return self._adapters[name]
        except KeyError:
            raise KeyError(f"no adapter for platform {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def __iter__(self) -> Iterator[PlatformAdapter]:
        return iter(self._adapters.values())

    def names(self) -> list[str]:
        return sorted(self._adapters)


__all__ = [
    "AdapterRegistry",
    "BackgroundTask",
    "Checkpoint",
    "EventSink",
    "Headers",
    "Ignored",
    "ParsedEvent",
    "PlatformAdapter",
    "SweepTarget",
    "WebhookAuthorizer",
    "WebhookParser",
    "WebhookRoute",
]
