"""What a job store does, in SQL: the behaviour both backends share.

`SqlJobStore` holds coalescing, supersede, leasing, backoff, the dead letter and delivery
dedupe once. A backend gives it a connection (`_tx` for one write transaction, `_read`),
its dialect of the few statements that differ (`Statements` subclassed), the lock that
makes a transaction's read-modify-write atomic across processes (`_lock_change`,
`_lock_schema`), and a way to wake idle workers in other processes (`_announce`).

Statements use named parameters written ``:name``; a backend whose driver wants another
style converts them once (`Statements.converted`). Rows are read by column name only.
"""

from __future__ import annotations

import builtins
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from bot.errors import LeaseLost, StoreError, UsageError
from bot.model import Job, JobKey, JobState
from bot.service.store import EnqueueResult
from bot.service.store.leader import Leadership, SoleLeader
from bot.service.store.migrations import LEDGER, MIGRATIONS, SchemaStatus, status_of

log = logging.getLogger("bot.service.store")

# States a job never leaves on its own; only `retry` (or a recheck enqueue) runs the key again.
TERMINAL = frozenset({JobState.done, JobState.failed, JobState.dead, JobState.superseded})


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Mapping[str, Any] = ...) -> Cursor: ...


class Statements:
    """Every statement the store runs, in the portable subset; a dialect overrides a few."""

    # A real write: the only reliable readiness check (a read-only file, a full disk, a
    # lock, a PostgreSQL standby).
    ping = (
        "INSERT INTO meta (k, v) VALUES ('ping', :now) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    )
    prune_deliveries = "DELETE FROM deliveries WHERE seen < :cutoff"
    insert_delivery = (
        "INSERT INTO deliveries (delivery_id, seen) VALUES (:delivery_id, :now) "
        "ON CONFLICT (delivery_id) DO NOTHING"
    )
    same_key = (
        "SELECT id, state FROM jobs WHERE platform = :platform AND project = :project "
        "AND change = :change AND revision = :revision ORDER BY id DESC"
    )
    coalesce = (
        "UPDATE jobs SET payload = :payload, delivery_id = coalesce(:delivery_id, delivery_id), "
        "updated = :now WHERE id = :id"
    )
    insert_job = (
        "INSERT INTO jobs (platform, project, change, revision, state, attempts, payload, "
        "delivery_id, not_before, created, updated) VALUES (:platform, :project, :change, "
        ":revision, 'queued', 0, :payload, :delivery_id, :now, :now, :now) RETURNING id"
    )
    supersede = (
        "UPDATE jobs SET state = 'superseded', updated = :now WHERE platform = :platform "
        "AND project = :project AND change = :change AND revision <> :revision "
        "AND state = 'queued' RETURNING id"
    )
    next_ready = (
        "SELECT id, state, attempts FROM jobs WHERE (state = 'queued' AND not_before <= :now) "
        "OR (state = 'running' AND lease_expires <= :now) ORDER BY id LIMIT 1"
    )
    take = (
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = :owner, "
        "lease_expires = :expires, updated = :now WHERE id = :id RETURNING *"
    )
    crash_dead = (
        "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires = NULL, "
        "last_error = :error, updated = :now WHERE id = :id"
    )
    heartbeat = (
        "UPDATE jobs SET lease_expires = :expires, updated = :now "
        "WHERE id = :id AND lease_owner = :owner AND state = 'running'"
    )
    leased = (
        "SELECT attempts FROM jobs WHERE id = :id AND lease_owner = :owner AND state = 'running'"
    )
    complete = (
        "UPDATE jobs SET state = 'done', result = :result, lease_owner = NULL, "
        "lease_expires = NULL, updated = :now WHERE id = :id"
    )
    finish_failed = (
        "UPDATE jobs SET state = :state, last_error = :error, not_before = :not_before, "
        "lease_owner = NULL, lease_expires = NULL, updated = :now WHERE id = :id"
    )
    release = (
        "UPDATE jobs SET state = 'queued', "
        "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, lease_owner = NULL, "
        "lease_expires = NULL, updated = :now WHERE id = :id"
    )
    state_of = "SELECT state FROM jobs WHERE id = :id"
    retry = (
        "UPDATE jobs SET state = 'queued', attempts = 0, not_before = :now, lease_owner = NULL, "
        "lease_expires = NULL, updated = :now WHERE id = :id"
    )
    get = "SELECT * FROM jobs WHERE id = :id"
    newer_revision = (
        "SELECT id FROM jobs WHERE platform = :platform AND project = :project "
        "AND change = :change AND revision <> :revision AND id > :id ORDER BY id DESC LIMIT 1"
    )
    list_all = "SELECT * FROM jobs ORDER BY id DESC LIMIT :limit"
    list_state = "SELECT * FROM jobs WHERE state = :state ORDER BY id DESC LIMIT :limit"
    depth = "SELECT count(*) AS n FROM jobs WHERE state = 'queued'"
    counts = "SELECT state, count(*) AS n FROM jobs GROUP BY state"
    read_meta = "SELECT v FROM meta WHERE k = :k"
    write_meta = (
        "INSERT INTO meta (k, v) VALUES (:k, :v) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    )
    ledger = "SELECT version, name, applied FROM schema_migrations"
    record_migration = (
        "INSERT INTO schema_migrations (version, name, applied) VALUES (:version, :name, :now)"
    )
    # Whether the ledger table exists; the dialect knows where its catalogue is.
    has_ledger = ""
    has_jobs = ""

    @classmethod
    def converted(cls, placeholder: Callable[[str], str]) -> dict[str, str]:
        """Every statement with ``:name`` rewritten by ``placeholder(name)``."""
        names = [n for n in dir(cls) if not n.startswith("_") and isinstance(getattr(cls, n), str)]
        return {n: _PARAM.sub(lambda m: placeholder(m.group(1)), getattr(cls, n)) for n in names}


# `:name`, not the second colon of a `::type` cast.
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _key_params(key: JobKey) -> dict[str, str]:
    return {
        "platform": key.platform,
        "project": key.project,
        "change": key.change,
        "revision": key.revision,
    }


def _json(value: Any) -> dict[str, Any]:
    # SQLite keeps JSON as text; PostgreSQL's jsonb comes back decoded.
    return json.loads(value) if isinstance(value, str | bytes) else value


def row_to_job(row: Mapping[str, Any]) -> Job:
    return Job(
        id=int(row["id"]),
        key=JobKey(row["platform"], row["project"], row["change"], row["revision"]),
        state=JobState(row["state"]),
        attempts=row["attempts"],
        payload=_json(row["payload"]),
        delivery_id=row["delivery_id"],
        not_before=row["not_before"],
        lease_owner=row["lease_owner"],
        lease_expires=row["lease_expires"],
        result=None if row["result"] is None else _json(row["result"]),
        last_error=row["last_error"],
        created=row["created"],
        updated=row["updated"],
    )


class SqlJobStore:
    """The shared behaviour; see the module docstring for what a backend supplies."""

    dialect: ClassVar[str]  # the key of migrations.LEDGER and Migration's fields

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock
        self._rng = rng or random.Random()
        # The migrations this object applied when it opened the store (for the log).
        self.applied_at_open: tuple[int, ...] = ()
        self._subscribers: list[Callable[[], None]] = []
        self._subscribers_lock = threading.Lock()

    # --- what a backend supplies -------------------------------------------------------

    _sql: dict[str, str]  # Statements.converted(...) of the backend's Statements

    def _tx(self) -> AbstractContextManager[Connection]:
        """One write transaction; commits on exit, rolls back on an exception."""
        raise NotImplementedError

    def _read(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        raise NotImplementedError

    def _lock_change(self, conn: Connection, key: JobKey) -> None:
        """Serialise enqueues of one change across processes (SQLite's write lock does)."""

    def _lock_schema(self, conn: Connection) -> None:
        """Serialise migrations across processes (SQLite's write lock does)."""

    def _announce(self, conn: Connection) -> None:
        """Tell idle workers elsewhere that a job is ready (none to tell with SQLite)."""

    # --- the schema ----------------------------------------------------------------------

    def _ledger_rows(self, conn: Connection | None = None) -> list[tuple[int, str, float]]:
        sql = self._sql
        if conn is None:
            if not self._read(sql["has_ledger"]):
                return []
            rows = self._read(sql["ledger"])
        else:
            if not conn.execute(sql["has_ledger"]).fetchall():
                return []
            rows = conn.execute(sql["ledger"]).fetchall()
        return [(int(r["version"]), str(r["name"]), float(r["applied"])) for r in rows]

    def schema(self) -> SchemaStatus:
        """The applied and pending migrations, read without writing."""
        return status_of(self._ledger_rows())

    def has_jobs_table(self) -> bool:
        return bool(self._read(self._sql["has_jobs"]))

    def migrate(self) -> tuple[int, ...]:
        """Apply the pending migrations under the schema lock; the versions applied here
        (none when another process got there first)."""
        with self._tx() as conn:
            self._lock_schema(conn)
            conn.execute(LEDGER[self.dialect])
            status = status_of(self._ledger_rows(conn))
            self._refuse_newer(status)
            now = self._clock()
            for step in status.pending:
                for statement in getattr(step, self.dialect):
                    conn.execute(statement)
                conn.execute(
                    self._sql["record_migration"],
                    {"version": step.version, "name": step.name, "now": now},
                )
            return tuple(step.version for step in status.pending)

    def _refuse_newer(self, status: SchemaStatus) -> None:
        if status.unknown:
            raise StoreError(
                self.url,
                f"schema version {max(status.unknown)} is newer than this review-bot knows "
                f"({MIGRATIONS[-1].version}); upgrade review-bot",
            )

    def prepare_schema(self, *, create: bool) -> None:
        """At open: apply what is pending (``create``), or insist that nothing is. A
        current schema is not written to, so a read-only store still opens."""
        status = self.schema()
        self._refuse_newer(status)
        if not status.pending:
            return
        if create:
            self.applied_at_open = self.migrate()  # reads the ledger again, under the lock
        elif not status.applied and not self.has_jobs_table():
            raise StoreError(self.url, f"{self._where()} is not a review-bot store (no jobs)")
        else:
            raise StoreError(
                self.url,
                f"schema is at version {status.version}, this review-bot needs "
                f"{status.latest}: run `review-bot db migrate`",
            )

    def _where(self) -> str:
        """The store as its messages name it."""
        return repr(self.url)

    # --- wake-ups --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread) whenever a job may have become ready."""
        with self._subscribers_lock:
            self._subscribers.append(callback)

    def _notify_subscribers(self) -> None:
        with self._subscribers_lock:
            callbacks = list(self._subscribers)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one subscriber's failure must not silence the others
                log.exception("a job-ready subscriber failed")

    # --- checkpoints and leadership -------------------------------------------------------

    def read_checkpoint(self, name: str) -> str | None:
        """What a background task stored as how far it got (shared by all replicas)."""
        rows = self._read(self._sql["read_meta"], {"k": f"checkpoint:{name}"})
        return str(rows[0]["v"]) if rows else None

    def write_checkpoint(self, name: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(self._sql["write_meta"], {"k": f"checkpoint:{name}", "v": value})

    def leadership(
        self, replica: str, on_change: Callable[[bool], None] | None = None
    ) -> Leadership:
        """How this replica learns whether it leads; one process on its store always does."""
        return SoleLeader(replica, on_change)

    # --- the protocol ----------------------------------------------------------------------

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute(self._sql["ping"], {"now": str(self._clock())})

    def record_delivery(self, delivery_id: str, ttl_seconds: float) -> bool:
        now = self._clock()
        with self._tx() as conn:
            # Pruning on every call keeps the table (and the time spent here) bounded by the TTL.
            conn.execute(self._sql["prune_deliveries"], {"cutoff": now - ttl_seconds})
            cur = conn.execute(
                self._sql["insert_delivery"], {"delivery_id": delivery_id, "now": now}
            )
            return cur.rowcount == 1

    def enqueue(
        self,
        key: JobKey,
        payload: dict,
        *,
        delivery_id: str | None = None,
        recheck: bool = False,
    ) -> EnqueueResult:
        sql = self._sql
        now = self._clock()
        params: dict[str, Any] = {
            **_key_params(key),
            "payload": json.dumps(payload),
            "delivery_id": delivery_id,
            "now": now,
        }
        with self._tx() as conn:
            self._lock_change(conn, key)
            existing = conn.execute(sql["same_key"], params).fetchall()
            states = {JobState(row["state"]): row["id"] for row in reversed(existing)}
            if JobState.queued in states:
                # Not yet started: the newest event's payload wins, one run covers both.
                job_id = int(states[JobState.queued])
                conn.execute(sql["coalesce"], {**params, "id": job_id})
                return EnqueueResult(job_id, True, ())
            if existing and not recheck:
                # Running, or already finished: the same revision is not reviewed twice.
                # Failed/dead ones stay put too; `jobs retry` or a recheck runs them again.
                return EnqueueResult(int(existing[0]["id"]), True, ())
            job_id = int(conn.execute(sql["insert_job"], params).fetchone()["id"])
            superseded = tuple(
                sorted(int(row["id"]) for row in conn.execute(sql["supersede"], params).fetchall())
            )
            self._announce(conn)
            return EnqueueResult(job_id, False, superseded)

    def lease(self, owner: str, lease_seconds: float) -> Job | None:
        sql = self._sql
        now = self._clock()
        with self._tx() as conn:
            while True:
                row = conn.execute(sql["next_ready"], {"now": now}).fetchone()
                if row is None:
                    return None
                if row["state"] == JobState.running and row["attempts"] >= self.max_attempts:
                    # Its workers keep dying on it (crash, OOM): dead-letter, don't loop forever.
                    error = f"lease expired {row['attempts']} times (worker crashed?)"
                    conn.execute(sql["crash_dead"], {"id": row["id"], "error": error, "now": now})
                    continue
                taken = conn.execute(
                    sql["take"],
                    {"id": row["id"], "owner": owner, "expires": now + lease_seconds, "now": now},
                ).fetchone()
                return row_to_job(taken)

    def heartbeat(self, job_id: int, owner: str, lease_seconds: float) -> bool:
        now = self._clock()
        with self._tx() as conn:
            cur = conn.execute(
                self._sql["heartbeat"],
                {"id": job_id, "owner": owner, "expires": now + lease_seconds, "now": now},
            )
            return cur.rowcount == 1

    def _held(self, conn: Connection, job_id: int, owner: str) -> int:
        row = conn.execute(self._sql["leased"], {"id": job_id, "owner": owner}).fetchone()
        if row is None:
            raise LeaseLost(job_id, owner)
        return int(row["attempts"])

    def complete(self, job_id: int, owner: str, result: dict) -> None:
        with self._tx() as conn:
            self._held(conn, job_id, owner)
            conn.execute(
                self._sql["complete"],
                {"id": job_id, "result": json.dumps(result), "now": self._clock()},
            )

    def backoff(self, attempts: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempts-1))]."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))
        return self._rng.uniform(0.0, ceiling)

    def fail(
        self,
        job_id: int,
        owner: str,
        error: str,
        *,
        transient: bool,
        retry_after: float | None = None,
    ) -> JobState:
        now = self._clock()
        with self._tx() as conn:
            attempts = self._held(conn, job_id, owner)
            not_before = now
            if not transient:
                state = JobState.failed
            elif attempts >= self.max_attempts:
                state = JobState.dead
            else:
                state = JobState.queued
                # The server's Retry-After is a floor: retrying earlier only earns another 429.
                not_before = now + max(self.backoff(attempts), retry_after or 0.0)
            conn.execute(
                self._sql["finish_failed"],
                {
                    "id": job_id,
                    "state": state.value,
                    "error": error,
                    "not_before": not_before,
                    "now": now,
                },
            )
            return state

    def release(self, job_id: int, owner: str) -> None:
        with self._tx() as conn:
            self._held(conn, job_id, owner)
            conn.execute(self._sql["release"], {"id": job_id, "now": self._clock()})
            # Another replica may be idle while this one shuts down.
            self._announce(conn)

    def retry(self, job_id: int) -> None:
        with self._tx() as conn:
            row = conn.execute(self._sql["state_of"], {"id": job_id}).fetchone()
            if row is None:
                raise KeyError(f"no job {job_id}")
            state = JobState(row["state"])
            if state not in (JobState.dead, JobState.failed, JobState.done):
                raise UsageError(f"job {job_id} is {state}; only dead, failed or done jobs retry")
            conn.execute(self._sql["retry"], {"id": job_id, "now": self._clock()})
            self._announce(conn)

    def get(self, job_id: int) -> Job | None:
        rows = self._read(self._sql["get"], {"id": job_id})
        return row_to_job(rows[0]) if rows else None

    def newer_revision(self, job_id: int) -> int | None:
        """The id of a later job for another revision of the same change, if any.

        A running job is not superseded in the store (it may be half posted); the
        worker asks this before posting, so a stale revision is not reviewed.
        """
        job = self.get(job_id)
        if job is None:
            return None
        rows = self._read(self._sql["newer_revision"], {**_key_params(job.key), "id": job_id})
        return int(rows[0]["id"]) if rows else None

    def list(self, state: JobState | None = None, limit: int = 50) -> builtins.list[Job]:
        if state is None:
            rows = self._read(self._sql["list_all"], {"limit": limit})
        else:
            rows = self._read(self._sql["list_state"], {"state": state.value, "limit": limit})
        return [row_to_job(row) for row in rows]

    def depth(self) -> int:
        return int(self._read(self._sql["depth"])[0]["n"])

    def counts(self) -> dict[JobState, int]:
        found = {JobState(row["state"]): int(row["n"]) for row in self._read(self._sql["counts"])}
        return {state: found.get(state, 0) for state in JobState}

    def close(self) -> None:
        raise NotImplementedError
