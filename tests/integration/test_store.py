"""The durable job store, one behaviour on both backends: every test here runs on SQLite
and on a real PostgreSQL server (tests/pg_cluster.py). Coalescing, supersede, leases across
threads and processes, retries with backoff, dead letters, delivery dedupe, migrations.

Backend-specific behaviour is in test_store_sqlite.py and test_store_postgres.py.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import LeaseLost, StoreError
from bot.model import JobKey, JobState
from bot.service.store import EnqueueResult, JobStore
from bot.service.store.migrations import MIGRATIONS
from bot.service.store.sql import SqlJobStore
from tests.integration.store_backends import OPEN_IN_CHILD, Backend, EdgeRng, FakeClock

KEY = JobKey("github", "org/repo", "7", "sha-a")


def key(revision: str = "sha-a", change: str = "7") -> JobKey:
    return JobKey("github", "org/repo", change, revision)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(backend: Backend, clock: FakeClock) -> Iterator[SqlJobStore]:
    s = backend.open(clock=clock, max_attempts=3)
    yield s
    s.close()


# --- enqueue: coalesce, recheck, supersede -------------------------------------------------


def test_second_event_coalesces_into_the_queued_job(store: SqlJobStore) -> None:
    first = store.enqueue(KEY, {"n": 1}, delivery_id="d1")
    second = store.enqueue(KEY, {"n": 2}, delivery_id="d2")
    assert first.coalesced is False
    assert second.job_id == first.job_id
    assert second.coalesced is True
    assert store.depth() == 1
    job = store.get(first.job_id)
    assert job is not None
    # The newest event's payload is what the single run sees.
    assert job.payload == {"n": 2}
    assert job.delivery_id == "d2"


def test_event_while_running_coalesces_unless_recheck(store: SqlJobStore) -> None:
    first = store.enqueue(KEY, {})
    leased = store.lease("w1", 60)
    assert leased is not None and leased.id == first.job_id
    again = store.enqueue(KEY, {})
    assert (again.job_id, again.coalesced) == (first.job_id, True)
    assert store.depth() == 0
    recheck = store.enqueue(KEY, {"recheck": True}, recheck=True)
    assert recheck.coalesced is False
    assert recheck.job_id != first.job_id
    assert store.depth() == 1
    # A further event coalesces into the queued recheck, not the running job.
    assert store.enqueue(KEY, {}, recheck=True).job_id == recheck.job_id


def test_same_revision_done_is_not_reviewed_twice(store: SqlJobStore) -> None:
    first = store.enqueue(KEY, {})
    job = store.lease("w1", 60)
    assert job is not None
    store.complete(job.id, "w1", {"comments": 3})
    again = store.enqueue(KEY, {})
    assert (again.job_id, again.coalesced, again.superseded) == (first.job_id, True, ())
    assert store.depth() == 0
    assert store.lease("w1", 60) is None


def test_recheck_after_done_queues_a_new_run(store: SqlJobStore) -> None:
    first = store.enqueue(KEY, {})
    job = store.lease("w1", 60)
    assert job is not None
    store.complete(job.id, "w1", {})
    rerun = store.enqueue(KEY, {}, recheck=True)
    assert rerun.coalesced is False
    assert rerun.job_id != first.job_id
    leased = store.lease("w1", 60)
    assert leased is not None and leased.id == rerun.job_id
    assert leased.attempts == 1


def test_newer_revision_supersedes_older_queued_jobs_of_that_change(
    store: SqlJobStore,
) -> None:
    running = store.enqueue(key("sha-0"), {}).job_id
    assert store.lease("w1", 60) is not None  # sha-0 is being reviewed
    old_a = store.enqueue(key("sha-a"), {}).job_id
    old_b = store.enqueue(key("sha-b"), {}).job_id  # supersedes sha-a already
    other = store.enqueue(key("sha-x", change="8"), {}).job_id
    newest = store.enqueue(key("sha-c"), {})
    assert newest.coalesced is False
    assert newest.superseded == (old_b,)
    a, b = store.get(old_a), store.get(old_b)
    assert a is not None and a.state == JobState.superseded
    assert b is not None and b.state == JobState.superseded
    # Another change and the job already running are left alone.
    assert (o := store.get(other)) is not None and o.state == JobState.queued
    assert (r := store.get(running)) is not None and r.state == JobState.running
    assert {j.id for j in store.list(JobState.queued)} == {other, newest.job_id}


@pytest.mark.parametrize("transient", [True, False], ids=["dead", "failed"])
def test_failed_or_dead_revision_waits_for_a_recheck(
    store: SqlJobStore, clock: FakeClock, transient: bool
) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    for _ in range(3 if transient else 1):  # max_attempts=3
        clock.advance(1_000)
        assert store.lease("w", 60) is not None
        store.fail(job_id, "w", "boom", transient=transient)
    assert (job := store.get(job_id)) is not None
    assert job.state == (JobState.dead if transient else JobState.failed)
    # A plain redelivery does not resurrect a dead letter; an explicit recheck does.
    assert store.enqueue(KEY, {}) == EnqueueResult(job_id, True, ())
    assert store.depth() == 0
    rerun = store.enqueue(KEY, {}, recheck=True)
    assert rerun.coalesced is False and rerun.job_id != job_id
    assert store.depth() == 1


def test_superseded_revision_arriving_late_is_not_requeued(store: SqlJobStore) -> None:
    old = store.enqueue(key("sha-a"), {}).job_id
    store.enqueue(key("sha-b"), {})
    late = store.enqueue(key("sha-a"), {})  # out-of-order redelivery of the old push
    assert (late.job_id, late.coalesced) == (old, True)
    assert store.depth() == 1


# --- leases --------------------------------------------------------------------------------


def test_lease_and_complete(store: SqlJobStore, clock: FakeClock) -> None:
    first = store.enqueue(key(change="1"), {"x": 1}).job_id
    second = store.enqueue(key(change="2"), {}).job_id
    job = store.lease("w1", 30)
    assert job is not None
    assert job.id == first  # oldest first
    assert job.state == JobState.running
    assert (job.attempts, job.lease_owner, job.lease_expires) == (1, "w1", clock.now + 30)
    assert job.payload == {"x": 1}
    nxt = store.lease("w2", 30)
    assert nxt is not None and nxt.id == second
    assert store.lease("w3", 30) is None
    store.complete(first, "w1", {"posted": 2})
    done = store.get(first)
    assert done is not None
    assert (done.state, done.result, done.lease_owner) == (JobState.done, {"posted": 2}, None)
    with pytest.raises(LeaseLost):
        store.complete(second, "w1", {})  # w2 holds it
    assert store.counts()[JobState.running] == 1


def test_expired_lease_is_leased_again_after_a_crash(store: SqlJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("crashed", 30) is not None
    clock.advance(29)
    assert store.lease("w2", 30) is None  # still held
    clock.advance(2)
    again = store.lease("w2", 30)
    assert again is not None
    assert (again.id, again.attempts, again.lease_owner) == (job_id, 2, "w2")
    # The crashed worker, if it comes back, no longer owns it.
    assert store.heartbeat(job_id, "crashed", 30) is False
    with pytest.raises(LeaseLost):
        store.complete(job_id, "crashed", {})


def test_heartbeat_extends_the_lease(store: SqlJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w1", 30) is not None
    clock.advance(20)
    assert store.heartbeat(job_id, "w1", 30) is True
    clock.advance(20)  # 40s after the lease, 20s after the heartbeat
    assert store.lease("w2", 30) is None
    clock.advance(11)
    assert store.lease("w2", 30) is not None


def test_job_whose_workers_keep_crashing_goes_dead(store: SqlJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    for _ in range(3):  # max_attempts=3
        assert store.lease("w", 10) is not None
        clock.advance(11)
    assert store.lease("w", 10) is None
    job = store.get(job_id)
    assert job is not None
    assert job.state == JobState.dead
    assert job.last_error is not None and "lease expired" in job.last_error


def test_two_stores_never_lease_the_same_job(backend: Backend) -> None:
    setup = backend.open()
    ids = {setup.enqueue(key(change=str(n)), {}).job_id for n in range(200)}
    stores = [backend.open() for _ in range(2)]
    leased: list[int] = []
    guard = threading.Lock()
    start = threading.Barrier(4)

    def work(s: SqlJobStore, owner: str) -> None:
        start.wait()
        while (job := s.lease(owner, 600)) is not None:
            with guard:
                leased.append(job.id)
            s.complete(job.id, owner, {})

    # Two threads per store object: its own serialisation (SQLite's lock, PostgreSQL's
    # pool) and the database's (BEGIN IMMEDIATE, SKIP LOCKED) both get used.
    threads = [
        threading.Thread(target=work, args=(s, f"w{i}{j}"))
        for i, s in enumerate(stores)
        for j in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(leased).most_common(1)[0][1] == 1
    assert set(leased) == ids
    assert setup.counts()[JobState.done] == 200
    for s in [setup, *stores]:
        s.close()


WORKER = OPEN_IN_CHILD + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    url, owner, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = open_url(url)
    while not go.exists():
        time.sleep(0.005)
    while (job := store.lease(owner, 600)) is not None:
        print(job.id, flush=True)
        store.complete(job.id, owner, {})
    store.close()
    """
)


def test_processes_leasing_concurrently_take_each_job_once(
    backend: Backend, tmp_path: Path
) -> None:
    setup = backend.open()
    ids = {setup.enqueue(key(change=str(n)), {}).job_id for n in range(300)}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, backend.url, f"proc{n}", str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=backend.child_env(),
        )
        for n in range(2)
    ]
    local: list[int] = []
    go.touch()  # all start together so their leases really interleave
    while (job := setup.lease("local", 600)) is not None:
        local.append(job.id)
        setup.complete(job.id, "local", {})
    leased = list(local)
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        leased += [int(line) for line in out.split()]
    assert len(leased) == len(ids)
    assert Counter(leased).most_common(1)[0][1] == 1
    assert set(leased) == ids
    assert setup.counts()[JobState.done] == len(ids)
    setup.close()


ENQUEUER = OPEN_IN_CHILD + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.model import JobKey

    url, go = sys.argv[1], Path(sys.argv[2])
    store = open_url(url)
    while not go.exists():
        time.sleep(0.001)
    # Every process pushes the same revisions of the same few changes: most enqueues
    # meet another process's enqueue of the same change.
    for push in range(100):
        for change in range(3):
            store.enqueue(JobKey("github", "o/r", str(change), f"r{push}"), {})
    store.close()
    """
)


def test_processes_enqueueing_one_change_together_coalesce_as_one(
    backend: Backend, tmp_path: Path
) -> None:
    # Without a lock per change, two processes could both find no job of a revision and
    # insert one each, or each supersede all but its own uncommitted one: two left queued.
    go = tmp_path / "go"
    backend.open().close()  # the schema, before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ENQUEUER, backend.url, str(go)],
            env=backend.child_env(),
        )
        for _ in range(4)
    ]
    go.touch()
    for p in procs:
        assert p.wait(timeout=120) == 0
    store = backend.open()
    jobs = store.list(limit=10_000)
    assert Counter(j.key for j in jobs).most_common(1)[0][1] == 1
    assert len(jobs) == 3 * 100
    queued = Counter(j.key.change for j in jobs if j.state == JobState.queued)
    assert queued == {"0": 1, "1": 1, "2": 1}
    store.close()


def test_enqueued_job_survives_a_process_crash(backend: Backend) -> None:
    # The child enqueues and dies without close(): the commit alone must make it durable.
    code = OPEN_IN_CHILD + (
        "import os, sys\nfrom bot.model import JobKey\n"
        "s = open_url(sys.argv[1])\n"
        "s.enqueue(JobKey('github', 'o/r', '1', 'abc'), {'k': 'v'})\n"
        "os._exit(0)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, backend.url],
        check=True,
        timeout=60,
        env=backend.child_env(),
    )
    store = backend.open()
    job = store.lease("w", 60)
    assert job is not None
    assert (job.key, job.payload) == (JobKey("github", "o/r", "1", "abc"), {"k": "v"})
    store.close()


# --- failure, retry, dead letter, release --------------------------------------------------


def test_transient_failure_backs_off_with_full_jitter_within_bounds(
    backend: Backend, clock: FakeClock
) -> None:
    rng = EdgeRng(top=True)
    store = backend.open(clock=clock, rng=rng, max_attempts=10, backoff_base=2.0, backoff_cap=10.0)
    job_id = store.enqueue(KEY, {}).job_id
    delays = []
    for _ in range(5):
        job = store.lease("w", 60)
        assert job is not None and job.id == job_id
        assert store.fail(job_id, "w", "502 from host", transient=True) == JobState.queued
        failed = store.get(job_id)
        assert failed is not None and failed.last_error == "502 from host"
        delays.append(failed.not_before - clock.now)
        assert store.lease("w", 60) is None  # not before the backoff
        clock.advance(delays[-1])
    # base * 2**(attempts-1), capped at 10; jitter range always starts at 0 (full jitter).
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert all(a == 0.0 for a, _ in rng.calls)
    store.close()


def test_seeded_jitter_stays_inside_the_range(backend: Backend, clock: FakeClock) -> None:
    store = backend.open(clock=clock, rng=random.Random(1), max_attempts=100)
    samples = [store.backoff(4) for _ in range(500)]
    assert all(0.0 <= s <= 16.0 for s in samples)
    assert max(samples) - min(samples) > 8.0  # jittered, not a constant
    store.close()


def test_retry_after_is_a_floor_on_the_backoff(backend: Backend, clock: FakeClock) -> None:
    store = backend.open(clock=clock, rng=EdgeRng(top=True))
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w", 60) is not None
    store.fail(job_id, "w", "429", transient=True, retry_after=120.0)
    job = store.get(job_id)
    assert job is not None and job.not_before == clock.now + 120.0
    clock.advance(119.9)
    assert store.lease("w", 60) is None
    clock.advance(0.1)
    assert store.lease("w", 60) is not None
    # A retry_after shorter than the backoff does not shorten it (attempt 2: up to 4s).
    store.fail(job_id, "w", "429", transient=True, retry_after=1.0)
    job = store.get(job_id)
    assert job is not None and job.not_before == clock.now + 4.0
    store.close()


def test_dead_letter_after_max_attempts(store: SqlJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    states = []
    for _ in range(3):  # max_attempts=3
        clock.advance(1_000)  # past any backoff
        assert store.lease("w", 60) is not None
        states.append(store.fail(job_id, "w", "timeout", transient=True))
    assert states == [JobState.queued, JobState.queued, JobState.dead]
    clock.advance(1_000)
    assert store.lease("w", 60) is None
    assert store.counts()[JobState.dead] == 1
    assert [j.id for j in store.list(JobState.dead)] == [job_id]


def test_non_transient_failure_fails_at_once(store: SqlJobStore) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w", 60) is not None
    assert store.fail(job_id, "w", "404 change gone", transient=False) == JobState.failed
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts, job.last_error) == (JobState.failed, 1, "404 change gone")
    assert store.lease("w", 60) is None


def test_release_on_shutdown_requeues_without_counting_the_attempt(
    store: SqlJobStore,
) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w1", 60) is not None
    with pytest.raises(LeaseLost):
        store.release(job_id, "someone-else")
    store.release(job_id, "w1")
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts, job.lease_owner) == (JobState.queued, 0, None)
    again = store.lease("w2", 60)
    assert again is not None and (again.id, again.attempts) == (job_id, 1)


def test_retry_brings_a_dead_job_back_with_attempts_reset(
    store: SqlJobStore, clock: FakeClock
) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    for _ in range(3):
        clock.advance(1_000)
        assert store.lease("w", 60) is not None
        store.fail(job_id, "w", "boom", transient=True)
    assert (dead := store.get(job_id)) is not None and dead.state == JobState.dead
    store.retry(job_id)
    job = store.lease("w", 60)
    assert job is not None
    assert (job.id, job.attempts) == (job_id, 1)
    with pytest.raises(ValueError, match="running"):
        store.retry(job_id)  # only finished jobs
    with pytest.raises(KeyError):
        store.retry(9_999)


# --- deliveries ----------------------------------------------------------------------------


def test_delivery_ids_are_deduplicated_within_the_ttl(
    store: SqlJobStore, clock: FakeClock, backend: Backend
) -> None:
    assert store.record_delivery("abc", ttl_seconds=60) is True
    clock.advance(59)
    assert store.record_delivery("abc", ttl_seconds=60) is False
    clock.advance(2)  # 61s after the first sighting
    assert store.record_delivery("abc", ttl_seconds=60) is True
    # Old ids are pruned, so the table stays bounded by the TTL.
    for n in range(50):
        store.record_delivery(f"id{n}", ttl_seconds=60)
        clock.advance(10)
    assert backend.scalar("SELECT count(*) FROM deliveries") <= 7


# --- readiness and urls --------------------------------------------------------------------


def test_ping_passes_on_a_writable_store(store: SqlJobStore) -> None:
    store.ping()


def test_list_and_counts(store: SqlJobStore) -> None:
    ids = [store.enqueue(key(change=str(n)), {}).job_id for n in range(3)]
    job = store.lease("w", 60)
    assert job is not None
    counts = store.counts()
    assert set(counts) == set(JobState)
    assert (counts[JobState.queued], counts[JobState.running], counts[JobState.done]) == (2, 1, 0)
    assert [j.id for j in store.list()] == ids[::-1]  # newest first
    assert [j.id for j in store.list(limit=1)] == [ids[-1]]
    assert [j.id for j in store.list(JobState.running)] == [ids[0]]


def test_store_implements_the_interface(store: SqlJobStore) -> None:
    # The webhook service codes against JobStore, never a backend.
    assert isinstance(store, JobStore)


def test_newer_revision_of_a_running_job_is_reported_for_the_worker(
    store: SqlJobStore,
) -> None:
    old = store.enqueue(JobKey("github", "o/r", "5", "aaa"), {}).job_id
    other_change = store.enqueue(JobKey("github", "o/r", "6", "zzz"), {}).job_id
    assert store.lease("w", 60) is not None  # the old revision is now running
    assert store.newer_revision(old) is None
    new = store.enqueue(JobKey("github", "o/r", "5", "bbb"), {}).job_id
    assert store.get(old).state is JobState.running  # running jobs are not superseded...
    assert store.newer_revision(old) == new  # ...but the worker can see they are stale
    assert store.newer_revision(new) is None
    assert store.newer_revision(other_change) is None


# --- schema migrations ---------------------------------------------------------------------


def test_a_new_store_is_at_the_latest_schema_and_reopening_applies_nothing(
    backend: Backend,
) -> None:
    store = backend.open()
    status = store.schema()
    assert [m.version for m in status.applied] == [m.version for m in MIGRATIONS]
    assert status.pending == () and status.version == MIGRATIONS[-1].version
    assert store.migrate() == ()
    store.close()
    again = backend.open()
    assert again.schema().applied == status.applied  # same rows, same times
    again.close()


MIGRATOR = OPEN_IN_CHILD + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    url, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    store = open_url(url)  # migrates at open, as `serve` does
    print(",".join(map(str, store.applied_at_open)), flush=True)
    store.close()
    """
)


def test_processes_starting_together_apply_each_migration_once(
    backend: Backend, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, backend.url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=backend.child_env(),
        )
        for _ in range(4)
    ]
    go.touch()
    applied = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        applied.append(out.strip())
    latest = ",".join(str(m.version) for m in MIGRATIONS)
    # One process applied every step; the others waited on the lock and found none left.
    assert sorted(applied) == ["", "", "", latest]
    assert backend.scalar("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)


def test_a_schema_newer_than_this_code_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.query("INSERT INTO schema_migrations (version, name, applied) VALUES (999, 'x', 0)")
    for create in (True, False):
        with pytest.raises(StoreError, match="schema version 999 is newer"):
            backend.open(create=create)


def test_opening_without_create_needs_a_current_schema(backend: Backend) -> None:
    backend.open().close()
    backend.query("DROP TABLE schema_migrations")  # as if made by an older review-bot
    with pytest.raises(StoreError, match=r"version 0, this review-bot needs .*db migrate"):
        backend.open(create=False)
    backend.query("DROP TABLE jobs")
    with pytest.raises(StoreError, match="not a review-bot store"):
        backend.open(create=False)
