"""Several `review-bot serve` replicas on one PostgreSQL database, as real processes,
against the fake GitHub over HTTP (tests/fakes/github.py).

What replicas promise (docs: leases are FOR UPDATE SKIP LOCKED, migrations run once under
an advisory lock, a job of a killed process is leased again after its lease expires, and
posting is idempotent by fingerprint): a job survives the death of the replica that held
it, deliveries spread over replicas each end in exactly one review, two replicas starting
on a fresh database migrate it once, and a PostgreSQL restart is ridden out by both
replicas without a restart of theirs and without losing an acknowledged delivery.

The fake GitHub's ``before`` hook is the lever that holds a job at a known point: it runs
on the fake's event loop, so an action that waits on an event stalls that request (and
the fake) until the test lets it go.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.service.store.migrations import MIGRATIONS
from tests.fakes.github import FakeGitHub, PullRequest
from tests.fakes.serve_process import (
    PG_PASSWORD_ENV,
    ServeProcess,
    storage_line,
    write_config,
)
from tests.integration.github_service import REPO, SECRET, deliver, pr_event
from tests.integration.test_github import BASE_TEST, HEAD_TEST, TEST
from tests.pg_cluster import PgCluster

LEASE_SECONDS = 2
TERMINAL = ("done", "failed", "dead", "superseded")


# --- the scene -------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


def open_pr(fake: FakeGitHub, number: int) -> PullRequest:
    return fake.open_pr(
        REPO, number, {TEST: BASE_TEST, "README": "x\n"}, {TEST: HEAD_TEST, "README": "x\n"}
    )


def reviews(fake: FakeGitHub, number: int) -> list[Any]:
    """The reviews GitHub stored on the PR (what a user would see)."""
    return list(fake.pulls[(REPO, number)].reviews)


class Hold:
    """Stalls the next request of ``method`` on ``path`` at the fake until ``release()``."""

    def __init__(self, fake: FakeGitHub, method: str, path: str) -> None:
        self.entered = threading.Event()
        self._released = threading.Event()

        def hold() -> None:
            self.entered.set()
            self._released.wait(60)  # bounded: a failed test must not hang the fake

        fake.before(method, path, hold)

    def release(self) -> None:
        self._released.set()


class Db:
    """The replicas' database, read by the test as an operator would (psql)."""

    def __init__(self, cluster: PgCluster, url: str) -> None:
        self.cluster = cluster
        self.url = url
        self.name = urlsplit(url).path.lstrip("/")

    def rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.cluster.execute(query, params, dbname=self.name)

    def job(self, job_id: int) -> dict[str, Any]:
        cols = ("id", "state", "attempts", "lease_owner", "result", "last_error", "change")
        (row,) = self.rows(f"SELECT {', '.join(cols)} FROM jobs WHERE id = %s", [job_id])
        return dict(zip(cols, row, strict=True))

    def wait_finished(self, job_ids: set[int], timeout: float = 120.0) -> dict[int, str]:
        """Each job's state once every one is terminal."""
        deadline = time.monotonic() + timeout
        states: dict[int, str] = {}
        while time.monotonic() < deadline:
            try:
                rows = self.rows("SELECT id, state FROM jobs WHERE id = ANY(%s)", [list(job_ids)])
            except Exception:  # the server may be starting again
                rows = []
            states = {int(i): str(s) for i, s in rows}
            if len(states) == len(job_ids) and all(s in TERMINAL for s in states.values()):
                return states
            time.sleep(0.2)
        raise AssertionError(f"jobs not finished in {timeout:g} s: {states}")


class Replicas:
    """``review-bot serve`` processes sharing one config (GitHub against the fake, the
    store on PostgreSQL) and one working directory; each logs to its own file there."""

    def __init__(
        self,
        tmp: Path,
        fake: FakeGitHub,
        url: str,
        password: str,
        lease_seconds: int,
        sweep_seconds: float | None = None,
    ) -> None:
        self.tmp = tmp
        self.password = password
        self.started: list[ServeProcess] = []
        (tmp / "secret").write_text(SECRET)
        (tmp / "token").write_text("test-token")
        lines = [
            storage_line(tmp, url),
            "server: {shutdown_grace_seconds: 5}",
            "workers: {analysis_processes: 1, backoff_base_seconds: 0.2, "
            f"backoff_cap_seconds: 1, lease_seconds: {lease_seconds}}}",
            "logging: {json: true}",
            "platforms:",
            "  github:",
            "    enabled: true",
            f"    api_url: '{fake.base_url}'",
            "    webhook_secret_file: secret",
            "    token_file: token",
        ]
        if sweep_seconds is None:
            lines.insert(0, "reconcile: {enabled: false}")
        else:  # the leader sweeps REPO every sweep_seconds
            lines.insert(0, f"reconcile: {{interval_seconds: {sweep_seconds}, pause_seconds: 0}}")
            lines.append(f"    repos: ['{REPO}']")
        self.config = tmp / "config.yaml"
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, count: int = 2, config: Path | None = None) -> list[ServeProcess]:
        """``count`` replicas started at once (not one after the other), once all ready."""
        procs = [
            ServeProcess(config or self.config, self.tmp, env={PG_PASSWORD_ENV: self.password})
            for _ in range(count)
        ]
        self.started += procs
        for proc in procs:
            proc.wait_ready()
        return procs

    def close(self) -> None:
        for proc in self.started:
            proc.stop()
            proc.reap()


@pytest.fixture
def replicas_of(tmp_path: Path) -> Iterator[Callable[..., Replicas]]:
    """``replicas_of(fake, url, password, lease_seconds=2)``; all stopped at the end."""
    made: list[Replicas] = []

    def make(
        fake: FakeGitHub,
        url: str,
        password: str,
        lease_seconds: int = LEASE_SECONDS,
        sweep_seconds: float | None = None,
    ) -> Replicas:
        made.append(Replicas(tmp_path, fake, url, password, lease_seconds, sweep_seconds))
        return made[-1]

    yield make
    for group in made:
        group.close()


def send(
    server: ServeProcess, number: int, pr: PullRequest, *, delivery: str | None = None
) -> tuple[int, dict[str, Any]]:
    """A signed pull_request (opened) delivery to ``server``: the status and JSON answer."""
    event = pr_event("opened", number, pr.head, pr.base)
    return deliver(server.url, "pull_request", event, delivery=delivery, timeout=30)


def readyz(server: ServeProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.url + "/readyz", timeout=20) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError as exc:
        return 0, {"error": str(exc)}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took until ``predicate()``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def log_records(server: ServeProcess) -> list[dict[str, Any]]:
    records = []
    for line in server.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def started_jobs(server: ServeProcess) -> list[int]:
    """The job ids this replica leased and started, from its log."""
    return [
        int(r["job_id"])
        for r in log_records(server)
        if str(r.get("message", "")).startswith("job started") and "job_id" in r
    ]


def owner_pid(lease_owner: str) -> int:
    # host:pid:random#lease (bot/service/worker.py)
    return int(lease_owner.rsplit("#", 1)[0].split(":")[-2])


# --- the tests -------------------------------------------------------------------------------


def test_kill_9_of_the_replica_holding_a_job_the_other_finishes_it_one_review(
    fake: FakeGitHub, pg_cluster: PgCluster, pg_url: str, pg_password: str, replicas_of
) -> None:
    pr = open_pr(fake, 7)
    db = Db(pg_cluster, pg_url)
    # The job stops at its fetch of the PR's files: leased, running, nothing posted yet.
    hold = Hold(fake, "GET", r"/pulls/7/files$")
    try:
        servers = replicas_of(fake, pg_url, pg_password).start(2)
        status, answer = send(servers[0], 7, pr)
        assert status == 202 and answer["status"] == "queued", answer
        job_id = int(answer["job_id"])
        assert hold.entered.wait(30), "no replica fetched the PR"
        job = db.job(job_id)
        assert job["state"] == "running" and job["attempts"] == 1, job
        (holder,) = [s for s in servers if s.proc.pid == owner_pid(job["lease_owner"])]
        (survivor,) = [s for s in servers if s is not holder]
        holder.kill()  # SIGKILL: the lease stays behind in the store
        assert db.job(job_id)["state"] == "running"
    finally:
        hold.release()  # the held answer goes to a dead socket
    states = db.wait_finished({job_id}, timeout=90)
    assert states[job_id] == "done", db.job(job_id)
    job = db.job(job_id)
    assert job["attempts"] == 2 and job["result"]["dry_run"] is False, job
    assert job_id in started_jobs(survivor), survivor.output()[-3000:]
    (review,) = reviews(fake, 7)
    assert review["commit_id"] == pr.head
    assert len(fake.pulls[(REPO, 7)].comments) == 1  # one finding, posted once
    assert fake.schema_errors == []
    assert readyz(survivor)[0] == 200


def test_deliveries_spread_over_two_replicas_each_pr_gets_one_review(
    fake: FakeGitHub, pg_cluster: PgCluster, pg_url: str, pg_password: str, replicas_of
) -> None:
    numbers = range(1, 31)
    prs = {n: open_pr(fake, n) for n in numbers}
    db = Db(pg_cluster, pg_url)
    # A long lease: under load no lease may expire, so each job is leased exactly once.
    servers = replicas_of(fake, pg_url, pg_password, lease_seconds=30).start(2)
    # Each PR once to one replica; every third redelivered (same delivery id) to the other
    # replica, and every fifth sent again as a new delivery (GitHub sends an event twice).
    sends: list[tuple[int, int, str]] = []  # (PR, replica, delivery id)
    for n in numbers:
        sends.append((n, n % 2, f"d-{n}"))
        if n % 3 == 0:
            sends.append((n, (n + 1) % 2, f"d-{n}"))
        if n % 5 == 0:
            sends.append((n, (n + 1) % 2, f"d-{n}-again"))
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda s: (s, send(servers[s[1]], s[0], prs[s[0]], delivery=s[2])), sends)
        )
    job_of: dict[int, set[int]] = {n: set() for n in numbers}
    for (n, _, delivery), (status, answer) in answers:
        assert status == 202, (n, delivery, answer)
        assert answer["status"] in ("queued", "duplicate"), answer
        job_of[n].add(int(answer["job_id"]))
    # Of a delivery sent twice, one of the two (whichever came second) is the duplicate.
    twice = [a["status"] for (n, _, d), (_, a) in answers if n % 3 == 0 and d == f"d-{n}"]
    assert twice.count("duplicate") == len(numbers) // 3, twice
    assert all(len(ids) == 1 for ids in job_of.values()), job_of  # one job per PR
    job_ids = {i for ids in job_of.values() for i in ids}
    assert db.rows("SELECT count(*) FROM jobs")[0][0] == len(numbers)
    states = db.wait_finished(job_ids, timeout=240)
    assert set(states.values()) == {"done"}, {
        i: db.job(i) for i, s in states.items() if s != "done"
    }
    per_pr = {n: len(reviews(fake, n)) for n in numbers}
    assert per_pr == dict.fromkeys(numbers, 1)
    assert fake.schema_errors == []
    # Both replicas worked: the absence of duplicates is across replicas, not within one.
    started = [started_jobs(s) for s in servers]
    assert all(started), started
    assert sorted(started[0] + started[1]) == sorted(job_ids)  # each job leased once


def test_two_replicas_starting_at_once_migrate_a_fresh_database_once(
    tmp_path: Path, pg_cluster: PgCluster, pg_url: str, pg_password: str
) -> None:
    db = Db(pg_cluster, pg_url)
    assert db.rows("SELECT to_regclass('schema_migrations')") == [(None,)]  # fresh
    config = write_config(tmp_path, storage_url=pg_url, analysis_processes=1)
    env = {PG_PASSWORD_ENV: pg_password}
    servers: list[ServeProcess] = []
    try:
        servers = [ServeProcess(config, tmp_path, env=env) for _ in range(2)]
        for server in servers:
            server.wait_ready()
        migrated = [
            [r for r in log_records(s) if r.get("message") == "schema migrated"] for s in servers
        ]
        outputs = [s.output() for s in servers]
    finally:
        for server in servers:
            server.stop()
            server.reap()
    for output in outputs:
        assert pg_password not in output  # the password never reaches the logs
    assert sorted(len(m) for m in migrated) == [0, 1], migrated
    (record,) = [r for m in migrated for r in m]
    assert record["versions"] == [m.version for m in MIGRATIONS]
    ledger = db.rows("SELECT version, count(*) FROM schema_migrations GROUP BY version")
    assert sorted(ledger) == [(m.version, 1) for m in MIGRATIONS]


def test_postgres_restart_both_replicas_recover_and_acknowledged_deliveries_finish(
    fake: FakeGitHub, own_pg_cluster: PgCluster, replicas_of
) -> None:
    url = own_pg_cluster.create_database("jobs")
    db = Db(own_pg_cluster, url)
    numbers = range(1, 7)
    prs = {n: open_pr(fake, n) for n in numbers}
    late = open_pr(fake, 50)
    # PR 3's job stops right before its review is stored: running when the server goes.
    hold = Hold(fake, "POST", r"/pulls/3/reviews$")
    try:
        servers = replicas_of(fake, url, own_pg_cluster.password).start(2)
        acknowledged: set[int] = set()
        for n in numbers:
            status, answer = send(servers[n % 2], n, prs[n])
            assert status == 202 and answer["status"] == "queued", answer
            acknowledged.add(int(answer["job_id"]))
        assert hold.entered.wait(60), "PR 3's review was never posted"
        own_pg_cluster.stop()
    finally:
        # GitHub stores the review; the replica cannot record that (the store is down).
        hold.release()
    released = time.monotonic()
    for server in servers:
        wait_for(lambda s=server: readyz(s)[0] == 503, 30, f"{server.url}/readyz 503")
    assert all(readyz(s)[1]["status"] == "not ready" for s in servers)
    status, answer = send(servers[0], 50, late)
    assert status == 503 and answer["status"] == "rejected", answer
    # An outage longer than the job's two failing store calls (5 s pool wait each): the
    # attempt is not recorded and its lease expires. A shorter one is the test below.
    time.sleep(max(0.0, released + 12 - time.monotonic()))
    own_pg_cluster.start()
    for server in servers:
        took = wait_for(lambda s=server: readyz(s)[0] == 200, 30, f"{server.url}/readyz 200")
        assert took < 30
    states = db.wait_finished(acknowledged, timeout=120)
    assert set(states.values()) == {"done"}, {
        i: db.job(i) for i, s in states.items() if s != "done"
    }
    assert {n: len(reviews(fake, n)) for n in numbers} == dict.fromkeys(numbers, 1)
    assert fake.schema_errors == []


def test_a_short_store_outage_mid_job_does_not_fail_the_job(
    fake: FakeGitHub, own_pg_cluster: PgCluster, replicas_of
) -> None:
    url = own_pg_cluster.create_database("jobs")
    db = Db(own_pg_cluster, url)
    pr = open_pr(fake, 9)
    hold = Hold(fake, "GET", r"/pulls/9/files$")
    # A long lease: no other attempt starts during the outage, so what becomes of the job
    # is this attempt's doing.
    try:
        (server,) = replicas_of(fake, url, own_pg_cluster.password, lease_seconds=60).start(1)
        status, answer = send(server, 9, pr)
        if status != 202 or answer["status"] != "queued":
            pytest.fail(f"delivery answered {status}: {answer}")
        job_id = int(answer["job_id"])
        if not hold.entered.wait(30):
            pytest.fail("the job never fetched the PR")
        own_pg_cluster.stop()
    finally:
        hold.release()
    released = time.monotonic()

    # The job's next store call fails after the pool's 5 s wait; the store is back while
    # that attempt is being recorded (or, if it is not back yet, the attempt is not
    # recorded and the job runs again once its lease expires). Either way: retried.
    time.sleep(max(0.0, released + 7 - time.monotonic()))
    own_pg_cluster.start()
    states = db.wait_finished({job_id}, timeout=120)
    assert states[job_id] == "done", db.job(job_id)
    assert not any(r.get("message") == "job failed unexpectedly" for r in log_records(server))
    assert len(reviews(fake, 9)) == 1


def test_a_delivery_refused_while_the_database_was_down_is_reviewed_by_the_sweep(
    fake: FakeGitHub, own_pg_cluster: PgCluster, replicas_of
) -> None:
    """GitHub never redelivers a 503: the leader's next sweep finds the PR and reviews it."""
    url = own_pg_cluster.create_database("jobs")
    db = Db(own_pg_cluster, url)
    group = replicas_of(fake, url, own_pg_cluster.password, sweep_seconds=10)
    servers = group.start(2)

    def swept() -> bool:
        rows = db.rows("SELECT v FROM meta WHERE k = 'checkpoint:reconcile.github'")
        return bool(rows)

    wait_for(swept, 30, "the leader's first sweep")  # an empty repository: nothing queued
    own_pg_cluster.stop()
    pr = open_pr(fake, 60)  # opened (and its webhook sent) while the database is down
    for server in servers:
        wait_for(lambda s=server: readyz(s)[0] == 503, 30, f"{server.url}/readyz 503")
    status, answer = send(servers[0], 60, pr)
    assert status == 503, answer
    own_pg_cluster.start()
    wait_for(lambda: len(reviews(fake, 60)) >= 1, 90, "the sweep reviewing PR 60")
    time.sleep(1)  # a second sweep or replica would post now, if it were to
    assert len(reviews(fake, 60)) == 1
    (row,) = db.rows("SELECT state FROM jobs WHERE change = '60'")
    assert row == ("done",)
    queued = [
        r
        for s in servers
        for r in log_records(s)
        if r.get("message") == "reconcile: queued a change no event had queued"
    ]
    assert [(r["change"], r["revision"]) for r in queued] == [("60", pr.head)]
