"""The reconciler: a periodic sweep, on the leader, for changes whose events never
became jobs.

GitHub does not redeliver a webhook that failed, so a delivery answered 503 while the
store was down is lost unless someone looks. Every ``reconcile.interval_seconds`` the
leader lists, per platform, the open changes updated since its last sweep and enqueues
each one's head (or current patch set). The store's coalescing turns everything already
queued, running or reviewed into a no-op, so a sweep after a normal day queues nothing.

A sweep that did not list every target leaves its checkpoint where it was, so the next
one covers the same span again. Listing calls are paced (``pause_seconds`` apart) and a
rate limit ends the sweep until the wait it names has passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeGuard

from bot.config.models import ReconcileConfig
from bot.errors import TransientError
from bot.platforms.base import Checkpoint, ParsedEvent, PlatformAdapter
from bot.service.metrics import Metrics
from bot.service.store import EnqueueResult

log = logging.getLogger("bot.service.reconcile")

# Platform clocks and ours differ a little, and "updated" is stored in whole seconds.
SKEW_SECONDS = 60.0
# After a failed sweep, the next try comes this soon at the latest.
RETRY_SECONDS = 60.0

Enqueue = Callable[[ParsedEvent], Awaitable[EnqueueResult]]


@dataclass
class SweepResult:
    seen: int = 0  # open changes listed as updated in the span
    queued: int = 0  # of those, new jobs (not coalesced into one that exists)
    failed: int = 0  # targets whose listing failed
    retry_after: float | None = None  # a rate limit's wait, when one ended the sweep

    @property
    def outcome(self) -> str:
        if self.retry_after is not None:
            return "rate_limited"
        return "partial" if self.failed else "ok"


def _rate_limited(exc: Exception) -> TypeGuard[TransientError]:
    """A platform's rate limit (GitHub answers 403 or 429 with the wait)."""
    if not isinstance(exc, TransientError):
        return False
    return exc.status in (403, 429) and exc.retry_after is not None


class Reconciler:
    """One platform's sweeps; ``run()`` lives as long as this replica leads."""

    def __init__(
        self,
        adapter: PlatformAdapter,
        enqueue: Enqueue,
        checkpoint: Checkpoint,
        settings: ReconcileConfig,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.adapter = adapter
        self._enqueue = enqueue
        self._checkpoint = checkpoint
        self.settings = settings
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep

    async def run(self) -> None:
        wait = 0.0
        while True:
            if wait:
                await self._sleep(wait)
            # Read each round: a sweep by the replica that led before counts too.
            last = await self._load()
            now = self._clock()
            interval = self.settings.interval_seconds
            if last is not None and last + interval > now:
                wait = last + interval - now
                continue
            try:
                result = await self.sweep(last)
            except Exception as exc:  # the store: nothing was checkpointed, so try again
                log.warning(
                    "reconcile sweep failed: %s", exc, extra={"platform": self.adapter.name}
                )
                self._metrics.reconcile_sweeps.labels(self.adapter.name, "failed").inc()
                wait = min(RETRY_SECONDS, interval)
                continue
            if result.outcome == "ok":
                wait = interval
            else:
                wait = min(max(result.retry_after or 0.0, RETRY_SECONDS), interval)

    async def _load(self) -> float | None:
        try:
            return await self._checkpoint.load()
        except Exception as exc:  # the store is down: the sweep itself will say so
            log.warning("reconcile checkpoint unreadable: %s", exc)
            return None

    async def sweep(self, last: float | None) -> SweepResult:
        """List every target's open changes updated since ``last`` (one interval back
        when there is none, never more than max_lookback_seconds) and enqueue them."""
        platform = self.adapter.name
        start = self._clock()
        since = start - self.settings.interval_seconds if last is None else last
        since = max(since, start - self.settings.max_lookback_seconds) - SKEW_SECONDS
        result = SweepResult()
        targets = await self.adapter.sweep_targets()
        if not targets:
            return result  # nothing to sweep (the stub; GitHub token auth without repos)
        for n, target in enumerate(targets):
            if n:
                await self._sleep(self.settings.pause_seconds)
            try:
                events = await self.adapter.open_changes(target, since)
            except Exception as exc:  # a refusal (403, 404) or an outage: this target only
                result.failed += 1
                extra = {"platform": platform}
                log.warning("reconcile: listing %s failed: %s", target.name, exc, extra=extra)
                if _rate_limited(exc):
                    result.retry_after = exc.retry_after
                    break  # every further call would be refused too
                continue
            for event in events:
                queued = await self._enqueue(event)  # a store failure ends the sweep
                result.seen += 1
                if not queued.coalesced:
                    result.queued += 1
                    log.info(
                        "reconcile: queued a change no event had queued",
                        extra={
                            "platform": platform,
                            "project": event.project,
                            "change": event.change,
                            "revision": event.revision,
                            "job_id": queued.job_id,
                        },
                    )
        self._count(result)
        if result.outcome == "ok":
            await self._checkpoint.save(start)
        log.info(
            "reconcile sweep %s: %d change(s) updated since %s, %d queued, %d target(s) failed",
            result.outcome,
            result.seen,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)),
            result.queued,
            result.failed,
            extra={"platform": platform},
        )
        return result

    def _count(self, result: SweepResult) -> None:
        platform = self.adapter.name
        m = self._metrics
        m.reconcile_sweeps.labels(platform, result.outcome).inc()
        m.reconcile_seen.labels(platform).inc(result.seen)
        m.reconcile_queued.labels(platform).inc(result.queued)
        if result.outcome == "ok":
            m.reconcile_last_sweep.labels(platform).set(self._clock())
