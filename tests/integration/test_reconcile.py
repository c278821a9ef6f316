"""The reconciler's sweep (bot/service/reconcile.py): with the stub platform and a real
SQLite store for its rules, against the fake GitHub and the fake Gerrit for what each
platform lists, and end to end: a PR whose webhook never arrived is reviewed anyway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.config.models import GitHubConfig, ReconcileConfig
from bot.errors import PermanentError, TransientError
from bot.model import JobKey, JobState
from bot.platforms.base import ParsedEvent, SweepTarget
from bot.platforms.github import GitHubAdapter
from bot.platforms.stub import StubAdapter
from bot.service.metrics import Metrics
from bot.service.reconcile import SKEW_SECONDS, Reconciler
from bot.service.store import EnqueueResult
from bot.service.store.sqlite import SqliteJobStore
from tests.fakes.github import FakeGitHub
from tests.integration.github_service import GitHubService
from tests.integration.test_github import HEAD_TEST, REPO, TEST, app_key, open_pr, review_bodies

pytestmark = pytest.mark.timeout(120)

NOW = 1_800_000_000.0
INTERVAL = 600.0


class Memory:
    """A Checkpoint in memory, with every value saved."""

    def __init__(self, value: float | None = None) -> None:
        self.value = value
        self.saves: list[float] = []

    async def load(self) -> float | None:
        return self.value

    async def save(self, value: float) -> None:
        self.value = value
        self.saves.append(value)


class Sleeps:
    """An injected sleep: records each wait and advances the clock by it."""

    def __init__(self, clock: list[float], stop_after: int = 1000) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.stop_after = stop_after

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock[0] += seconds
        if len(self.waits) >= self.stop_after:
            raise asyncio.CancelledError


def event(change: str, revision: str = "r1") -> ParsedEvent:
    return ParsedEvent("stub", "demo/app", change, revision, payload={"files": {}})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteJobStore]:
    s = SqliteJobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


def enqueue_into(store: SqliteJobStore) -> Callable[[ParsedEvent], Awaitable[EnqueueResult]]:
    async def enqueue(e: ParsedEvent) -> EnqueueResult:
        key = JobKey(e.platform, e.project, e.change, e.revision)
        return store.enqueue(key, e.payload, delivery_id=e.delivery_id, recheck=e.recheck)

    return enqueue


def reconciler(
    stub: StubAdapter,
    store: SqliteJobStore,
    checkpoint: Memory,
    clock: list[float],
    sleeps: Sleeps | None = None,
    **settings: float,
) -> tuple[Reconciler, Metrics]:
    metrics = Metrics()
    r = Reconciler(
        stub,
        enqueue_into(store),
        checkpoint,
        ReconcileConfig(interval_seconds=INTERVAL, **settings),
        metrics,
        clock=lambda: clock[0],
        sleep=sleeps or Sleeps(clock),
    )
    return r, metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# --- the sweep's rules, with the stub -----------------------------------------------------------


@pytest.mark.asyncio
async def test_the_first_sweep_looks_one_interval_back_and_queues_what_no_event_did(
    store: SqliteJobStore,
) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {"demo/app": [(NOW - 100, event("1")), (NOW - 5000, event("2"))]}
    checkpoint = Memory()
    r, metrics = reconciler(stub, store, checkpoint, clock)
    result = await r.sweep(None)
    assert stub.listed == [("demo/app", NOW - INTERVAL - SKEW_SECONDS)]
    assert (result.seen, result.queued, result.outcome) == (1, 1, "ok")
    assert [j.key.change for j in store.list()] == ["1"]
    assert checkpoint.saves == [NOW]  # the start of the sweep: the next begins there
    assert sample(metrics, "review_bot_reconcile_changes_queued_total", platform="stub") == 1
    assert sample(metrics, "review_bot_reconcile_sweeps_total", platform="stub", outcome="ok") == 1


@pytest.mark.asyncio
async def test_after_a_normal_day_a_sweep_queues_nothing(store: SqliteJobStore) -> None:
    """Every change already came by webhook: queued, running or reviewed. Failed and
    dead ones wait for a re-check, as they do for a webhook."""
    clock = [NOW]
    for n in ("1", "2", "3", "4"):
        store.enqueue(JobKey("stub", "demo/app", n, "r1"), {})
    done = store.lease("w", 60)
    assert done is not None
    store.complete(done.id, done.lease_owner or "", {"posted": True})
    failed = store.lease("w", 60)
    assert failed is not None
    store.fail(failed.id, failed.lease_owner or "", "boom", transient=False)
    store.lease("w", 60)  # running
    stub = StubAdapter("t")
    stub.open = {"demo/app": [(NOW - 10, event(n)) for n in ("1", "2", "3", "4")]}
    r, _ = reconciler(stub, store, Memory(NOW - INTERVAL), clock)
    result = await r.sweep(NOW - INTERVAL)
    assert (result.seen, result.queued) == (4, 0)
    assert len(store.list()) == 4
    states = {j.key.change: j.state for j in store.list()}
    assert states == {
        "1": JobState.done,
        "2": JobState.failed,
        "3": JobState.running,
        "4": JobState.queued,
    }


@pytest.mark.asyncio
async def test_a_new_head_of_a_reviewed_change_is_queued(store: SqliteJobStore) -> None:
    store.enqueue(JobKey("stub", "demo/app", "1", "r1"), {})
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {"demo/app": [(NOW - 10, event("1", "r2"))]}
    r, _ = reconciler(stub, store, Memory(), clock)
    assert (await r.sweep(None)).queued == 1
    states = {j.key.revision: j.state for j in store.list()}
    assert states == {"r1": JobState.superseded, "r2": JobState.queued}


@pytest.mark.asyncio
async def test_a_failing_target_leaves_the_checkpoint_so_the_next_sweep_covers_it_again(
    store: SqliteJobStore,
) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {
        "a/one": PermanentError("GitHub GET /repos/{o}/{r}/pulls: 404 Not Found", 404),
        "a/two": [(NOW - 10, event("2"))],
    }
    checkpoint = Memory(NOW - INTERVAL)
    r, metrics = reconciler(stub, store, checkpoint, clock)
    result = await r.sweep(checkpoint.value)
    assert (result.failed, result.queued, result.outcome) == (1, 1, "partial")
    assert [name for name, _ in stub.listed] == ["a/one", "a/two"]  # the others still ran
    assert checkpoint.saves == []
    outcome = "partial"
    assert sample(metrics, "review_bot_reconcile_sweeps_total", platform="stub", outcome=outcome)


@pytest.mark.asyncio
async def test_a_rate_limit_ends_the_sweep_and_the_next_waits_for_it(
    store: SqliteJobStore,
) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {
        "a/one": TransientError("GitHub: rate limited", 300.0, 403),
        "a/two": [(NOW - 10, event("2"))],
    }
    sleeps = Sleeps(clock, stop_after=2)
    r, _ = reconciler(stub, store, Memory(NOW - INTERVAL), clock, sleeps, pause_seconds=0.5)
    with pytest.raises(asyncio.CancelledError):
        await r.run()
    # a/two was never listed: every call would have been refused too. Then the run waits
    # the limit's 300 s (more than the 60 s retry) before the next sweep.
    assert [name for name, _ in stub.listed] == ["a/one", "a/one"]
    assert sleeps.waits == [300.0, 300.0]
    assert store.list() == []


@pytest.mark.asyncio
async def test_listing_calls_are_paced_and_the_run_waits_out_the_interval(
    store: SqliteJobStore,
) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {f"a/r{n}": [] for n in range(3)}
    checkpoint = Memory(NOW - 100)  # the leader before swept 100 s ago
    sleeps = Sleeps(clock, stop_after=4)
    r, _ = reconciler(stub, store, checkpoint, clock, sleeps, pause_seconds=0.5)
    with pytest.raises(asyncio.CancelledError):
        await r.run()
    # First the rest of the interval, then a sweep with a pause between its 3 listings,
    # then a whole interval.
    assert sleeps.waits == [INTERVAL - 100, 0.5, 0.5, INTERVAL]
    assert checkpoint.saves == [NOW + INTERVAL - 100]


@pytest.mark.asyncio
async def test_a_sweep_never_looks_further_back_than_the_lookback(store: SqliteJobStore) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {"demo/app": []}
    r, _ = reconciler(stub, store, Memory(), clock, max_lookback_seconds=3600)
    await r.sweep(NOW - 30 * 86400)  # stopped for a month
    assert stub.listed == [("demo/app", NOW - 3600 - SKEW_SECONDS)]


@pytest.mark.asyncio
async def test_a_store_failure_fails_the_sweep_and_is_retried_soon(store: SqliteJobStore) -> None:
    clock = [NOW]
    stub = StubAdapter("t")
    stub.open = {"demo/app": [(NOW - 10, event("1"))]}
    sleeps = Sleeps(clock, stop_after=1)
    checkpoint = Memory()
    r, metrics = reconciler(stub, store, checkpoint, clock, sleeps)
    store.close()  # every enqueue now raises StoreError
    with pytest.raises(asyncio.CancelledError):
        await r.run()
    assert sleeps.waits == [60.0]
    assert checkpoint.saves == []
    failed = sample(metrics, "review_bot_reconcile_sweeps_total", platform="stub", outcome="failed")
    assert failed == 1


# --- what GitHub lists ------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


def github_adapter(fake: FakeGitHub, **settings: object) -> GitHubAdapter:
    config = GitHubConfig(
        enabled=True,
        api_url=fake.base_url,
        token="test-token",
        webhook_secret="s",
        **settings,  # type: ignore[arg-type]
    )
    return GitHubAdapter(config)


@pytest.mark.asyncio
async def test_github_token_auth_sweeps_the_configured_repos_updated_since(
    fake: FakeGitHub,
) -> None:
    old = open_pr(fake, number=1)
    old.updated = time.time() - 7200
    fresh = open_pr(fake, number=2)
    open_pr(fake, number=3, draft=True)  # a draft, and review_drafts is off
    closed = open_pr(fake, number=4)
    closed.state = "closed"
    adapter = github_adapter(fake, repos=[REPO])
    (target,) = await adapter.sweep_targets()
    assert target == SweepTarget(REPO, None)
    found = await adapter.open_changes(target, time.time() - 3600)
    assert [(e.change, e.revision) for e in found] == [("2", fresh.head)]
    assert found[0].payload["base"] == fresh.base and found[0].payload["installation"] is None
    (listing,) = fake.calls("GET", r"/pulls$")
    assert listing.query == {
        "per_page": "100",
        "state": "open",
        "sort": "updated",
        "direction": "desc",
    }


@pytest.mark.asyncio
async def test_github_listing_stops_at_the_first_page_older_than_since(fake: FakeGitHub) -> None:
    now = time.time()
    for n in range(1, 251):  # three pages of 100
        open_pr(fake, number=n).updated = now - n * 60
    adapter = github_adapter(fake, repos=[REPO])
    found = await adapter.open_changes(SweepTarget(REPO), now - 150 * 60 - 1)
    assert sorted(int(e.change) for e in found) == list(range(1, 151))
    assert len(fake.calls("GET", r"/pulls$")) == 2  # page 3 holds only older ones


@pytest.mark.asyncio
async def test_github_token_auth_without_repos_sweeps_nothing(fake: FakeGitHub) -> None:
    assert await github_adapter(fake).sweep_targets() == []


@pytest.mark.asyncio
async def test_github_app_sweeps_every_installations_repositories(tmp_path: Path) -> None:
    fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp_path)).start()
    try:
        fake.installations = {1: [REPO, "o/other"], 5: ["p/third"]}
        pr = open_pr(fake, number=9)
        config = GitHubConfig(
            enabled=True,
            api_url=fake.base_url,
            app_id=2,
            private_key=(tmp_path / "app.pem").read_text(),
            webhook_secret="s",
        )
        adapter = GitHubAdapter(config)
        targets = await adapter.sweep_targets()
        assert targets == [
            SweepTarget(REPO, 1),
            SweepTarget("o/other", 1),
            SweepTarget("p/third", 5),
        ]
        (found,) = await adapter.open_changes(targets[0], time.time() - 60)
        assert (found.change, found.revision, found.payload["installation"]) == ("9", pr.head, 1)
    finally:
        fake.stop()
    assert all(r.auth.startswith("Bearer ") for r in fake.calls("GET", r"/app/installations$"))
    assert fake.schema_errors == []


@pytest.mark.asyncio
async def test_the_fake_refuses_a_sort_github_does_not_know(fake: FakeGitHub) -> None:
    # The listing's parameters are checked: a typo in the client would be a 422.
    adapter = github_adapter(fake, repos=[REPO])
    with pytest.raises(PermanentError) as err:
        adapter.client.pages(
            None, "GET /repos/{o}/{r}/pulls", f"/repos/{REPO}/pulls", {"sort": "x"}
        )
    assert err.value.status == 422


# --- end to end -------------------------------------------------------------------------------


def test_a_pr_whose_webhook_never_arrived_is_reviewed_by_the_sweep(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    """The delivery was lost (answered 503 while the store was down, which GitHub never
    redelivers): the leader's first sweep finds the PR and reviews its head, once."""
    pr = open_pr(fake, head=HEAD_TEST)
    extra = "reconcile: {interval_seconds: 10, pause_seconds: 0}\n"
    with GitHubService(tmp_path, fake, extra=extra, reconcile=True, repos=[REPO]) as svc:
        deadline = time.monotonic() + 60
        store = svc.store()
        try:
            while not (jobs := store.list()) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            store.close()
        assert len(jobs) == 1, "the sweep queued nothing"
        job = svc.wait_job(jobs[0].id)
        assert job.state is JobState.done, job.last_error
        assert job.key.revision == pr.head
        metrics = svc.metrics()
    (review,) = review_bodies(fake)
    assert review["commit_id"] == pr.head
    assert [c["path"] for c in review["comments"]] == [TEST]
    assert 'review_bot_reconcile_changes_queued_total{platform="github"} 1.0' in metrics


def test_a_gerrit_sweep_queues_what_its_events_would_and_skips_a_trivial_rebase(
    tmp_path: Path,
) -> None:
    from tests.fakes.gerrit import FakeGerrit
    from tests.integration.gerrit_service import GerritService
    from tests.integration.test_gerrit import new_change, reviews

    with FakeGerrit() as fake:
        reworked = new_change(fake)
        rebased = new_change(fake)
        fake.upload(rebased, {}, kind="TRIVIAL_REBASE")
        extra = "reconcile: {interval_seconds: 10, pause_seconds: 0}\n"
        with GerritService(tmp_path, fake, extra=extra, reconcile=True) as svc:
            deadline = time.monotonic() + 60
            store = svc.store()
            try:
                while not (jobs := store.list()) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)  # the one sweep queued all it would
                jobs = store.list()
            finally:
                store.close()
            assert [j.key.change for j in jobs] == [str(reworked)]
            assert svc.wait_job(jobs[0].id).state is JobState.done
        assert len(reviews(fake, reworked)) == 1 and reviews(fake, rebased) == []
