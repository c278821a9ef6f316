"""Which replica leads: the one that runs what must run once (Gerrit's SSH stream).

With PostgreSQL the leader is whoever holds a session-level advisory lock, on a connection
of its own; PostgreSQL releases the lock the moment that session ends, so a replica that
is killed or loses the database hands over without anyone's say. A follower asks for the
lock every ``retry_seconds``. The leader checks its connection every ``check_seconds``
and steps down (cancelling what it runs) when the check fails. The session asks the
server to probe the connection with TCP keepalives, so that a leader whose host vanished
is dropped, and the lock freed, within about ``KEEPALIVE`` seconds, not the system's hours.

With SQLite there is one process, and it always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger("bot.service.leader")

Lead = Callable[[], Awaitable[None]]


class Leadership(Protocol):
    replica: str

    @property
    def leading(self) -> bool: ...

    async def run(self, lead: Lead) -> None:
        """Campaign until cancelled: run ``lead()`` while this replica leads, cancel it as
        soon as it does not. ``on_change(leading)`` hooks see each change."""
        ...


class SoleLeader:
    """One process on its store: it leads from the start."""

    def __init__(self, replica: str, on_change: Callable[[bool], None] | None = None) -> None:
        self.replica = replica
        self._on_change = on_change or (lambda leading: None)
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    async def run(self, lead: Lead) -> None:
        self._leading = True
        self._on_change(True)
        try:
            await lead()
        finally:
            self._leading = False
            self._on_change(False)


# Server-side TCP keepalive of the leader's session: idle, interval (s) and count; about
# idle + interval * count seconds after its host is gone, the server ends the session.
KEEPALIVE = (5, 2, 3)


class AdvisoryLockLeader:
    """The PostgreSQL election; see the module docstring."""

    def __init__(
        self,
        url: str,
        connect_args: dict[str, Any],
        lock: tuple[int, int],
        replica: str,
        *,
        on_change: Callable[[bool], None] | None = None,
        retry_seconds: float = 2.0,
        check_seconds: float = 2.0,
    ) -> None:
        self.url = url
        self.replica = replica
        self._connect_args = connect_args
        self._lock = lock
        self._on_change = on_change or (lambda leading: None)
        self._retry = retry_seconds
        self._check = check_seconds
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    async def run(self, lead: Lead) -> None:
        import psycopg

        while True:
            try:
                await self._campaign(lead)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.warning(
                    "leader election: %s; trying again in %.0fs",
                    " ".join(str(exc).split()) or type(exc).__name__,
                    self._retry,
                    extra={"replica": self.replica},
                )
            await asyncio.sleep(self._retry)

    async def _campaign(self, lead: Lead) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, **self._connect_args
        )
        async with conn:
            idle, interval, count = KEEPALIVE
            await conn.execute(f"SET tcp_keepalives_idle = {idle}")
            await conn.execute(f"SET tcp_keepalives_interval = {interval}")
            await conn.execute(f"SET tcp_keepalives_count = {count}")
            while True:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self._lock)
                row = await cur.fetchone()
                if row is not None and row[0]:
                    await self._lead(conn, lead)
                    return  # a fresh connection for the next campaign: the lock is gone
                await asyncio.sleep(self._retry)

    async def _lead(self, conn: Any, lead: Lead) -> None:
        self._leading = True
        self._on_change(True)
        log.info("leading", extra={"replica": self.replica})
        task = asyncio.create_task(lead(), name="leader-tasks")
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._check)
                if done:
                    # What it runs should run for ever; ending is a fault: let another try.
                    exc = None if task.cancelled() else task.exception()
                    log.error(
                        "leader tasks ended (%s); stepping down",
                        exc or "returned",
                        extra={"replica": self.replica},
                    )
                    return
                # No answer in time: the database may already count us gone.
                await asyncio.wait_for(conn.execute("SELECT 1"), self._check)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            self._leading = False
            self._on_change(False)
            log.info("not leading", extra={"replica": self.replica})
