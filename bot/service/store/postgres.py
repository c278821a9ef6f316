"""The PostgreSQL job store: `SqlJobStore` on psycopg 3 and its connection pool, for replicas.

The coordination is PostgreSQL's own:
- a worker leases with ``SELECT ... FOR UPDATE SKIP LOCKED``, so replicas never wait on,
  or take, each other's job;
- an enqueue holds a transaction-scoped advisory lock on its change, so two replicas
  taking events of one change coalesce and supersede as one process would;
- an enqueue sends ``NOTIFY``; every replica LISTENs on its own connection and wakes its
  idle worker at once instead of at its next poll;
- migrations run under a transaction-scoped advisory lock (see migrations.py).

Driver errors become a `StoreError` naming the URL (never the password), which is what
`/readyz` and a refused webhook report; the pool replaces broken connections by itself,
so a restarted server is used again without a restart of ours.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.model import JobKey
from bot.service.store.leader import AdvisoryLockLeader, Leadership
from bot.service.store.sql import SqlJobStore, Statements

log = logging.getLogger("bot.service.store")

CHANNEL = "review_bot_jobs"
# Advisory lock keys (two int4 keys): a namespace of ours, then what is locked.
LOCKS = 0x52_42_00  # "RB"
SCHEMA_LOCK = 1
LEADER_LOCK = 2
CHANGE_LOCKS = 0x52_42_01  # second key: a hash of platform, project and change
CONNECT_SECONDS = 10.0
# How long a webhook or a worker waits for a pooled connection before the store counts as
# down: short, so that a delivery is answered 503 well inside GitHub's 10 s.
POOL_WAIT_SECONDS = 5.0
RECONNECT_SECONDS = 10.0
LISTEN_RETRY_SECONDS = (0.2, 5.0)  # the listener's reconnect backoff, first and most


class _PostgresStatements(Statements):
    # Wait for a running lease of this key to settle, then see its new state.
    same_key = Statements.same_key + " FOR UPDATE"
    next_ready = Statements.next_ready + " FOR UPDATE SKIP LOCKED"
    has_ledger = "SELECT 1 AS found WHERE to_regclass('schema_migrations') IS NOT NULL"
    has_jobs = "SELECT 1 AS found WHERE to_regclass('jobs') IS NOT NULL"
    lock = "SELECT pg_advisory_xact_lock(:space, :key)"
    announce = f"SELECT pg_notify('{CHANNEL}', '')"


_SQL = _PostgresStatements.converted(lambda name: f"%({name})s")


def _change_lock(key: JobKey) -> int:
    """A change's advisory lock key: a signed int4 that is the same in every replica
    (Python's hash() is salted per process). Two changes that share one only wait."""
    name = "\0".join((key.platform, key.project, key.change)).encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=4).digest(), "big", signed=True)


def _reason(exc: BaseException) -> str:
    # libpq's messages can span lines ("connection refused\n\tIs the server running...").
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


class PostgresJobStore(SqlJobStore):
    dialect: ClassVar[str] = "postgres"
    _sql = _SQL

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        pool_size: int = 10,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        create: bool = True,
        check_schema: bool = True,
    ) -> None:
        """``create`` applies pending migrations; without it the schema must be current.
        ``check_schema=False`` leaves the schema as it is (`db status` reports on it)."""
        super().__init__(
            url,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            clock=clock,
            rng=rng,
        )
        self._connect_args: dict[str, Any] = {
            "password": password,
            "application_name": "review-bot",
            "connect_timeout": int(CONNECT_SECONDS),
        }
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None
        # One direct connection first: a wrong password or a missing database is reported
        # as itself, where a pool would only time out.
        try:
            psycopg.connect(url, **self._connect_args).close()
        except psycopg.Error as exc:
            raise StoreError(url, f"cannot connect: {_reason(exc)}") from None
        self._pool = ConnectionPool(
            url,
            kwargs={**self._connect_args, "row_factory": dict_row},
            min_size=1,
            max_size=pool_size,
            timeout=POOL_WAIT_SECONDS,
            # A connection broken by a server restart is found and replaced at checkout.
            check=ConnectionPool.check_connection,
            # The pool retries a failed connect with doubling delays for this long, then
            # gives up until the next request asks again: a short span keeps the delays
            # (and so the wait after the server is back) to a few seconds, not minutes.
            reconnect_timeout=RECONNECT_SECONDS,
            name="review-bot-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
            if check_schema:
                self.prepare_schema(create=create)
        except BaseException:
            self._pool.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except PoolTimeout as exc:
            raise StoreError(self.url, f"unreachable: {_reason(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(self.url, _reason(exc)) from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection]:
        # The pool's context commits on a clean exit and rolls back on an exception.
        with self._errors(), self._pool.connection() as conn:
            yield conn

    def _read(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        with self._errors(), self._pool.connection() as conn:
            return conn.execute(statement, params or {}).fetchall()

    def _lock_change(self, conn: psycopg.Connection, key: JobKey) -> None:
        conn.execute(self._sql["lock"], {"space": CHANGE_LOCKS, "key": _change_lock(key)})

    def _lock_schema(self, conn: psycopg.Connection) -> None:
        conn.execute(self._sql["lock"], {"space": LOCKS, "key": SCHEMA_LOCK})

    def _announce(self, conn: psycopg.Connection) -> None:
        # Delivered at commit, to every session listening, this one's included.
        conn.execute(self._sql["announce"])

    def leadership(
        self, replica: str, on_change: Callable[[bool], None] | None = None
    ) -> Leadership:
        return AdvisoryLockLeader(
            self.url, self._connect_args, (LOCKS, LEADER_LOCK), replica, on_change=on_change
        )

    # --- LISTEN ----------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> None:
        super().subscribe(callback)
        if self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, name="review-bot-listen", daemon=True
            )
            self._listener.start()

    def _listen(self) -> None:
        """LISTEN on a connection of its own, outside the pool (it is never idle-free),
        reconnecting with backoff; each notification wakes the subscribers."""
        delay = LISTEN_RETRY_SECONDS[0]
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, **self._connect_args) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    delay = LISTEN_RETRY_SECONDS[0]
                    # Whatever was queued while nobody listened is found by a lease now.
                    self._notify_subscribers()
                    while not self._closed.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._notify_subscribers()
            except psycopg.Error as exc:
                if self._closed.is_set():
                    return
                log.warning("job notifications: %s; reconnecting", _reason(exc))
                self._closed.wait(delay)
                delay = min(delay * 2, LISTEN_RETRY_SECONDS[1])

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.join(timeout=5.0)
        self._pool.close()
