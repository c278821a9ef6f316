"""Which replica leads, on a real PostgreSQL server: the session advisory lock of
bot/service/store/leader.py, and the app that runs the platforms' background tasks (the
Gerrit stream) on the leader only, resuming from the checkpoint the last leader stored."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config.models import Config
from bot.platforms.base import AdapterRegistry, BackgroundTask, Checkpoint, EventSink
from bot.platforms.stub import StubAdapter
from bot.service.app import create_app
from bot.service.metrics import Metrics
from bot.service.store.leader import AdvisoryLockLeader, SoleLeader
from bot.service.store.postgres import LEADER_LOCK, LOCKS, PostgresJobStore
from tests.pg_cluster import PgCluster

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio]

FAST = {"retry_seconds": 0.1, "check_seconds": 0.1}


async def until(what: str, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    assert predicate(), what


class Candidate:
    """One replica's election: what its lead() saw, and its on_change calls."""

    def __init__(self, url: str, password: str, name: str, **timing: float) -> None:
        self.changes: list[bool] = []
        self.leads = 0
        self.leader = AdvisoryLockLeader(
            url,
            {"password": password},
            (LOCKS, LEADER_LOCK),
            name,
            on_change=self.changes.append,
            **(timing or FAST),
        )
        self.task: asyncio.Task[None] | None = None
        self.lead_ends: Callable[[], Awaitable[None]] = lambda: asyncio.Event().wait()

    async def _lead(self) -> None:
        self.leads += 1
        await self.lead_ends()

    def start(self) -> Candidate:
        self.task = asyncio.create_task(self.leader.run(self._lead))
        return self

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def candidates(url: str, password: str, *names: str) -> AsyncIterator[list[Candidate]]:
    running = [Candidate(url, password, name).start() for name in names]
    try:
        yield running
    finally:
        for c in running:
            await c.stop()


def leaders(running: list[Candidate]) -> list[str]:
    return [c.leader.replica for c in running if c.leader.leading]


async def test_sole_leader_leads_at_once_and_stops_with_its_task() -> None:
    changes: list[bool] = []
    sole = SoleLeader("only", changes.append)
    started = asyncio.Event()

    async def lead() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(sole.run(lead))
    await asyncio.wait_for(started.wait(), 5)
    assert sole.leading and changes == [True]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not sole.leading and changes == [True, False]


async def test_of_three_replicas_exactly_one_leads(pg_url: str, pg_password: str) -> None:
    async with candidates(pg_url, pg_password, "a", "b", "c") as running:
        await until("a leader", lambda: len(leaders(running)) == 1)
        await asyncio.sleep(0.5)  # several retry rounds: nobody else gets the lock
        assert len(leaders(running)) == 1
        assert sum(c.leads for c in running) == 1


async def test_a_stopped_leader_hands_over_to_a_follower(pg_url: str, pg_password: str) -> None:
    async with candidates(pg_url, pg_password, "a", "b") as running:
        await until("a leader", lambda: len(leaders(running)) == 1)
        first = next(c for c in running if c.leader.leading)
        other = next(c for c in running if c is not first)
        await first.stop()
        assert first.changes == [True, False]
        await until("the follower to lead", lambda: other.leader.leading)
        assert other.changes == [True]


async def test_a_leader_whose_session_is_killed_steps_down_and_another_leads(
    pg_url: str, pg_password: str, pg_cluster: PgCluster
) -> None:
    """The database ended the leader's session (an admin, a network cut that the keepalive
    found): the lock is gone with it, so the old leader must stop leading by itself."""
    async with candidates(pg_url, pg_password, "a", "b") as running:
        await until("a leader", lambda: len(leaders(running)) == 1)
        first = next(c for c in running if c.leader.leading)
        holder = pg_cluster.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND granted",
            (LOCKS, LEADER_LOCK),
        )
        assert len(holder) == 1
        pg_cluster.execute("SELECT pg_terminate_backend(%s)", (holder[0][0],))
        await until("the old leader to step down", lambda: first.changes[:2] == [True, False])
        await until("one leader again", lambda: len(leaders(running)) == 1)
        assert sum(c.leads for c in running) == 2


async def test_a_leader_whose_tasks_end_steps_down_and_campaigns_again(
    pg_url: str, pg_password: str
) -> None:
    c = Candidate(pg_url, pg_password, "a")
    ends = asyncio.Event()

    async def lead_until_told() -> None:
        await ends.wait()
        raise RuntimeError("the stream gave up")

    c.lead_ends = lead_until_told
    c.start()
    try:
        await until("leading", lambda: c.leader.leading)
        ends.set()
        await until("a second term", lambda: c.leads == 2)
        assert c.changes[:3] == [True, False, True]
    finally:
        await c.stop()


async def test_while_the_database_is_down_nobody_leads_and_after_it_one_does(
    own_pg_cluster: PgCluster,
) -> None:
    url = own_pg_cluster.url()
    async with candidates(url, own_pg_cluster.password, "a", "b") as running:
        await until("a leader", lambda: len(leaders(running)) == 1)
        own_pg_cluster.stop()
        await until("no leader", lambda: leaders(running) == [])
        own_pg_cluster.start()
        await until("a leader again", lambda: len(leaders(running)) == 1)


async def test_a_wrong_password_is_retried_and_never_leads(pg_url: str) -> None:
    async with candidates(pg_url, "not-the-password", "a") as running:
        await asyncio.sleep(0.5)
        assert leaders(running) == [] and running[0].changes == []


# --- the app: background tasks on the leader only ---------------------------------------------


class StreamingStub(StubAdapter):
    """A stub whose one background task stands in for the Gerrit stream: it records that
    it runs, resumes from its checkpoint and stores its progress."""

    def __init__(self, name: str) -> None:
        super().__init__("token")
        self.replica = name
        self.resumed_from: list[float | None] = []
        self.running = False

    def background_tasks(self) -> list[BackgroundTask]:
        return [self._stream]

    async def _stream(self, sink: EventSink, checkpoint: Checkpoint) -> None:
        self.resumed_from.append(await checkpoint.load())
        self.running = True
        try:
            await checkpoint.save(1000.0 + len(self.resumed_from))
            await asyncio.Event().wait()
        finally:
            self.running = False


class Replica:
    def __init__(self, url: str, password: str, name: str) -> None:
        self.store = PostgresJobStore(url, password=password)
        self.metrics = Metrics()
        self.adapter = StreamingStub(name)
        leadership = AdvisoryLockLeader(
            url,
            {"password": password},
            (LOCKS, LEADER_LOCK),
            name,
            on_change=self.metrics.leadership_hook(name),
            **FAST,
        )
        app = create_app(
            Config(),
            self.store,
            AdapterRegistry([self.adapter]),
            metrics=self.metrics,
            leadership=leadership,
        )
        self.server = TestServer(app, host="127.0.0.1", port=0)

    async def readyz(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.server.make_url("/readyz")) as resp:
            body: dict[str, Any] = await resp.json()
            return body

    def gauge(self) -> float | None:
        return self.metrics.registry.get_sample_value(
            "review_bot_leader", {"replica": self.adapter.replica}
        )

    async def close(self) -> None:
        await self.server.close()
        self.store.close()


async def test_only_the_leader_runs_background_tasks_and_its_successor_resumes(
    pg_url: str, pg_password: str
) -> None:
    a, b = Replica(pg_url, pg_password, "a"), Replica(pg_url, pg_password, "b")
    try:
        await a.server.start_server()
        await until("a to stream", lambda: a.adapter.running)
        await b.server.start_server()
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(0.5)  # b campaigns several times meanwhile
            assert not b.adapter.running and b.adapter.resumed_from == []
            assert a.adapter.resumed_from == [None]  # the first leader ever: nothing stored
            # readyz has no worker here, so it is 503; the replica fields are there anyway.
            ready_b = await b.readyz(session)
            assert (ready_b["replica"], ready_b["leading"], ready_b["leader"]) == ("b", False, "a")
            assert a.gauge() == 1 and b.gauge() == 0
            await a.close()
            await until("b to stream", lambda: b.adapter.running)
            assert b.adapter.resumed_from == [1001.0]  # where a got to
            ready_b = await b.readyz(session)
            assert (ready_b["leading"], ready_b["leader"]) == (True, "b")
            assert b.gauge() == 1
            assert (
                b.metrics.registry.get_sample_value(
                    "review_bot_leader_elected_total", {"replica": "b"}
                )
                == 1
            )
    finally:
        for r in (a, b):
            with contextlib.suppress(Exception):
                await r.close()
