"""Benchmark (replicas): the webhook load of bench/webhook_load.py on two `review-bot serve`
replicas sharing PostgreSQL, against one serve on SQLite, measured in the same run.

Both set-ups get the same N deliveries (duplicates and coalescing ones included), sent
round robin over their replicas as a load balancer would, so a duplicate delivery id often
reaches the other replica than its original. PostgreSQL is a throwaway server started
here (tests/pg_cluster.py, as an unprivileged user when run as root) and stopped at the
end. Reports, per set-up: ack p50/p99, throughput, time to drain the queue, jobs lost
(distinct keys without a job: must be 0) and duplicates (keys with more than one job, or a
job that ran to completion more than once: must be 0); then the ratios PostgreSQL/SQLite.

Timing is reported, never asserted; the exit status is 1 only if a job was lost or
duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import progress
from webhook_load import (
    LOAD_PROJECT,
    READY_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    TOKEN,
    LoadResult,
    percentile,
    plan,
    run_load,
    throughput,
)

from bot.model import Job, JobState
from bot.service.store.sql import SqlJobStore
from tests.fakes.serve_process import ServeProcess
from tests.pg_cluster import PgCluster, find_pg_bindir

PASSWORD_ENV = "REVIEW_BOT_BENCH_DB_PASSWORD"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=None, help="deliveries (default 2000)")
    parser.add_argument(
        "--replicas", type=int, default=2, help="serve replicas on PostgreSQL (default 2)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight at once (default 32)"
    )
    parser.add_argument(
        "--duplicates-percent",
        type=float,
        default=10.0,
        help="share of deliveries repeating an earlier delivery id (default 10)",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds to drain (default 300)"
    )
    parser.add_argument("--quick", action="store_true", help="200 deliveries, a smoke run")
    args = parser.parse_args(argv)
    if args.deliveries is None:
        args.deliveries = 200 if args.quick else 2000
    if args.deliveries < 1 or args.concurrency < 1 or args.replicas < 1:
        parser.error("--deliveries, --concurrency and --replicas must be positive")
    return args


def config(directory: Path, storage: str) -> Path:
    """The stub platform in dry run, JSON logs, and ``storage`` (a YAML mapping)."""
    path = directory / "config.yaml"
    path.write_text(
        "\n".join(
            [
                f"storage: {storage}",
                "server: {shutdown_grace_seconds: 5}",
                "workers: {analysis_processes: 1}",
                "reconcile: {enabled: false}",
                "platforms: {stub: {enabled: true, dry_run: true, "
                "token: '${REVIEW_BOT_STUB_TOKEN}'}}",
                "logging: {json: true, level: warning}",
            ]
        )
        + "\n"
    )
    return path


@dataclass
class Outcome:
    name: str
    load: LoadResult
    drained: bool
    drain_s: float
    lost: int
    duplicated: int
    counts: dict[str, int]


def drain(open_store: Callable[[], SqlJobStore], timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    store = open_store()
    try:
        while time.monotonic() - started < timeout:
            counts = store.counts()
            if counts[JobState.queued] + counts[JobState.running] == 0:
                return True, time.monotonic() - started
            time.sleep(0.25)
    finally:
        store.close()
    return False, time.monotonic() - started


def judge(jobs: list[Job], keys: set[tuple[str, str, str]]) -> tuple[int, int]:
    """(keys without a job, duplicates): a key with two jobs, or a job that completed
    after an earlier lease of it had (attempts > 1 and done would mean a second run)."""
    found = Counter((j.key.project, j.key.change, j.key.revision) for j in jobs)
    lost = len(keys - set(found))
    twice = sum(n - 1 for n in found.values() if n > 1)
    twice += sum(1 for j in jobs if j.state is JobState.done and j.attempts > 1)
    return lost, twice


def run_setup(
    name: str,
    servers: list[ServeProcess],
    open_store: Callable[[], SqlJobStore],
    args: argparse.Namespace,
) -> Outcome:
    deliveries = plan(args.deliveries, args.duplicates_percent)
    keys = {d.key for d in deliveries}
    try:
        for server in servers:
            try:
                server.wait_ready(READY_TIMEOUT_S)
            except RuntimeError as exc:
                raise SystemExit(f"{name}: {exc}") from None
        progress(f"{name}: {len(servers)} server(s) ready; sending {len(deliveries)}")
        budget = max(60.0, len(deliveries) * REQUEST_TIMEOUT_S / args.concurrency)
        urls = [s.url for s in servers]
        load = asyncio.run(run_load(urls, deliveries, args.concurrency, budget))
        progress(f"{name}: waiting for the queue to drain")
        drained, drain_s = drain(open_store, args.drain_timeout)
        store = open_store()
        try:
            jobs = [
                j for j in store.list(limit=len(deliveries) + 100) if j.key.project == LOAD_PROJECT
            ]
            counts = {str(s): n for s, n in store.counts().items() if n}
        finally:
            store.close()
    finally:
        for server in servers:
            server.stop()
            server.reap()
    lost, duplicated = judge(jobs, keys)
    return Outcome(name, load, drained, drain_s, lost, duplicated, counts)


def sqlite_setup(tmp: Path, args: argparse.Namespace) -> Outcome:
    from bot.service.store.sqlite import SqliteJobStore

    directory = tmp / "sqlite"
    directory.mkdir()
    url = f"sqlite:///{directory / 'bot.db'}"
    path = config(directory, f"{{url: '{url}'}}")
    servers = [ServeProcess(path, directory, token=TOKEN)]
    return run_setup("SQLite, 1 serve", servers, lambda: SqliteJobStore(url), args)


def postgres_setup(tmp: Path, cluster: PgCluster, args: argparse.Namespace) -> Outcome:
    from bot.service.store.postgres import PostgresJobStore

    directory = tmp / "postgres"
    directory.mkdir()
    url = cluster.create_database("bench")
    path = config(directory, f"{{url: '{url}', password: '${{{PASSWORD_ENV}}}'}}")
    os.environ[PASSWORD_ENV] = cluster.password  # the replicas inherit it
    servers: list[ServeProcess] = []
    try:
        for _ in range(args.replicas):
            servers.append(ServeProcess(path, directory, token=TOKEN))
    except BaseException:
        for server in servers:
            server.kill()
            server.reap()
        raise
    name = f"PostgreSQL, {args.replicas} serve replicas"
    return run_setup(name, servers, lambda: PostgresJobStore(url, password=cluster.password), args)


def show(o: Outcome) -> None:
    lat = sorted(o.load.latencies_ms)
    print(f"  {o.name}:")
    print(
        f"    ack latency ms: p50 {percentile(lat, 50):.1f}  p99 {percentile(lat, 99):.1f}"
        f"  max {lat[-1] if lat else 0:.1f}"
    )
    print(
        f"    throughput: {throughput(o.load):.0f} deliveries/s over {o.load.elapsed_s:.2f} s;"
        f" drained: {'yes' if o.drained else 'NO'} in {o.drain_s:.1f} s"
    )
    a = o.load.answers
    print(
        f"    answers: queued {a['queued']}, duplicate {a['duplicate']}, coalesced "
        f"{a['coalesced']}, errors {a['error']}"
        + (f" {dict(o.load.errors)}" if o.load.errors else "")
    )
    print(
        f"    jobs lost {o.lost} (must be 0), duplicates {o.duplicated} (must be 0); "
        f"store: {', '.join(f'{s}={n}' for s, n in o.counts.items())}"
    )


def ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer else "n/a"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bindir = find_pg_bindir()
    if bindir is None:
        raise SystemExit("replicas_load: PostgreSQL server binaries (initdb, pg_ctl) not found")
    with tempfile.TemporaryDirectory(prefix="replicas-load-") as tmp_name:
        tmp = Path(tmp_name)
        peer = sqlite_setup(tmp, args)
        cluster = PgCluster(bindir)
        try:
            cluster.start()
            progress(f"PostgreSQL up on port {cluster.url().rsplit(':', 1)[1].split('/')[0]}")
            ours = postgres_setup(tmp, cluster, args)
        finally:
            cluster.close()
    print(
        f"replicas load: {args.deliveries} deliveries (stub adapter, dry run), "
        f"concurrency {args.concurrency}, round robin over the replicas"
    )
    show(peer)
    show(ours)
    p_lat, o_lat = sorted(peer.load.latencies_ms), sorted(ours.load.latencies_ms)
    print(
        "  ratio PostgreSQL/SQLite: throughput "
        f"{ratio(throughput(ours.load), throughput(peer.load))}, ack p50 "
        f"{ratio(percentile(o_lat, 50), percentile(p_lat, 50))}, p99 "
        f"{ratio(percentile(o_lat, 99), percentile(p_lat, 99))}, drain "
        f"{ratio(ours.drain_s, peer.drain_s)}"
    )
    bad = ours.lost + ours.duplicated + peer.lost + peer.duplicated
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
