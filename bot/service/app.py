"""The webhook service: aiohttp app with the platforms' webhook routes, health, readiness
and metrics.

A webhook handler only verifies, decodes and enqueues: no platform API call, so it
answers within the platform's timeout and a slow or failing API never loses an event
(the worker retries from the durable queue). If the store cannot take the job the
answer is 503, so the platform redelivers; never 202 and drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from bot.config.models import Config
from bot.errors import WebhookRejected
from bot.model import JobKey
from bot.platforms.base import (
    AdapterRegistry,
    EventSink,
    Ignored,
    ParsedEvent,
    PlatformAdapter,
    WebhookRoute,
)
from bot.service.metrics import CONTENT_TYPE, Metrics
from bot.service.reconcile import Reconciler
from bot.service.store import EnqueueResult, JobStore
from bot.service.store.leader import Leadership, SoleLeader
from bot.service.worker import Worker

log = logging.getLogger("bot.service.app")
T = TypeVar("T")

STORE_TIMEOUT = 10.0  # seconds a readiness ping may take before we call the store broken

CONFIG: web.AppKey[Config] = web.AppKey("config", Config)
STORE: web.AppKey[JobStore] = web.AppKey("store", JobStore)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
ADAPTERS: web.AppKey[AdapterRegistry] = web.AppKey("adapters", AdapterRegistry)
WORKER: web.AppKey[Worker | None] = web.AppKey("worker")


# The meta key of the replica that took the lead last; readyz shows it.
LEADER_CHECKPOINT = "leader"


def _json(code: int, **body: Any) -> web.Response:
    return web.json_response(body, status=code)


class _StoreDown(Exception):
    """The store could not take an event (logged where it happened)."""


class _StoreCheckpoint:
    """A background task's `Checkpoint`, as an epoch time in the store's meta table."""

    def __init__(self, hooks: _Webhooks, name: str) -> None:
        self._hooks = hooks
        self._name = name

    async def load(self) -> float | None:
        text = await self._hooks.call(self._hooks.store.read_checkpoint, self._name)
        try:
            return None if text is None else float(text)
        except ValueError:
            log.warning("checkpoint %s is not a time: %r; starting afresh", self._name, text)
            return None

    async def save(self, value: float) -> None:
        await self._hooks.call(self._hooks.store.write_checkpoint, self._name, repr(value))


class _Webhooks:
    """The handlers; store calls go to ``executor`` so SQLite never blocks the loop."""

    def __init__(
        self,
        config: Config,
        store: JobStore,
        metrics: Metrics,
        executor: Executor,
        worker: Worker | None,
        adapters: AdapterRegistry,
        leadership: Leadership,
    ) -> None:
        self.adapters = adapters
        self.leadership = leadership
        self.config = config
        self.store = store
        self.metrics = metrics
        self.executor = executor
        self.worker = worker

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def _reject(self, platform: str, status: int, reason: str) -> web.Response:
        self.metrics.deliveries_rejected.labels(platform, str(status)).inc()
        return _json(status, status="rejected", reason=reason)

    def handler(self, platform: str, route: WebhookRoute) -> Callable[..., Any]:
        limit = self.config.server.max_body_bytes

        async def handle(request: web.Request) -> web.Response:
            self.metrics.deliveries_received.labels(platform).inc()
            try:
                if route.authorize is not None:
                    # Before the body is read: an unauthorised sender costs nothing.
                    route.authorize(request.match_info, request.remote)
            except WebhookRejected as exc:
                return self._reject(platform, exc.status, exc.reason)
            # Refuse by the declared length before reading; client_max_size catches
            # chunked bodies that lie or declare nothing.
            if request.content_length is not None and request.content_length > limit:
                return self._reject(platform, 413, f"body over {limit} bytes")
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return self._reject(platform, 413, f"body over {limit} bytes")
            try:
                event = route.parse(request.headers, body)
            except WebhookRejected as exc:
                return self._reject(platform, exc.status, exc.reason)
            try:
                status, answer = await self.accept(platform, event)
            except _StoreDown:
                return self._reject(platform, 503, "job store unavailable")
            return _json(status, **answer)

        return handle

    def sink(self, platform: str) -> EventSink:
        """A background task's way in (Gerrit's stream): the same path as a webhook."""

        async def take(event: ParsedEvent | Ignored) -> None:
            self.metrics.deliveries_received.labels(platform).inc()
            await self.accept(platform, event)

        return take

    async def accept(
        self, platform: str, event: ParsedEvent | Ignored
    ) -> tuple[int, dict[str, Any]]:
        """Queue the event's job (or count it ignored): the answer's status and body."""
        if isinstance(event, Ignored):
            self.metrics.events_ignored.labels(platform, event.kind).inc()
            return event.status, {"status": event.kind, "reason": event.reason}
        fields = {
            "delivery_id": event.delivery_id,
            "platform": event.platform,
            "project": event.project,
            "change": event.change,
            "revision": event.revision,
        }
        try:
            # Enqueue before recording the delivery: if recording then failed, the
            # platform's redelivery would be taken for a duplicate and the event lost.
            # A duplicate enqueue coalesces with the existing job of the same key.
            queued = await self.enqueue(event)
            new = event.delivery_id is None or await self.call(
                self.store.record_delivery,
                event.delivery_id,
                self.config.server.delivery_ttl_seconds,
            )
        except Exception as exc:
            # One line: the store's own error says what is wrong (read-only, disk full).
            reason = str(exc) or type(exc).__name__
            log.error(
                "store unavailable; delivery refused with 503", extra={**fields, "reason": reason}
            )
            raise _StoreDown from exc
        if not new:
            self.metrics.deliveries_deduplicated.labels(platform).inc()
            log.info("duplicate delivery", extra={**fields, "job_id": queued.job_id})
            return 202, {"status": "duplicate", "job_id": queued.job_id}
        log.info(
            "queued (coalesced=%s, superseded=%s)",
            queued.coalesced,
            list(queued.superseded),
            extra={**fields, "job_id": queued.job_id},
        )
        return 202, {
            "status": "queued",
            "job_id": queued.job_id,
            "coalesced": queued.coalesced,
            "superseded": list(queued.superseded),
        }

    async def enqueue(self, event: ParsedEvent) -> EnqueueResult:
        """The event's job into the store (coalescing as the store does), the worker woken."""
        key = JobKey(event.platform, event.project, event.change, event.revision)
        queued: EnqueueResult = await self.call(
            self.store.enqueue,
            key,
            # The worker reads it: a re-check asked for this revision explicitly.
            {**event.payload, "recheck": event.recheck},
            delivery_id=event.delivery_id,
            recheck=event.recheck,
        )
        if not queued.coalesced and self.worker is not None:
            self.worker.wake()
        return queued

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, status="alive")

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self.call(self.store.ping), STORE_TIMEOUT)
        except Exception as exc:
            reason = f"store: {exc}" if str(exc) else f"store: {type(exc).__name__}"
            return _json(503, status="not ready", reason=reason, **self.me())
        if self.worker is None or not self.worker.running:
            return _json(
                503, status="not ready", reason="worker loop not running", **await self.replica()
            )
        # An adapter's own state (Gerrit's stream) is shown, not judged: a stream that is
        # reconnecting must not take the webhook routes out of the load balancer.
        platforms = {a.name: h for a in self.adapters if (h := a.health())}
        return _json(
            200,
            status="ready",
            **await self.replica(),
            **({"platforms": platforms} if platforms else {}),
        )

    def me(self) -> dict[str, Any]:
        """Who this replica is and whether it leads: in every readyz answer."""
        return {"replica": self.leadership.replica, "leading": self.leadership.leading}

    async def replica(self) -> dict[str, Any]:
        """``me()``, and which replica took the lead last (as the store has it)."""
        try:
            leader = await self.call(self.store.read_checkpoint, LEADER_CHECKPOINT)
        except Exception:  # the ping above passed; a failure now is not worth a 503
            leader = None
        return {**self.me(), "leader": leader}

    async def lead(self) -> None:
        """What the leader runs: every adapter's background tasks, each resuming from
        its checkpoint in the store."""
        replica = self.leadership.replica
        try:
            await self.call(self.store.write_checkpoint, LEADER_CHECKPOINT, replica)
        except Exception as exc:  # only readyz reads it: not a reason to lead nothing
            log.warning("cannot record the leader: %s", exc, extra={"replica": replica})
        runs = [
            run(self.sink(adapter.name), _StoreCheckpoint(self, f"{adapter.name}.{n}"))
            for adapter in self.adapters
            for n, run in enumerate(adapter.background_tasks())
        ]
        if self.config.reconcile.enabled:
            runs += [
                Reconciler(
                    adapter,
                    self.enqueue,
                    _StoreCheckpoint(self, f"reconcile.{adapter.name}"),
                    self.config.reconcile,
                    self.metrics,
                ).run()
                for adapter in self.adapters
            ]
        await asyncio.gather(*runs)
        await asyncio.Event().wait()  # nothing (more) to run: lead until told to stop

    async def metrics_page(self, request: web.Request) -> web.Response:
        # Rendering calls the queue-depth callback, a store read: off the loop.
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(self.executor, self.metrics.render)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


def create_app(
    config: Config,
    store: JobStore,
    adapters: AdapterRegistry | Iterable[PlatformAdapter],
    *,
    metrics: Metrics,
    worker: Worker | None = None,
    store_executor: Executor | None = None,
    leadership: Leadership | None = None,
) -> web.Application:
    """The service app. With ``worker`` the app starts it on startup and stops it (with
    the shutdown grace) on cleanup. Adapters' background tasks run while ``leadership``
    says this replica leads (without one, it always does)."""
    registry = (
        adapters if isinstance(adapters, AdapterRegistry) else AdapterRegistry(list(adapters))
    )
    # client_max_size stops bodies without (or with a lying) Content-Length.
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[CONFIG] = config
    app[STORE] = store
    app[METRICS] = metrics
    app[ADAPTERS] = registry
    app[WORKER] = worker
    own_executor = store_executor is None
    executor = store_executor or ThreadPoolExecutor(4, thread_name_prefix="webhook-store")
    leadership = leadership or SoleLeader(worker.owner if worker is not None else "app")
    hooks = _Webhooks(config, store, metrics, executor, worker, registry, leadership)
    metrics.track_platforms(lambda: {a.name: a.health() for a in registry})
    metrics.track_queue_depth(store.depth)

    for adapter in registry:
        for route in adapter.routes():
            app.router.add_route(route.method, route.path, hooks.handler(adapter.name, route))
    app.router.add_get("/healthz", hooks.healthz)
    app.router.add_get("/readyz", hooks.readyz)
    app.router.add_get("/metrics", hooks.metrics_page)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(leadership.run(hooks.lead), name="leadership")]
        if worker is not None:
            await worker.start()
        yield
        if worker is not None:
            await worker.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if own_executor:
            executor.shutdown(wait=True)

    app.cleanup_ctx.append(lifecycle)
    return app
