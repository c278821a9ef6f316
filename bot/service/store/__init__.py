"""Durable job stores behind one protocol; ``open_store`` is the only constructor.

A job is one review of one revision, keyed by (platform, project, change, revision),
leased by workers, retried with backoff and dead-lettered after too many attempts. The
server, the worker and the CLI are typed against ``JobStore``, so another backend needs
no edits outside this folder.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.model import Job, JobKey, JobState

if TYPE_CHECKING:
    from bot.config.models import Config


@dataclass(frozen=True)
class EnqueueResult:
    job_id: int
    coalesced: bool
    superseded: tuple[int, ...]


@runtime_checkable
class JobStore(Protocol):
    def ping(self) -> None: ...
    def record_delivery(self, delivery_id: str, ttl_seconds: float) -> bool: ...
    def enqueue(
        self,
        key: JobKey,
        payload: dict,
        *,
        delivery_id: str | None = None,
        recheck: bool = False,
    ) -> EnqueueResult: ...
    def lease(self, owner: str, lease_seconds: float) -> Job | None: ...
    def heartbeat(self, job_id: int, owner: str, lease_seconds: float) -> bool: ...
    def complete(self, job_id: int, owner: str, result: dict) -> None: ...
    def fail(
        self,
        job_id: int,
        owner: str,
        error: str,
        *,
        transient: bool,
        retry_after: float | None = None,
    ) -> JobState: ...
    def release(self, job_id: int, owner: str) -> None: ...
    def retry(self, job_id: int) -> None: ...
    def newer_revision(self, job_id: int) -> int | None: ...
    def get(self, job_id: int) -> Job | None: ...
    def list(self, state: JobState | None = None, limit: int = 50) -> builtins.list[Job]: ...
    def depth(self) -> int: ...
    def counts(self) -> dict[JobState, int]: ...
    def close(self) -> None: ...


def open_store(config: Config, *, create: bool = True) -> JobStore:
    """The store ``storage.url`` names, with the config's retry policy and durability.
    ``create=False``: an existing store only; none is a StoreError naming the path."""
    from bot.service.store.sqlite import SqliteJobStore  # the only backend for now

    w = config.workers
    return SqliteJobStore(
        config.storage.url,
        max_attempts=w.max_attempts,
        backoff_base=w.backoff_base_seconds,
        backoff_cap=w.backoff_cap_seconds,
        durability=config.storage.durability,
        create=create,
    )
