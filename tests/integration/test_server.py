"""The webhook service end to end: a real aiohttp server on 127.0.0.1, the stub platform,
a real SQLite job store in tmp_path and, where jobs run, the real worker with a spawned
analysis process."""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config.models import Config, ServerConfig, WorkersConfig
from bot.core.plan import plan_from_json, plan_to_json
from bot.model import Job, JobKey, JobState, ReviewPlan
from bot.platforms.base import AdapterRegistry
from bot.platforms.stub import TOKEN_HEADER, StubAdapter
from bot.service.analysis import AnalysisPools
from bot.service.app import create_app
from bot.service.metrics import Metrics
from bot.service.store.sqlite import SqliteJobStore
from bot.service.worker import Worker, WorkerOptions

TOKEN = "s3cret-token"
LIMIT = 8192
TEST_FILE = "tests/test_x.py"
# patcher-not-stopped (warning) fires on line 8.
TEST_TEXT = """import unittest
from unittest import mock


class T(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch("os.getcwd")
        patcher.start()
"""


@pytest.fixture(scope="module")
def analysis_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalysisPools]:
    # One worker process for the module: start-up and rule compilation are paid once. Its
    # directory has no sgconfig.yml: the bundled rules.
    pools = AnalysisPools(1, tmp_path_factory.mktemp("analysis"))
    yield pools
    pools.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteJobStore]:
    # Tiny backoff so retries come within the test; three attempts before the dead letter.
    s = SqliteJobStore(
        f"sqlite:///{tmp_path / 'jobs.db'}", max_attempts=3, backoff_base=0.01, backoff_cap=0.02
    )
    yield s
    s.close()


def make_config() -> Config:
    return Config(
        server=ServerConfig(max_body_bytes=LIMIT, shutdown_grace_seconds=5),
        workers=WorkersConfig(analysis_processes=1, lease_seconds=30),
    )


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "project": "demo/app",
        "change": "42",
        "revision": "rev-1",
        "delivery": "d-1",
        "files": {TEST_FILE: TEST_TEXT},
    }
    body.update(overrides)
    return body


class Service:
    def __init__(self, server: TestServer, session: aiohttp.ClientSession, metrics: Metrics):
        self.server = server
        self.session = session
        self.metrics = metrics

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def hook(
        self, body: Any = None, *, data: Any = None, token: str = TOKEN
    ) -> tuple[int, dict[str, Any]]:
        kwargs: dict[str, Any] = {"json": body} if data is None else {"data": data}
        async with self.session.post(
            self.url("/webhooks/stub"), headers={TOKEN_HEADER: token}, **kwargs
        ) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.url(path)) as resp:
            return resp.status, await resp.text()

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    async def settled(self, name: str, expected: float, **labels: str) -> float:
        """The sample once it reaches ``expected`` (or after 5 s): the worker counts a job's
        outcome just after the store records it, so a test that saw the state may be early."""
        for _ in range(100):
            if self.sample(name, **labels) == expected:
                break
            await asyncio.sleep(0.05)
        return self.sample(name, **labels)


@asynccontextmanager
async def serve(
    store: SqliteJobStore,
    adapter: StubAdapter,
    *,
    worker_pool: AnalysisPools | None = None,
    tmp_path: Path | None = None,
    with_worker: bool = False,
) -> AsyncIterator[Service]:
    config = make_config()
    metrics = Metrics()
    registry = AdapterRegistry([adapter])
    worker = None
    if with_worker:
        worker = Worker(
            config,
            store,
            registry,
            metrics=metrics,
            options=WorkerOptions.from_config(config, poll_interval=0.05, shutdown_grace=2),
            analysis=worker_pool,
            cwd=tmp_path,  # no sgconfig.yml there: the bundled rules
        )
    app = create_app(config, store, registry, metrics=metrics, worker=worker)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield Service(server, session, metrics)
    finally:
        await server.close()


FINAL = {JobState.done, JobState.failed, JobState.dead}


async def wait_for_state(store: SqliteJobStore, job_id: int, timeout: float = 60.0) -> Job:
    """The job once it reaches a final state."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = store.get(job_id)
        assert job is not None
        if job.state in FINAL:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} still {job.state} ({job.last_error})")
        await asyncio.sleep(0.05)


# --- the HTTP surface ------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_healthz_is_alive(store: SqliteJobStore) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        status, text = await svc.get("/healthz")
    assert status == 200
    assert "alive" in text


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_body_over_the_limit_is_413_by_length_and_when_chunked(
    store: SqliteJobStore,
) -> None:
    big = b'{"pad": "' + b"x" * LIMIT + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        # No Content-Length: only client_max_size can stop this one.
        for i in range(0, len(big), 1024):
            yield big[i : i + 1024]

    async with serve(store, StubAdapter(TOKEN)) as svc:
        status, body = await svc.hook(data=big)
        assert status == 413, body
        async with svc.session.post(
            svc.url("/webhooks/stub"), headers={TOKEN_HEADER: TOKEN}, data=chunked()
        ) as resp:
            assert resp.status == 413
        assert (
            svc.sample("review_bot_deliveries_rejected_total", platform="stub", status="413") == 2
        )
        # Just under the limit is accepted.
        status, body = await svc.hook(event())
        assert status == 202, body
    assert store.depth() == 1


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_invalid_json_is_400_and_bad_token_401_and_nothing_queued(
    store: SqliteJobStore,
) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        status, body = await svc.hook(data=b"{not json")
        assert status == 400
        assert "JSON" in body["reason"]
        status, _ = await svc.hook(event(), token="wrong")
        assert status == 401
        assert (
            svc.sample("review_bot_deliveries_rejected_total", platform="stub", status="400") == 1
        )
        assert (
            svc.sample("review_bot_deliveries_rejected_total", platform="stub", status="401") == 1
        )
    assert store.list() == []


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_unknown_event_is_202_ignored_and_counted(store: SqliteJobStore) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        status, body = await svc.hook({"event": "comment-added", "project": "p"})
        assert status == 202
        assert body["status"] == "ignored"
        assert svc.sample("review_bot_events_ignored_total", platform="stub", kind="ignored") == 1
    assert store.list() == []


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_duplicate_delivery_is_202_duplicate_and_counted(store: SqliteJobStore) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        first = await svc.hook(event())
        second = await svc.hook(event())
        assert first[0] == second[0] == 202
        assert first[1]["status"] == "queued"
        assert second[1]["status"] == "duplicate"
        assert second[1]["job_id"] == first[1]["job_id"]
        assert svc.sample("review_bot_deliveries_deduplicated_total", platform="stub") == 1
        assert svc.sample("review_bot_deliveries_received_total", platform="stub") == 2
    assert len(store.list()) == 1


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_same_revision_coalesces_and_new_revision_supersedes(
    store: SqliteJobStore,
) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:  # no worker: jobs stay queued
        _, first = await svc.hook(event(delivery="d-1"))
        _, again = await svc.hook(event(delivery="d-2"))
        assert first["coalesced"] is False
        assert again["coalesced"] is True
        assert again["job_id"] == first["job_id"]
        _, newer = await svc.hook(event(delivery="d-3", revision="rev-2"))
        assert newer["coalesced"] is False
        assert newer["superseded"] == [first["job_id"]]
    old = store.get(first["job_id"])
    assert old is not None and old.state is JobState.superseded
    assert store.depth() == 1


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_readyz_needs_the_worker_loop(store: SqliteJobStore, tmp_path: Path) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        status, text = await svc.get("/readyz")
        assert status == 503
        assert "worker" in text
    async with serve(store, StubAdapter(TOKEN), with_worker=True, tmp_path=tmp_path) as svc:
        status, text = await svc.get("/readyz")
        assert status == 200, text
        # One process on SQLite leads by itself, and says so (once it has recorded it).
        for _ in range(100):
            body = json.loads((await svc.get("/readyz"))[1])
            if body["leader"] is not None:
                break
            await asyncio.sleep(0.05)
        assert body["leading"] is True
        assert body["leader"] == body["replica"] and body["replica"]


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_broken_store_is_503_for_readyz_and_webhooks_never_202(
    store: SqliteJobStore, tmp_path: Path
) -> None:
    async with serve(store, StubAdapter(TOKEN), with_worker=True, tmp_path=tmp_path) as svc:
        store.close()
        status, text = await svc.get("/readyz")
        assert status == 503
        assert "store" in text
        status, body = await svc.hook(event())
        assert status == 503, body
        assert (
            svc.sample("review_bot_deliveries_rejected_total", platform="stub", status="503") == 1
        )
        # /metrics still answers: the depth gauge shows NaN instead of failing the scrape.
        status, text = await svc.get("/metrics")
        assert status == 200
        assert "review_bot_queue_depth NaN" in text


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_metrics_page_has_the_counters_and_no_secret(store: SqliteJobStore) -> None:
    async with serve(store, StubAdapter(TOKEN)) as svc:
        await svc.hook(event())
        status, text = await svc.get("/metrics")
    assert status == 200
    assert 'review_bot_deliveries_received_total{platform="stub"} 1.0' in text
    assert "review_bot_queue_depth 1.0" in text
    assert "review_bot_job_duration_seconds" in text
    assert TOKEN not in text


# --- jobs through the worker ------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_dry_run_job_stores_the_review_and_posts_nothing(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = StubAdapter(TOKEN, credentials=False)  # no credentials: dry run
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        status, body = await svc.hook(event())
        assert status == 202, body
        job = await wait_for_state(store, body["job_id"])
        assert job.state is JobState.done, job.last_error
        assert (
            await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="dry_run") == 1
        )
        assert svc.sample("review_bot_findings_total", rule="patcher-not-stopped") == 1
    assert job.result is not None and job.result["dry_run"] is True
    plan = plan_from_json(job.result["plan"])
    assert [(c.rule_id, c.path, c.span.start.line) for c in plan.comments] == [
        ("patcher-not-stopped", TEST_FILE, 8)
    ]
    assert plan.summary.analysed_files == 1
    assert stub.post_calls == 0 and stub.posted == {}


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_transient_post_failure_is_retried_then_posted(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = StubAdapter(TOKEN)
    stub.fail_next(1, transient=True, retry_after=0.0)
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, body = await svc.hook(event())
        job = await wait_for_state(store, body["job_id"])
        assert job.state is JobState.done, job.last_error
        assert await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="retry") == 1
        assert await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="posted") == 1
        assert svc.sample("review_bot_api_errors_total", platform="stub", status="503") == 1
    assert job.attempts == 2
    assert stub.post_calls == 2
    posted = stub.posted[("demo/app", "42", "rev-1")]
    assert [c.rule_id for c in posted.comments] == ["patcher-not-stopped"]
    assert job.result == {
        "dry_run": False,
        "posted": {"posted": True, "comments": 1, "already_posted": 0},
        "plan": plan_to_json(posted),
    }


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_always_transient_failure_ends_in_the_dead_letter(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = StubAdapter(TOKEN)
    stub.fail_next(10)
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, body = await svc.hook(event())
        job = await wait_for_state(store, body["job_id"])
        assert await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="dead") == 1
    assert job.state is JobState.dead
    assert job.attempts == 3  # the store's max_attempts
    assert stub.post_calls == 3
    assert stub.abandoned == [(job.id, "dead")]  # told once, at the end, not per retry
    assert "try later" in (job.last_error or "")
    assert stub.posted == {}


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_permanent_post_failure_fails_without_retry(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = StubAdapter(TOKEN)
    stub.fail_next(1, transient=False)
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, body = await svc.hook(event())
        job = await wait_for_state(store, body["job_id"])
    assert job.state is JobState.failed
    assert stub.post_calls == 1
    assert "refused" in (job.last_error or "")
    assert stub.abandoned == [(job.id, "failed")]


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_a_new_revision_does_not_post_what_the_change_already_carries(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = StubAdapter(TOKEN)
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, first = await svc.hook(event())
        assert (await wait_for_state(store, first["job_id"])).state is JobState.done
        # The same finding, one line lower in the next revision: same fingerprint.
        moved = TEST_TEXT.replace("class T(", "# a comment\nclass T(")
        _, second = await svc.hook(
            event(revision="rev-2", delivery="d-2", files={TEST_FILE: moved})
        )
        job = await wait_for_state(store, second["job_id"])
    assert job.state is JobState.done, job.last_error
    one, two = stub.posted[("demo/app", "42", "rev-1")], stub.posted[("demo/app", "42", "rev-2")]
    assert [c.line for c in one.comments] == [8] and [c.line for c in two.comments] == [9]
    assert one.comments[0].fingerprint == two.comments[0].fingerprint
    assert job.result is not None
    assert job.result["posted"] == {"posted": True, "comments": 0, "already_posted": 1}
    assert len(stub.threads[("demo/app", "42")]) == 1


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_with_base_contents_a_moved_finding_is_not_posted(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    # setUp moves below a longer test method: the diff removes it and adds it again.
    setup = (
        '    def setUp(self):\n        patcher = mock.patch("os.getcwd")\n        patcher.start()\n'
    )
    other = "    def test_a(self):\n" + "".join(f"        x{i} = {i}\n" for i in range(6))
    top = TEST_TEXT[: TEST_TEXT.index("    def setUp")]
    base, head = top + setup + "\n" + other, top + other + "\n" + setup
    diff = "".join(
        difflib.unified_diff(
            base.splitlines(keepends=True),
            head.splitlines(keepends=True),
            f"a/{TEST_FILE}",
            f"b/{TEST_FILE}",
        )
    )
    stub = StubAdapter(TOKEN, credentials=False)
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        body = event(files={TEST_FILE: head}, diff=diff, base_files={TEST_FILE: base})
        _, moved = await svc.hook(body)
        job = await wait_for_state(store, moved["job_id"])
        # Without the base side, the same change is reported: the case bites.
        del body["base_files"]
        _, blind = await svc.hook({**body, "change": "43", "delivery": "d-2"})
        blind_job = await wait_for_state(store, blind["job_id"])
    assert job.state is JobState.done, job.last_error
    assert job.result is not None and blind_job.result is not None
    plan = plan_from_json(job.result["plan"])
    assert plan.comments == () and plan.summary.in_base == 1 and plan.summary.baseline
    blind_plan = plan_from_json(blind_job.result["plan"])
    assert [c.rule_id for c in blind_plan.comments] == ["patcher-not-stopped"]
    assert not blind_plan.summary.baseline


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_a_change_whose_file_cannot_be_read_fails_at_once_naming_it(
    store: SqliteJobStore,
    tmp_path: Path,
    analysis_pool: AnalysisPools,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub = StubAdapter(TOKEN)
    diff = "--- /dev/null\n+++ b/tests/test_gone.py\n@@ -0,0 +1 @@\n+x = 1\n"
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, body = await svc.hook(event(diff=diff))  # the diff names a file with no contents
        job = await wait_for_state(store, body["job_id"])
        assert await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="failed")
    assert job.state is JobState.failed and job.attempts == 1  # an input error: no retry
    assert "tests/test_gone.py" in (job.last_error or "")
    assert stub.post_calls == 0
    # A user's input error, not a bug: no traceback from the last-resort guard.
    assert not [r for r in caplog.records if r.exc_info]


class _BlockingStub(StubAdapter):
    """Posts hang until released: a job still in flight at shutdown."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        self.entered = asyncio.Event()

    async def post(self, job: Job, plan: ReviewPlan) -> dict[str, Any]:
        self.entered.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_shutdown_releases_an_in_flight_job_after_the_grace(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = _BlockingStub()
    config = make_config()
    worker = Worker(
        config,
        store,
        [stub],
        metrics=Metrics(),
        options=WorkerOptions.from_config(config, poll_interval=0.05, shutdown_grace=0.2),
        analysis=analysis_pool,
        cwd=tmp_path,
    )
    queued = store.enqueue(JobKey("stub", "demo/app", "42", "rev-1"), event())
    await worker.start()
    await asyncio.wait_for(stub.entered.wait(), 60)
    assert worker.running
    await worker.stop()
    assert not worker.running
    job = store.get(queued.job_id)
    assert job is not None
    assert job.state is JobState.queued  # handed back, not lost or left "running"
    assert job.lease_owner is None
    assert store.lease("other", 10) is not None  # another worker can take it at once


def test_app_refuses_an_adapter_registered_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        AdapterRegistry([StubAdapter(TOKEN), StubAdapter(TOKEN)])


def test_create_app_mounts_every_adapter_route(store: SqliteJobStore) -> None:
    app = create_app(make_config(), store, [StubAdapter(TOKEN)], metrics=Metrics())
    paths = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if isinstance(r.resource, web.Resource)
    }
    assert {("POST", "/webhooks/stub"), ("GET", "/healthz"), ("GET", "/readyz")} <= paths


def test_json_log_lines_carry_the_job_fields() -> None:
    import json
    import logging

    from bot.service.logs import JsonFormatter

    record = logging.LogRecord(
        "bot.service.worker", logging.INFO, __file__, 1, "job %s", ("posted",), None
    )
    for name, value in {
        "job_id": 7,
        "delivery_id": "d-1",
        "platform": "stub",
        "change": "42",
    }.items():
        setattr(record, name, value)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "job posted"
    assert (line["job_id"], line["delivery_id"], line["platform"], line["change"]) == (
        7,
        "d-1",
        "stub",
        "42",
    )
    assert "project" not in line  # absent fields are left out, not null


def _record(msg: str, level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    """A record as ``log.log(level, msg, extra=extra)`` makes it."""
    return logging.getLogger("bot.service.worker").makeRecord(
        "bot.service.worker", level, __file__, 1, msg, (), None, extra=extra
    )


def test_text_log_lines_carry_the_extra_fields() -> None:
    from bot.service.logs import TextFormatter

    failed = _record(
        "job failed",
        logging.WARNING,
        job_id=12,
        platform="github",
        project="o/r",
        change="7",
        delivery_id=None,
        reason="PermanentError: 422 Unprocessable",
        outcome="failed",
    )
    line = TextFormatter().format(failed)
    assert line.endswith(
        " WARNING job failed job_id=12 platform=github project=o/r change=7 outcome=failed "
        'reason="PermanentError: 422 Unprocessable"'
    ), line
    serving = _record("serving", host="127.0.0.1", port=8080, platforms=["github", "stub"])
    assert (
        TextFormatter()
        .format(serving)
        .endswith(" INFO serving host=127.0.0.1 port=8080 platforms=github,stub")
    )


def test_json_log_lines_carry_every_extra_field() -> None:
    import json

    from bot.service.logs import JsonFormatter

    serving = _record("serving", host="127.0.0.1", port=8080, platforms=["stub"])
    line = json.loads(JsonFormatter().format(serving))
    assert (line["host"], line["port"], line["platforms"]) == ("127.0.0.1", 8080, ["stub"])
    failed = json.loads(JsonFormatter().format(_record("job failed", reason="boom", job_id=3)))
    assert (failed["reason"], failed["job_id"]) == ("boom", 3)


class _SlowFetchStub(StubAdapter):
    """The first fetch waits for ``gate``: time for the test to take the lease away."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def fetch(self, job: Job) -> Any:
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()
        return await super().fetch(job)


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_an_attempt_that_lost_its_lease_does_not_post(
    store: SqliteJobStore, tmp_path: Path, analysis_pool: AnalysisPools
) -> None:
    stub = _SlowFetchStub()
    async with serve(
        store, stub, with_worker=True, worker_pool=analysis_pool, tmp_path=tmp_path
    ) as svc:
        _, body = await svc.hook(event())
        await asyncio.wait_for(stub.entered.wait(), 60)
        leased = store.get(body["job_id"])
        assert leased is not None and leased.lease_owner is not None
        # As if the lease expired and the job went back to the queue mid-attempt.
        store.release(leased.id, leased.lease_owner)
        stub.gate.set()
        job = await wait_for_state(store, body["job_id"])
        assert (
            await svc.settled("review_bot_jobs_total", 1, platform="stub", outcome="lease_lost")
            == 1
        )
    assert job.state is JobState.done
    assert stub.post_calls == 1  # only the attempt that holds the lease posted


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_read_only_store_is_503_and_not_ready(tmp_path: Path) -> None:
    # SQLite itself refuses writes in mode=ro, even for root (chmod would not).
    SqliteJobStore(f"sqlite:///{tmp_path / 'ro.db'}").close()
    read_only = SqliteJobStore(f"sqlite:///{tmp_path / 'ro.db'}?mode=ro")
    try:
        async with serve(read_only, StubAdapter(TOKEN), with_worker=True, tmp_path=tmp_path) as svc:
            status, _ = await svc.get("/readyz")
            assert status == 503
            status, body = await svc.hook(event())
            assert status == 503, body
    finally:
        read_only.close()


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_a_503_is_logged_in_one_line_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    SqliteJobStore(f"sqlite:///{tmp_path / 'ro.db'}").close()
    read_only = SqliteJobStore(f"sqlite:///{tmp_path / 'ro.db'}?mode=ro")
    try:
        async with serve(read_only, StubAdapter(TOKEN)) as svc:
            with caplog.at_level(logging.INFO, logger="bot.service.app"):
                status, _ = await svc.hook(event())
    finally:
        read_only.close()
    assert status == 503
    (record,) = [r for r in caplog.records if "503" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is None  # no traceback
    assert "readonly" in record.__dict__["reason"]
    assert record.__dict__["project"] == "demo/app" and record.__dict__["delivery_id"] == "d-1"
