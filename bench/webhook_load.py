"""Benchmark (webhook load): acknowledgement latency of `review-bot serve` under a burst.

Starts the real service (stub adapter, dry run, SQLite store in a temp dir), first posts
one delivery with a large test file so that an analysis runs while the load is applied,
then posts N deliveries over 127.0.0.1 with bounded concurrency. Some deliveries repeat an
earlier delivery id (duplicates), some carry a new delivery id for an already-sent
(project, change, revision) key (coalescing). Reports p50/p99/max acknowledgement latency,
throughput, answer kinds, and whether every distinct key became exactly one job.

Goal: p99 < 50 ms while analysis runs. Timing is reported, never asserted; the exit
status is 1 only if jobs were lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from common import progress

from bot.model import JobState
from bot.service.store.sqlite import SqliteJobStore
from tests.fakes.serve_process import ServeProcess, job_state, write_config

TOKEN = "bench-stub-token"
GOAL_P99_MS = 50.0
# Share of deliveries that carry a new delivery id for an already-sent key.
COALESCE_PERCENT = 10
LOAD_PROJECT = "load"
BIG_PROJECT = "big"
REQUEST_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 30.0
SMALL_TEST = "def test_x():\n    m = mock.patch('a.b').start()\n    assert m\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # None defaults: --quick fills in smaller values only where the user gave none.
    parser.add_argument(
        "--deliveries", type=int, default=None, metavar="N", help="deliveries (default 2000)"
    )
    parser.add_argument(
        "--duplicates-percent",
        type=float,
        default=10.0,
        metavar="P",
        help="share of deliveries repeating an earlier delivery id (default 10)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight at once (default 32)"
    )
    parser.add_argument(
        "--big-file-mb",
        type=float,
        default=None,
        metavar="MB",
        help="size of the test file analysed during the load (default 1.5)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the queue to drain (default 300, quick 60)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small inputs, for a smoke run of the benchmark"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    if args.deliveries is None:
        args.deliveries = 200 if quick else 2000
    if args.big_file_mb is None:
        args.big_file_mb = 0.3 if quick else 1.5
    if args.drain_timeout is None:
        args.drain_timeout = 60.0 if quick else 300.0
    if args.deliveries < 1 or args.concurrency < 1:
        parser.error("--deliveries and --concurrency must be positive")
    if not 0 <= args.duplicates_percent < 100:
        parser.error("--duplicates-percent must be in [0, 100)")
    return args


# --------------------------------------------------------------------------- server


# --------------------------------------------------------------------------- payloads


def big_test_file(megabytes: float) -> str:
    # Same shape as the service test's BIG_TEST: many findings, so analysis takes a while.
    target = int(megabytes * 1024 * 1024)
    parts: list[str] = []
    size = 0
    i = 0
    while size < target:
        part = (
            f"class T{i}:\n    def test_{i}(self):\n        self.m = mock.patch('a.b').start()\n"
            f"        server = self.api.get_servers()[0]\n\n"
        )
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)


@dataclass(frozen=True)
class Delivery:
    index: int
    delivery_id: str
    key: tuple[str, str, str]  # (project, change, revision)
    kind: str  # "new", "coalesce" (new id, known key) or "duplicate" (known id)
    after: int | None  # index of the earlier delivery this one must follow


def plan(n: int, duplicates_percent: float, seed: int = 1) -> list[Delivery]:
    """N deliveries; duplicates and coalescing ones refer only to earlier deliveries."""
    rng = random.Random(seed)  # fixed seed: runs are comparable
    n_dup = round(n * duplicates_percent / 100)
    n_coal = round(n * COALESCE_PERCENT / 100)
    kinds = ["duplicate"] * n_dup + ["coalesce"] * n_coal
    kinds += ["new"] * (n - len(kinds))
    rng.shuffle(kinds)
    # The first delivery must be new: the others need something earlier to refer to.
    first_new = kinds.index("new")
    kinds[0], kinds[first_new] = kinds[first_new], kinds[0]
    out: list[Delivery] = []
    news: list[Delivery] = []
    for i, kind in enumerate(kinds):
        if kind == "new":
            # One revision per change: a second revision would supersede, not coalesce.
            d = Delivery(i, f"d-{i}", (LOAD_PROJECT, str(i), f"r{i}"), kind, None)
            news.append(d)
        elif kind == "coalesce":
            base = rng.choice(news)
            d = Delivery(i, f"d-{i}", base.key, kind, base.index)
        else:
            base = rng.choice(out)
            while base.kind == "duplicate":  # repeat an original id, not a repeat
                base = out[base.after or 0]
            d = Delivery(i, base.delivery_id, base.key, kind, base.index)
        out.append(d)
    return out


def body_of(delivery_id: str, key: tuple[str, str, str], files: dict[str, str]) -> bytes:
    project, change, revision = key
    return json.dumps(
        {
            "project": project,
            "change": change,
            "revision": revision,
            "delivery": delivery_id,
            "files": files,
        }
    ).encode()


# --------------------------------------------------------------------------- load


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    big_states: Counter[str] = field(default_factory=Counter)  # sampled during the load


async def post_one(
    session: aiohttp.ClientSession, url: str, body: bytes
) -> tuple[float, str, dict[str, Any] | None]:
    headers = {"X-Stub-Token": TOKEN, "Content-Type": "application/json"}
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as reply:
            data = await reply.json(content_type=None)
            elapsed = (time.perf_counter() - started) * 1000
            if reply.status != 202:
                return elapsed, f"http {reply.status}", None
            return elapsed, "ok", data
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return (time.perf_counter() - started) * 1000, type(exc).__name__, None


async def run_load(
    urls: list[str],
    deliveries: list[Delivery],
    concurrency: int,
    budget: float,
    watch: Callable[[LoadResult], Awaitable[None]] | None = None,
) -> LoadResult:
    """Send the deliveries, each to ``urls[i % len(urls)]`` (round robin, as a load
    balancer would); ``watch`` runs beside the load until it ends."""
    result = LoadResult()
    sem = asyncio.Semaphore(concurrency)
    # A repeat is sent only once its original was answered, so "duplicate" and "coalesced"
    # answers are deterministic instead of depending on which request won a race.
    done = [asyncio.Event() for _ in deliveries]
    files = {"tests/test_small.py": SMALL_TEST}

    async def send(session: aiohttp.ClientSession, d: Delivery) -> None:
        try:
            if d.after is not None:
                await done[d.after].wait()
            async with sem:
                url = urls[d.index % len(urls)] + "/webhooks/stub"
                ms, outcome, data = await post_one(
                    session, url, body_of(d.delivery_id, d.key, files)
                )
            result.latencies_ms.append(ms)
            if data is None:
                result.errors[outcome] += 1
                result.answers["error"] += 1
            elif data.get("status") == "duplicate":
                result.answers["duplicate"] += 1
            elif data.get("status") == "queued" and data.get("coalesced"):
                result.answers["coalesced"] += 1
            elif data.get("status") == "queued":
                result.answers["queued"] += 1
            else:
                result.answers[f"other:{data.get('status')}"] += 1
        finally:
            done[d.index].set()

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # limit=concurrency: the connection pool is bounded the same as the requests in flight.
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        watcher = asyncio.create_task(watch(result) if watch else asyncio.Event().wait())
        started = time.perf_counter()
        tasks = [asyncio.create_task(send(session, d)) for d in deliveries]
        _, pending = await asyncio.wait(tasks, timeout=budget)
        result.elapsed_s = time.perf_counter() - started
        for task in pending:  # over the time budget: count as errors, not as silence
            task.cancel()
        if pending:
            result.errors["not sent (time budget)"] += len(pending)
            result.answers["error"] += len(pending)
        watcher.cancel()
        await asyncio.gather(watcher, *pending, return_exceptions=True)
    return result


# --------------------------------------------------------------------------- report


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def throughput(load: LoadResult) -> float:
    """Deliveries answered per second of the load."""
    return len(load.latencies_ms) / load.elapsed_s if load.elapsed_s else 0.0


def wait_drained(db: Path, timeout: float, big_job: int) -> tuple[bool, float]:
    """Until no load job is queued or running; the big-file job is reported on its own."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        store = SqliteJobStore(f"sqlite:///{db}")
        try:
            counts = store.counts()
            big = store.get(big_job)
        finally:
            store.close()
        busy = counts[JobState.queued] + counts[JobState.running]
        busy -= big is not None and big.state in (JobState.queued, JobState.running)
        if busy == 0:
            return True, time.monotonic() - started
        time.sleep(0.25)
    return False, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deliveries = plan(args.deliveries, args.duplicates_percent)
    keys = {d.key for d in deliveries}
    sent_kinds = Counter(d.kind for d in deliveries)
    with tempfile.TemporaryDirectory(prefix="webhook-load-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "bot.db"
        server = ServeProcess(write_config(tmp), tmp, token=TOKEN)
        exit_code: int | None = None
        try:
            try:
                server.wait_ready(READY_TIMEOUT_S)
            except RuntimeError as exc:
                raise SystemExit(str(exc)) from None
            progress(f"server ready on {server.url}")

            big = big_test_file(args.big_file_mb)
            request = urllib.request.Request(
                server.url + "/webhooks/stub",
                data=body_of("big-1", (BIG_PROJECT, "1", "r1"), {"tests/test_big.py": big}),
                headers={"X-Stub-Token": TOKEN, "Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as reply:
                big_job = int(json.loads(reply.read())["job_id"])
            deadline = time.monotonic() + 30
            while job_state(db, big_job) is not JobState.running:
                if time.monotonic() > deadline:
                    progress("big-file job did not start running within 30 s")
                    break
                time.sleep(0.05)
            big_before = job_state(db, big_job)
            progress(f"big-file job {big_job} ({len(big) / 1e6:.2f} MB): {big_before}")

            progress(f"sending {len(deliveries)} deliveries, concurrency {args.concurrency}")
            budget = max(60.0, len(deliveries) * REQUEST_TIMEOUT_S / args.concurrency)

            async def watch_big(result: LoadResult) -> None:
                # The big job's state, read in a thread: the loop never blocks on SQLite.
                while True:
                    state = await asyncio.to_thread(job_state, db, big_job)
                    result.big_states[str(state)] += 1
                    await asyncio.sleep(0.2)

            load = asyncio.run(
                run_load([server.url], deliveries, args.concurrency, budget, watch_big)
            )
            big_after = job_state(db, big_job)

            progress("waiting for the queue to drain")
            drained, drain_s = wait_drained(db, args.drain_timeout, big_job)
            store = SqliteJobStore(f"sqlite:///{db}")
            try:
                jobs = [
                    j
                    for j in store.list(limit=len(deliveries) + 100)
                    if j.key.project == LOAD_PROJECT
                ]
                final_counts = store.counts()
                big_final = store.get(big_job)
            finally:
                store.close()
        finally:
            exit_code = server.stop()
            server.reap()
            if exit_code != 0:  # the log dies with the temp dir: show why it did not exit
                tail = server.log_path.read_text().splitlines()[-5:]
                progress("server log tail:\n" + "\n".join(tail))

    found = Counter((j.key.project, j.key.change, j.key.revision) for j in jobs)
    lost = len(keys - set(found))
    extra = sum(n - 1 for n in found.values() if n > 1)
    lat = sorted(load.latencies_ms)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    rate = throughput(load)
    during = big_before is JobState.running and big_after is JobState.running
    states_seen = ", ".join(f"{k}={v}" for k, v in sorted(load.big_states.items()))

    print("webhook load: review-bot serve, stub adapter, dry run, SQLite store")
    print(
        f"  deliveries {len(deliveries)} (new {sent_kinds['new']}, coalescing "
        f"{sent_kinds['coalesce']}, duplicate ids {sent_kinds['duplicate']}), "
        f"concurrency {args.concurrency}, big file {len(big) / 1e6:.2f} MB"
    )
    print(
        f"  ack latency ms: p50 {p50:.1f}  p99 {p99:.1f}  max {lat[-1] if lat else 0:.1f}"
        f"   goal: p99 < {GOAL_P99_MS:.0f} ms while analysis runs -> "
        f"{'met' if p99 < GOAL_P99_MS and during else 'NOT met'}"
    )
    print(f"  throughput: {rate:.0f} deliveries/s over {load.elapsed_s:.2f} s")
    print(
        f"  answers: queued {load.answers['queued']}, duplicate {load.answers['duplicate']}, "
        f"coalesced {load.answers['coalesced']}, errors {load.answers['error']}"
        + (f" {dict(load.errors)}" if load.errors else "")
    )
    others = {k: v for k, v in load.answers.items() if k.startswith("other:")}
    if others:
        print(f"  unexpected answers: {others}")
    print(
        f"  big-file job: {big_before} before the load, {big_after} after it "
        f"(samples during load: {states_seen}); running throughout: {'yes' if during else 'no'}"
        f"; final {big_final.state if big_final else None}"
    )
    print(
        f"  load jobs drained: {'yes' if drained else 'NO'} in {drain_s:.1f} s; "
        f"store: {', '.join(f'{s}={n}' for s, n in final_counts.items() if n)}"
    )
    print(
        f"  jobs: distinct keys sent {len(keys)}, jobs found {len(found)}, "
        f"jobs lost {lost} (must be 0), extra jobs for one key {extra}; "
        f"duplicates acknowledged and dropped {load.answers['duplicate']}"
        f"/{sent_kinds['duplicate']}; coalesced {load.answers['coalesced']}"
        f"/{sent_kinds['coalesce']}"
    )
    shown = exit_code if exit_code is not None else "none in 30 s, killed with SIGKILL"
    print(f"  server exit code after SIGTERM: {shown}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
