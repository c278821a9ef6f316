"""The durable job store: coalescing, supersede, leases across threads and processes,
retries with backoff, dead letters, delivery dedupe, readiness, bad urls."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import LeaseLost, StoreError
from bot.model import JobKey, JobState
from bot.service.store import EnqueueResult, JobStore
from bot.service.store.sqlite import SqliteJobStore


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EdgeRng(random.Random):
    """Stands in for random.Random: always the top (or bottom) of the jitter range, so the
    backoff bounds are checked exactly rather than statistically."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return b if self.top else a


KEY = JobKey("github", "org/repo", "7", "sha-a")


def key(revision: str = "sha-a", change: str = "7") -> JobKey:
    return JobKey("github", "org/repo", change, revision)


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"  # absolute tmp path -> sqlite:////abs/...


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def store(db: Path, clock: FakeClock) -> Iterator[SqliteJobStore]:
    s = SqliteJobStore(url_of(db), clock=clock, max_attempts=3)
    yield s
    s.close()


# --- enqueue: coalesce, recheck, supersede -------------------------------------------------


def test_second_event_coalesces_into_the_queued_job(store: SqliteJobStore) -> None:
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


def test_event_while_running_coalesces_unless_recheck(store: SqliteJobStore) -> None:
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


def test_same_revision_done_is_not_reviewed_twice(store: SqliteJobStore) -> None:
    first = store.enqueue(KEY, {})
    job = store.lease("w1", 60)
    assert job is not None
    store.complete(job.id, "w1", {"comments": 3})
    again = store.enqueue(KEY, {})
    assert (again.job_id, again.coalesced, again.superseded) == (first.job_id, True, ())
    assert store.depth() == 0
    assert store.lease("w1", 60) is None


def test_recheck_after_done_queues_a_new_run(store: SqliteJobStore) -> None:
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
    store: SqliteJobStore,
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
    store: SqliteJobStore, clock: FakeClock, transient: bool
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


def test_superseded_revision_arriving_late_is_not_requeued(store: SqliteJobStore) -> None:
    old = store.enqueue(key("sha-a"), {}).job_id
    store.enqueue(key("sha-b"), {})
    late = store.enqueue(key("sha-a"), {})  # out-of-order redelivery of the old push
    assert (late.job_id, late.coalesced) == (old, True)
    assert store.depth() == 1


# --- leases --------------------------------------------------------------------------------


def test_lease_and_complete(store: SqliteJobStore, clock: FakeClock) -> None:
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


def test_expired_lease_is_leased_again_after_a_crash(
    store: SqliteJobStore, clock: FakeClock
) -> None:
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


def test_heartbeat_extends_the_lease(store: SqliteJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w1", 30) is not None
    clock.advance(20)
    assert store.heartbeat(job_id, "w1", 30) is True
    clock.advance(20)  # 40s after the lease, 20s after the heartbeat
    assert store.lease("w2", 30) is None
    clock.advance(11)
    assert store.lease("w2", 30) is not None


def test_job_whose_workers_keep_crashing_goes_dead(store: SqliteJobStore, clock: FakeClock) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    for _ in range(3):  # max_attempts=3
        assert store.lease("w", 10) is not None
        clock.advance(11)
    assert store.lease("w", 10) is None
    job = store.get(job_id)
    assert job is not None
    assert job.state == JobState.dead
    assert job.last_error is not None and "lease expired" in job.last_error


def test_two_stores_on_one_file_never_lease_the_same_job(db: Path) -> None:
    setup = SqliteJobStore(url_of(db))
    ids = {setup.enqueue(key(change=str(n)), {}).job_id for n in range(200)}
    stores = [SqliteJobStore(url_of(db)) for _ in range(2)]
    leased: list[int] = []
    guard = threading.Lock()
    start = threading.Barrier(4)

    def work(s: SqliteJobStore, owner: str) -> None:
        start.wait()
        while (job := s.lease(owner, 600)) is not None:
            with guard:
                leased.append(job.id)
            s.complete(job.id, owner, {})

    # Two threads per store object: the in-object lock and BEGIN IMMEDIATE both get used.
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


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.service.store.sqlite import SqliteJobStore

    url, owner, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = SqliteJobStore(url)
    while not go.exists():
        time.sleep(0.005)
    while (job := store.lease(owner, 600)) is not None:
        print(job.id, flush=True)
        store.complete(job.id, owner, {})
    store.close()
    """
)


def test_processes_leasing_concurrently_take_each_job_once(db: Path, tmp_path: Path) -> None:
    setup = SqliteJobStore(url_of(db))
    ids = {setup.enqueue(key(change=str(n)), {}).job_id for n in range(300)}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url_of(db), f"proc{n}", str(go)],
            stdout=subprocess.PIPE,
            text=True,
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


def test_enqueued_job_survives_a_process_crash(db: Path) -> None:
    # The child enqueues and dies without close(): the commit alone must make it durable.
    code = (
        "import os, sys\nfrom bot.model import JobKey\n"
        "from bot.service.store.sqlite import SqliteJobStore\n"
        "s = SqliteJobStore(sys.argv[1])\n"
        "s.enqueue(JobKey('github', 'o/r', '1', 'abc'), {'k': 'v'})\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, url_of(db)], check=True, timeout=60)
    store = SqliteJobStore(url_of(db))
    job = store.lease("w", 60)
    assert job is not None
    assert (job.key, job.payload) == (JobKey("github", "o/r", "1", "abc"), {"k": "v"})
    store.close()


# --- failure, retry, dead letter, release --------------------------------------------------


def test_transient_failure_backs_off_with_full_jitter_within_bounds(
    db: Path, clock: FakeClock
) -> None:
    rng = EdgeRng(top=True)
    store = SqliteJobStore(
        url_of(db), clock=clock, rng=rng, max_attempts=10, backoff_base=2.0, backoff_cap=10.0
    )
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


def test_seeded_jitter_stays_inside_the_range(db: Path, clock: FakeClock) -> None:
    store = SqliteJobStore(url_of(db), clock=clock, rng=random.Random(1), max_attempts=100)
    samples = [store.backoff(4) for _ in range(500)]
    assert all(0.0 <= s <= 16.0 for s in samples)
    assert max(samples) - min(samples) > 8.0  # jittered, not a constant
    store.close()


def test_retry_after_is_a_floor_on_the_backoff(db: Path, clock: FakeClock) -> None:
    store = SqliteJobStore(url_of(db), clock=clock, rng=EdgeRng(top=True))
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


def test_dead_letter_after_max_attempts(store: SqliteJobStore, clock: FakeClock) -> None:
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


def test_non_transient_failure_fails_at_once(store: SqliteJobStore) -> None:
    job_id = store.enqueue(KEY, {}).job_id
    assert store.lease("w", 60) is not None
    assert store.fail(job_id, "w", "404 change gone", transient=False) == JobState.failed
    job = store.get(job_id)
    assert job is not None
    assert (job.state, job.attempts, job.last_error) == (JobState.failed, 1, "404 change gone")
    assert store.lease("w", 60) is None


def test_release_on_shutdown_requeues_without_counting_the_attempt(
    store: SqliteJobStore,
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
    store: SqliteJobStore, clock: FakeClock
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
    store: SqliteJobStore, clock: FakeClock, db: Path
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
    with sqlite3.connect(db) as raw:
        (rows,) = raw.execute("SELECT count(*) FROM deliveries").fetchone()
    assert rows <= 7


# --- readiness and urls --------------------------------------------------------------------


def test_ping_passes_on_a_writable_store(store: SqliteJobStore) -> None:
    store.ping()


def test_ping_fails_on_a_store_opened_read_only(db: Path) -> None:
    SqliteJobStore(url_of(db)).close()
    # SQLite itself refuses writes on a mode=ro open, even for root.
    ro = SqliteJobStore(url_of(db) + "?mode=ro")
    assert ro.depth() == 0  # still readable
    with pytest.raises(StoreError, match="not writable"):
        ro.ping()
    ro.close()


READ_ONLY_PING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from bot.errors import StoreError
    from bot.service.store.sqlite import SqliteJobStore

    # As root chmod does not stop writes, so drop to nobody (after the imports: the
    # interpreter lives under /root, which nobody cannot read).
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    path, before_open = Path(sys.argv[1]) / "jobs.db", sys.argv[2] == "1"
    url = "sqlite:///" + str(path)
    store = SqliteJobStore(url)
    store.ping()
    store.close()
    os.chmod(path, 0o444)
    if not before_open:
        os.chmod(path, 0o644)
    store = SqliteJobStore(url)
    os.chmod(path, 0o444)  # for ro-after-open: read-only once the connection is open
    try:
        store.ping()
    except StoreError as exc:
        print(exc)
        sys.exit(0)
    sys.exit(3)  # ping passed on a read-only file: the test fails
    """
)


@pytest.mark.parametrize("before_open", [True, False], ids=["ro-at-open", "ro-after-open"])
def test_ping_fails_on_a_read_only_file(before_open: bool) -> None:
    # A fresh process (not a fork of this threaded one); tmp_path's parents are root-only,
    # so use a directory nobody owns.
    work = tempfile.mkdtemp(prefix="queue-ro-")
    try:
        if os.geteuid() == 0:
            os.chown(work, 65534, 65534)
        child = subprocess.run(
            [sys.executable, "-c", READ_ONLY_PING, work, "1" if before_open else "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stdout + child.stderr
        assert "not writable" in child.stdout
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)


def test_bad_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="unsupported scheme 'postgresql'"):
        SqliteJobStore("postgresql://db/jobs")
    with pytest.raises(StoreError, match="unsupported"):
        SqliteJobStore("sqlite://relative-without-third-slash.db")


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        SqliteJobStore(url_of(tmp_path / "missing" / "jobs.db"))
    a_file = tmp_path / "plain-file"
    a_file.write_text("")
    with pytest.raises(StoreError, match="not a directory"):
        SqliteJobStore(url_of(a_file / "jobs.db"))
    with pytest.raises(StoreError, match="is a directory"):
        SqliteJobStore(url_of(tmp_path))


def test_relative_and_memory_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = SqliteJobStore("sqlite:///rel.db")
    rel.enqueue(KEY, {})
    rel.close()
    assert (tmp_path / "rel.db").is_file()
    mem = SqliteJobStore("sqlite:///:memory:")
    mem.enqueue(KEY, {})
    assert mem.depth() == 1
    mem.ping()
    mem.close()


def test_list_and_counts(store: SqliteJobStore) -> None:
    ids = [store.enqueue(key(change=str(n)), {}).job_id for n in range(3)]
    job = store.lease("w", 60)
    assert job is not None
    counts = store.counts()
    assert set(counts) == set(JobState)
    assert (counts[JobState.queued], counts[JobState.running], counts[JobState.done]) == (2, 1, 0)
    assert [j.id for j in store.list()] == ids[::-1]  # newest first
    assert [j.id for j in store.list(limit=1)] == [ids[-1]]
    assert [j.id for j in store.list(JobState.running)] == [ids[0]]


def test_sqlite_store_implements_the_interface(store: SqliteJobStore) -> None:
    # The webhook service codes against JobStore; a PostgreSQL store must pass this too.
    assert isinstance(store, JobStore)


def test_newer_revision_of_a_running_job_is_reported_for_the_worker(
    store: SqliteJobStore,
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


@pytest.mark.parametrize(("durability", "level"), [("process", 1), ("power", 2)])
def test_durability_sets_how_often_sqlite_syncs(db: Path, durability: str, level: int) -> None:
    s = SqliteJobStore(url_of(db), durability=durability)
    try:
        # 1 is NORMAL (enough in WAL mode for a killed process), 2 is FULL (power loss).
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        s.close()
    with pytest.raises(ValueError, match="durability"):
        SqliteJobStore(url_of(db), durability="sometimes")
