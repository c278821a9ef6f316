"""The SQLite job store: the stdlib-sqlite3 implementation of ``JobStore``.

All SQL lives in `_SQL` so a PostgreSQL store can follow the same statements (named parameters,
`RETURNING`, one transaction per method) with only the dialect changed.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from bot.errors import LeaseLost, StoreError, UsageError
from bot.model import Job, JobKey, JobState
from bot.service.store import EnqueueResult

# RETURNING (3.35) and upserts (3.24) are used below; PostgreSQL has both too.
MIN_SQLITE = (3, 35, 0)


# States a job never leaves on its own; only `retry` (or a recheck enqueue) runs the key again.
TERMINAL = frozenset({JobState.done, JobState.failed, JobState.dead, JobState.superseded})


class _SQL:
    """Every statement the store runs. Named parameters; portable apart from the DDL types."""

    schema = (
        """CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL, project TEXT NOT NULL,
            change TEXT NOT NULL, revision TEXT NOT NULL,
            state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            payload TEXT NOT NULL, delivery_id TEXT,
            not_before REAL NOT NULL, lease_owner TEXT, lease_expires REAL,
            result TEXT, last_error TEXT,
            created REAL NOT NULL, updated REAL NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before, id)",
        "CREATE INDEX IF NOT EXISTS jobs_change ON jobs (platform, project, change, state)",
        "CREATE TABLE IF NOT EXISTS deliveries (delivery_id TEXT PRIMARY KEY, seen REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS deliveries_seen ON deliveries (seen)",
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    )
    has_schema = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
    # A real write: the only reliable readiness check (a read-only open, a full disk, a lock).
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
        "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), lease_owner = NULL, "
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
    depth = "SELECT count(*) FROM jobs WHERE state = 'queued'"
    counts = "SELECT state, count(*) FROM jobs GROUP BY state"


def _key_params(key: JobKey) -> dict[str, str]:
    return {
        "platform": key.platform,
        "project": key.project,
        "change": key.change,
        "revision": key.revision,
    }


def _row_to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        key=JobKey(row["platform"], row["project"], row["change"], row["revision"]),
        state=JobState(row["state"]),
        attempts=row["attempts"],
        payload=json.loads(row["payload"]),
        delivery_id=row["delivery_id"],
        not_before=row["not_before"],
        lease_owner=row["lease_owner"],
        lease_expires=row["lease_expires"],
        result=None if row["result"] is None else json.loads(row["result"]),
        last_error=row["last_error"],
        created=row["created"],
        updated=row["updated"],
    )


def _parse_url(url: str) -> tuple[str, bool]:
    """Store url -> (sqlite3 URI filename, read_only). Accepts sqlite:///rel.db,
    sqlite:////abs.db, sqlite:///:memory:, and an optional ?mode=ro|rw|rwc."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise StoreError(
            url, f"unsupported scheme {scheme!r}; expected sqlite:///path.db or sqlite:///:memory:"
        )
    rest, _, query = url[len(prefix) :].partition("?")
    params = parse_qs(query, keep_blank_values=True)
    unknown = set(params) - {"mode"}
    if unknown:
        raise StoreError(url, f"unsupported query parameter(s): {', '.join(sorted(unknown))}")
    mode = params.get("mode", ["rwc"])[-1]
    if mode not in ("ro", "rw", "rwc"):
        raise StoreError(url, f"unsupported mode {mode!r}; expected ro, rw or rwc")
    if not rest:
        raise StoreError(url, "no database path")
    if rest == ":memory:":
        # A private in-memory database; "mode" is meaningless there.
        return ":memory:", False
    path = Path(rest)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise StoreError(url, f"cannot create the database: directory {str(parent)!r} {what}")
    if path.is_dir():
        raise StoreError(url, f"{rest!r} is a directory, not a database file")
    return f"file:{quote(str(path.absolute()))}?mode={mode}", mode == "ro"


def _file_of(target: str) -> Path | None:
    if target == ":memory:":
        return None
    return Path(unquote(target.removeprefix("file:").partition("?")[0]))


class SqliteJobStore:
    """SQLite job store: one connection per object, serialised by a lock (the aiohttp server
    calls it from executor threads); BEGIN IMMEDIATE makes every read-modify-write atomic
    across processes sharing the file."""

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        durability: str = "process",
        create: bool = True,
    ) -> None:
        """``create=False`` opens an existing store only (the CLI's reading commands):
        no file, or a file without the jobs table, is a StoreError and nothing is made."""
        if durability not in ("process", "power"):
            raise ValueError("durability must be 'process' or 'power'")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        target, self.read_only = _parse_url(url)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                url, f"SQLite {sqlite3.sqlite_version} is too old; 3.35 or newer is needed"
            )
        self.path = _file_of(target)
        if not create:
            target = self._existing(target)
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            self._conn = sqlite3.connect(
                target,
                uri=target != ":memory:",
                timeout=10.0,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(url, f"cannot open: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA busy_timeout = 10000")
            if not self.read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL already survives a killed process (the kill -9 test);
            # FULL also survives power loss, at an fsync per commit: measured with
            # bench/webhook_load.py, p99 ack latency 45 ms with NORMAL, 100 ms with FULL.
            sync = "FULL" if durability == "power" else "NORMAL"
            self._conn.execute(f"PRAGMA synchronous = {sync}")
            if create:
                self._init_schema()
            elif not self._conn.execute(_SQL.has_schema).fetchone()[0]:
                raise StoreError(url, f"{str(self.path)!r} is not a review-bot store (no jobs)")
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(url, f"cannot initialise: {exc}") from exc
        except StoreError:
            self._conn.close()
            raise

    def _existing(self, target: str) -> str:
        """``target`` opened without creating: the file must be there already."""
        if self.path is None:
            raise StoreError(self.url, "an in-memory store holds no jobs of another process")
        if not self.path.is_file():
            raise StoreError(
                self.url,
                f"no store at {str(self.path)!r}; storage.url must name the store "
                "that review-bot serve writes",
            )
        # mode=rw: should the file vanish meanwhile, SQLite must not make a new one.
        return target.replace("?mode=rwc", "?mode=rw")

    def _init_schema(self) -> None:
        if self._conn.execute(_SQL.has_schema).fetchone()[0]:
            return  # existing store: no write needed, so a read-only one still opens for ping
        with self._tx():
            for statement in _SQL.schema:
                self._conn.execute(statement)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One locked write transaction; BEGIN IMMEDIATE takes the database write lock up
        front so a concurrent process can't slip in between our SELECT and UPDATE."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may already have rolled back
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: dict[str, Any] | None = None) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params or {}).fetchall()

    def ping(self) -> None:
        # An open connection keeps writing to a file chmod-ed read-only after it was opened,
        # so ask the file system too (root passes this; the write below still runs).
        if self.path is not None and not os.access(self.path, os.W_OK):
            raise StoreError(self.url, f"not writable: {str(self.path)!r} is read-only")
        try:
            with self._tx() as conn:
                conn.execute(_SQL.ping, {"now": str(self._clock())})
        except sqlite3.Error as exc:
            raise StoreError(self.url, f"not writable: {exc}") from exc

    def record_delivery(self, delivery_id: str, ttl_seconds: float) -> bool:
        now = self._clock()
        with self._tx() as conn:
            # Pruning on every call keeps the table (and the time spent here) bounded by the TTL.
            conn.execute(_SQL.prune_deliveries, {"cutoff": now - ttl_seconds})
            cur = conn.execute(_SQL.insert_delivery, {"delivery_id": delivery_id, "now": now})
            return cur.rowcount == 1

    def enqueue(
        self,
        key: JobKey,
        payload: dict,
        *,
        delivery_id: str | None = None,
        recheck: bool = False,
    ) -> EnqueueResult:
        now = self._clock()
        params: dict[str, Any] = {
            **_key_params(key),
            "payload": json.dumps(payload),
            "delivery_id": delivery_id,
            "now": now,
        }
        with self._tx() as conn:
            existing = conn.execute(_SQL.same_key, params).fetchall()
            states = {JobState(row["state"]): row["id"] for row in reversed(existing)}
            if JobState.queued in states:
                # Not yet started: the newest event's payload wins, one run covers both.
                job_id = states[JobState.queued]
                conn.execute(_SQL.coalesce, {**params, "id": job_id})
                return EnqueueResult(job_id, True, ())
            if existing and not recheck:
                # Running, or already finished: the same revision is not reviewed twice.
                # Failed/dead ones stay put too; `jobs retry` or a recheck runs them again.
                return EnqueueResult(existing[0]["id"], True, ())
            job_id = conn.execute(_SQL.insert_job, params).fetchone()[0]
            superseded = tuple(
                sorted(row[0] for row in conn.execute(_SQL.supersede, params).fetchall())
            )
            return EnqueueResult(job_id, False, superseded)

    def lease(self, owner: str, lease_seconds: float) -> Job | None:
        now = self._clock()
        with self._tx() as conn:
            while True:
                row = conn.execute(_SQL.next_ready, {"now": now}).fetchone()
                if row is None:
                    return None
                if row["state"] == JobState.running and row["attempts"] >= self.max_attempts:
                    # Its workers keep dying on it (crash, OOM): dead-letter, don't loop forever.
                    error = f"lease expired {row['attempts']} times (worker crashed?)"
                    conn.execute(_SQL.crash_dead, {"id": row["id"], "error": error, "now": now})
                    continue
                taken = conn.execute(
                    _SQL.take,
                    {"id": row["id"], "owner": owner, "expires": now + lease_seconds, "now": now},
                ).fetchone()
                return _row_to_job(taken)

    def heartbeat(self, job_id: int, owner: str, lease_seconds: float) -> bool:
        now = self._clock()
        with self._tx() as conn:
            cur = conn.execute(
                _SQL.heartbeat,
                {"id": job_id, "owner": owner, "expires": now + lease_seconds, "now": now},
            )
            return cur.rowcount == 1

    def _held(self, conn: sqlite3.Connection, job_id: int, owner: str) -> int:
        row = conn.execute(_SQL.leased, {"id": job_id, "owner": owner}).fetchone()
        if row is None:
            raise LeaseLost(job_id, owner)
        return int(row["attempts"])

    def complete(self, job_id: int, owner: str, result: dict) -> None:
        with self._tx() as conn:
            self._held(conn, job_id, owner)
            conn.execute(
                _SQL.complete, {"id": job_id, "result": json.dumps(result), "now": self._clock()}
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
                _SQL.finish_failed,
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
            conn.execute(_SQL.release, {"id": job_id, "now": self._clock()})

    def retry(self, job_id: int) -> None:
        with self._tx() as conn:
            row = conn.execute(_SQL.state_of, {"id": job_id}).fetchone()
            if row is None:
                raise KeyError(f"no job {job_id}")
            state = JobState(row["state"])
            if state not in (JobState.dead, JobState.failed, JobState.done):
                raise UsageError(f"job {job_id} is {state}; only dead, failed or done jobs retry")
            conn.execute(_SQL.retry, {"id": job_id, "now": self._clock()})

    def get(self, job_id: int) -> Job | None:
        rows = self._read(_SQL.get, {"id": job_id})
        return _row_to_job(rows[0]) if rows else None

    def newer_revision(self, job_id: int) -> int | None:
        """The id of a later job for another revision of the same change, if any.

        A running job is not superseded in the store (it may be half posted); the
        worker asks this before posting, so a stale revision is not reviewed.
        """
        job = self.get(job_id)
        if job is None:
            return None
        k = job.key
        rows = self._read(
            _SQL.newer_revision,
            {
                "platform": k.platform,
                "project": k.project,
                "change": k.change,
                "revision": k.revision,
                "id": job_id,
            },
        )
        return int(rows[0][0]) if rows else None

    def list(self, state: JobState | None = None, limit: int = 50) -> builtins.list[Job]:
        if state is None:
            rows = self._read(_SQL.list_all, {"limit": limit})
        else:
            rows = self._read(_SQL.list_state, {"state": state.value, "limit": limit})
        return [_row_to_job(row) for row in rows]

    def depth(self) -> int:
        return int(self._read(_SQL.depth)[0][0])

    def counts(self) -> dict[JobState, int]:
        found = {JobState(row[0]): int(row[1]) for row in self._read(_SQL.counts)}
        return {state: found.get(state, 0) for state in JobState}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
