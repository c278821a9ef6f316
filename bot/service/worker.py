"""The job loop of the service: lease a job, fetch the change, analyse it in a process
pool, post (or, in dry run, store) the review, and settle the job in the store.

Store calls go to a thread executor (SQLite blocks); analysis goes to a process pool
(ast-grep-py holds the GIL, so threads would not run it in parallel and would stall
the event loop). Platform calls are bounded per platform by a semaphore.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.config.models import Config
from bot.config.repo import REPO_CONFIG_PATH, with_repo_config
from bot.core.plan import plan_to_json
from bot.core.sources import snapshot
from bot.errors import (
    InputError,
    LeaseLost,
    NotReviewable,
    PermanentError,
    StoreError,
    TransientError,
)
from bot.model import Change, Job, JobState, ReviewPlan
from bot.platforms.base import AdapterRegistry, PlatformAdapter
from bot.service.analysis import AnalysisPools
from bot.service.logs import job_fields
from bot.service.metrics import Metrics
from bot.service.store import JobStore

log = logging.getLogger("bot.service.worker")
T = TypeVar("T")


def _owner(job: Job) -> str:
    """The lease owner of this attempt (set by lease, unique per lease)."""
    assert job.lease_owner is not None, "a leased job has an owner"
    return job.lease_owner


@dataclass(frozen=True)
class WorkerOptions:
    lease_seconds: float = 300.0
    poll_interval: float = 1.0  # idle wait between lease attempts (a webhook wakes us sooner)
    max_jobs: int = 4  # jobs in flight at once
    platform_concurrency: int = 4  # concurrent posts per platform
    shutdown_grace: float = 30.0
    owner: str = ""  # lease owner; default host:pid:random

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> WorkerOptions:
        w = config.workers
        values: dict[str, Any] = {
            "lease_seconds": float(w.lease_seconds),
            "max_jobs": w.analysis_processes,
            "platform_concurrency": w.platform_concurrency,
            "shutdown_grace": float(config.server.shutdown_grace_seconds),
        }
        values.update(overrides)
        return cls(**values)


# Network failures of an adapter's HTTP client: worth retrying.
_TRANSIENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)


# Outcomes after which the job will not run again on its own.
_ENDED_UNPOSTED = frozenset({"stale", "superseded", "failed", "dead", "not_reviewable"})


class Worker:
    def __init__(
        self,
        config: Config,
        store: JobStore,
        adapters: AdapterRegistry | Iterable[PlatformAdapter],
        *,
        metrics: Metrics,
        options: WorkerOptions | None = None,
        store_executor: Executor | None = None,
        analysis: AnalysisPools | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.adapters = (
            adapters if isinstance(adapters, AdapterRegistry) else AdapterRegistry(list(adapters))
        )
        self.metrics = metrics
        self.options = options or WorkerOptions.from_config(config)
        self.owner = (
            self.options.owner or f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._own_store_executor = store_executor is None
        self._store_executor = store_executor or ThreadPoolExecutor(4, thread_name_prefix="store")
        self._own_analysis = analysis is None
        self._analysis = analysis or AnalysisPools(
            config.workers.analysis_processes, cwd or Path.cwd()
        )
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._subscribed = False
        self._leases = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping

    def wake(self) -> None:
        """A job was enqueued: lease now rather than after the poll interval."""
        self._wake.set()

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_executor, lambda: fn(*args, **kwargs))

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            if not self._subscribed:
                # Jobs queued by another replica (PostgreSQL's NOTIFY) wake us as our own do.
                self.store.subscribe(self._wake_from_thread(asyncio.get_running_loop()))
                self._subscribed = True
            self._task = asyncio.create_task(self._run(), name="review-bot-worker")

    def _wake_from_thread(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self._wake.set)

        return wake

    async def stop(self, grace: float | None = None) -> None:
        """Stop leasing; give in-flight jobs ``grace`` seconds, then cancel and release them."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        grace = self.options.shutdown_grace if grace is None else grace
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()  # _process releases the job back to the queue
            await asyncio.gather(*pending, return_exceptions=True)
        if self._own_analysis:
            # Its jobs were released above: a worker still on a file is stopped, not waited for.
            await asyncio.to_thread(self._analysis.close)
        if self._own_store_executor:
            self._store_executor.shutdown(wait=True)

    async def _run(self) -> None:
        opts = self.options
        while not self._stopping:
            if len(self._inflight) >= opts.max_jobs:
                # Bounded wait: a stop() must not hang behind a job that never finishes.
                await asyncio.wait(
                    set(self._inflight),
                    timeout=opts.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                continue
            try:
                # One owner per lease, not per worker: a job released and re-leased by this
                # same worker must not let the first, stale attempt still complete or post.
                self._leases += 1
                owner = f"{self.owner}#{self._leases}"
                job = await self._call(self.store.lease, owner, opts.lease_seconds)
            except Exception:
                log.exception("leasing a job failed")
                job = None
            if job is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), opts.poll_interval)
                self._wake.clear()
                continue
            task = asyncio.create_task(self._process(job), name=f"job-{job.id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _heartbeat(self, job: Job) -> None:
        every = max(self.options.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                held = await self._call(
                    self.store.heartbeat, job.id, _owner(job), self.options.lease_seconds
                )
            except Exception:
                log.exception("heartbeat failed", extra=job_fields(job))
                continue
            if not held:
                log.warning("lease lost", extra=job_fields(job))
                return

    async def _process(self, job: Job) -> None:
        fields = job_fields(job)
        platform = job.key.platform
        started = time.monotonic()
        log.info("job started (attempt %d)", job.attempts, extra=fields)
        heartbeat = asyncio.create_task(self._heartbeat(job))
        outcome = "failed"
        reason: str | None = None  # why the attempt failed, for the job's log line
        try:
            outcome = await self._attempt(job)
        except asyncio.CancelledError:
            # Shutdown grace ran out: hand the job back so another worker takes it at once.
            outcome = "released"
            with contextlib.suppress(Exception):
                await self._call(self.store.release, job.id, _owner(job))
            raise
        except LeaseLost:
            outcome = "lease_lost"
        except TransientError as exc:
            self._api_error(platform, exc.status)
            reason = str(exc)
            outcome = await self._fail(job, reason, transient=True, retry_after=exc.retry_after)
        except PermanentError as exc:
            self._api_error(platform, exc.status)
            reason = str(exc)
            outcome = await self._fail(job, reason, transient=False)
        except InputError as exc:
            # A change the platform sent that we cannot read (a malformed diff, say).
            reason = str(exc)
            outcome = await self._fail(job, reason, transient=False)
        except _TRANSIENT as exc:
            self._api_error(platform, None)
            reason = f"{type(exc).__name__}: {exc}"
            outcome = await self._fail(job, reason, transient=True)
        except StoreError as exc:
            # The database went away mid-job (a restart, a failover): retry, never fail.
            reason = str(exc)
            outcome = await self._fail(job, reason, transient=True)
        except Exception as exc:
            # A bug or an unreadable change: retrying will not help; `jobs retry` can.
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("job failed unexpectedly", extra={**fields, "reason": reason})
            outcome = await self._fail(job, reason, transient=False)
        finally:
            heartbeat.cancel()
            if outcome in _ENDED_UNPOSTED:
                await self._abandon(job, outcome)
            self.metrics.jobs.labels(platform, outcome).inc()
            self.metrics.job_duration.labels(platform).observe(time.monotonic() - started)
            level = logging.WARNING if outcome in ("failed", "dead") else logging.INFO
            log.log(
                level, "job %s", outcome, extra={**fields, "outcome": outcome, "reason": reason}
            )

    async def _abandon(self, job: Job, outcome: str) -> None:
        """Tell the platform the job ended without a review (a check run left in progress
        would spin forever); best effort, it must not change the job's outcome."""
        try:
            adapter = self.adapters.get(job.key.platform)
            await adapter.abandon(job, outcome)
        except Exception:
            log.exception("could not tell the platform the job ended", extra=job_fields(job))

    def _api_error(self, platform: str, status: int | None) -> None:
        self.metrics.api_errors.labels(platform, str(status) if status else "none").inc()

    async def _fail(
        self, job: Job, error: str, *, transient: bool, retry_after: float | None = None
    ) -> str:
        try:
            state = await self._call(
                self.store.fail,
                job.id,
                _owner(job),
                error,
                transient=transient,
                retry_after=retry_after,
            )
        except LeaseLost:
            return "lease_lost"
        except StoreError as exc:
            # Still down: the job stays leased to us in the store, and once the lease
            # expires a worker (here or on another replica) runs it again.
            log.warning(
                "store unavailable: the attempt is not recorded; the job runs again when "
                "its lease expires",
                extra={**job_fields(job), "reason": str(exc)},
            )
            return "store_unavailable"
        if state is JobState.queued:
            return "retry"
        return state.value  # failed or dead

    async def _still_ours(self, job: Job) -> str | None:
        """None while we hold the lease; else why the job must not go on."""
        current = await self._call(self.store.get, job.id)
        if current is None:
            return "lease_lost"
        if current.state is JobState.superseded:
            return "superseded"
        if current.state is not JobState.running or current.lease_owner != _owner(job):
            return "lease_lost"
        return None

    async def _plan(self, change: Change, config: Config) -> ReviewPlan:
        options = config.check_options()
        snap = await asyncio.to_thread(snapshot, change, options)  # readers may block
        return await self._analysis.plan(snap, config, options)

    async def _not_reviewable(self, job: Job, exc: NotReviewable) -> str:
        log.info("not reviewed: %s", exc, extra=job_fields(job))
        result = {"posted": False, "not_reviewable": str(exc)}
        await self._call(self.store.complete, job.id, _owner(job), result)
        return "not_reviewable"

    async def _attempt(self, job: Job) -> str:
        stop = await self._still_ours(job)
        if stop is not None:
            return stop
        platform = job.key.platform
        adapter = self.adapters.get(platform)  # KeyError: no such adapter, fails the job
        team = self.config.for_project(platform, job.key.project)
        try:
            change = await adapter.fetch(job)
        except NotReviewable as exc:
            return await self._not_reviewable(job, exc)
        # The repository's own settings (read at the base revision); a broken file is
        # named in the review, and the team's settings apply.
        config, repo_error = with_repo_config(team, change.repo_config)
        try:
            plan = await self._plan(change, config)
        except InputError as exc:
            if config is team:
                raise
            # Valid YAML that the rules refuse (a rule id that does not exist, say).
            repo_error = f"{REPO_CONFIG_PATH}: {exc}"
            config = team
            plan = await self._plan(change, config)
        notes = list(change.notes)
        if repo_error is not None:
            notes.append(f"{repo_error} (the repository's settings were not applied)")
        if notes:
            plan = replace(plan, summary=replace(plan.summary, notes=(*plan.summary.notes, *notes)))
        for comment in plan.comments:
            self.metrics.findings.labels(comment.rule_id).inc()
        if not adapter.has_credentials or self.config.is_dry_run(platform):
            await self._call(
                self.store.complete,
                job.id,
                _owner(job),
                {"dry_run": True, "plan": plan_to_json(plan)},
            )
            return "dry_run"
        # Analysis can take long: a newer revision or a lost lease makes this post stale.
        stop = await self._still_ours(job)
        if stop is not None:
            return stop
        newer = await self._call(self.store.newer_revision, job.id)
        if newer is not None and not job.payload.get("recheck"):
            # Not current any more, and nobody asked for this revision explicitly.
            await self._call(
                self.store.complete, job.id, _owner(job), {"posted": False, "stale_for": newer}
            )
            return "stale"
        semaphore = self._semaphores.setdefault(
            platform, asyncio.Semaphore(self.options.platform_concurrency)
        )
        try:
            async with semaphore:
                posted = await adapter.post(job, plan)
        except NotReviewable as exc:
            return await self._not_reviewable(job, exc)
        result = {"dry_run": False, "posted": posted, "plan": plan_to_json(plan)}
        await self._call(self.store.complete, job.id, _owner(job), result)
        return "posted"
