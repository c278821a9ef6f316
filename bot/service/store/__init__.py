"""Durable job stores behind one protocol; ``open_store`` is the only constructor.

A job is one review of one revision, keyed by (platform, project, change, revision),
leased by workers, retried with backoff and dead-lettered after too many attempts. The
server, the worker and the CLI are typed against ``JobStore``, so another backend needs
no edits outside this folder. Two backends share one behaviour (sql.py): SQLite for one
process, PostgreSQL for replicas.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.errors import StoreError
from bot.model import Job, JobKey, JobState

if TYPE_CHECKING:
    from bot.config.models import Config
    from bot.service.store.leader import Leadership
    from bot.service.store.migrations import SchemaStatus


@dataclass(frozen=True)
class EnqueueResult:
    job_id: int
    coalesced: bool
    superseded: tuple[int, ...]


@runtime_checkable
class JobStore(Protocol):
    applied_at_open: tuple[int, ...]  # the migrations this object applied at open

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
    def subscribe(self, callback: Callable[[], None]) -> None: ...
    def read_checkpoint(self, name: str) -> str | None: ...
    def write_checkpoint(self, name: str, value: str) -> None: ...
    def leadership(
        self, replica: str, on_change: Callable[[bool], None] | None = None
    ) -> Leadership: ...
    def schema(self) -> SchemaStatus: ...
    def migrate(self) -> tuple[int, ...]: ...
    def prepare_schema(self, *, create: bool) -> None: ...
    def close(self) -> None: ...


def open_store(config: Config, *, create: bool = True, check_schema: bool = True) -> JobStore:
    """The store ``storage.url`` names, with the config's retry policy.

    ``create`` makes the store (SQLite) and applies pending migrations; without it the
    store must exist with a current schema, else a StoreError says what to do.
    ``check_schema=False`` opens it with its schema as it is, for `db status`.
    """
    storage, w = config.storage, config.workers
    if storage.url_unresolved:
        # Loaded without secrets (`jobs`, `db`) where the variable is not set.
        raise StoreError(storage.url, "storage.url: its environment variable is not set")
    policy = {
        "max_attempts": w.max_attempts,
        "backoff_base": w.backoff_base_seconds,
        "backoff_cap": w.backoff_cap_seconds,
        "create": create,
        "check_schema": check_schema,
    }
    if storage.is_postgres:
        from bot.service.store.postgres import PostgresJobStore

        password = None
        if storage.password is not None:
            # Loaded lazily by `jobs` and `db`, which skip the platforms' secrets.
            try:
                password = storage.password.resolve().get_secret_value()
            except ValueError as exc:
                raise StoreError(storage.url, f"storage.password: {exc}") from None
        return PostgresJobStore(
            storage.url, password=password, pool_size=storage.pool_size, **policy
        )
    from bot.service.store.sqlite import SqliteJobStore

    return SqliteJobStore(storage.url, durability=storage.durability, **policy)
