"""Prometheus metrics of the service, in a registry of their own (so tests and several
apps in one process do not collide on the global one).

Labels are only platform names, rule ids, outcomes and HTTP statuses: bounded sets,
and never a token, URL or anything a webhook sender controls freely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.deliveries_received = Counter(
            "review_bot_deliveries_received",
            "Webhook deliveries received.",
            ["platform"],
            registry=r,
        )
        self.deliveries_rejected = Counter(
            "review_bot_deliveries_rejected",
            "Webhook deliveries refused, by HTTP status answered.",
            ["platform", "status"],
            registry=r,
        )
        self.deliveries_deduplicated = Counter(
            "review_bot_deliveries_deduplicated",
            "Webhook deliveries already seen (redelivered), answered 202 without a job.",
            ["platform"],
            registry=r,
        )
        self.events_ignored = Counter(
            "review_bot_events_ignored",
            "Valid webhooks that ask for no review, by kind (ignored, unauthorised, ping).",
            ["platform", "kind"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "review_bot_queue_depth", "Jobs waiting or running in the store.", registry=r
        )
        self.jobs = Counter(
            "review_bot_jobs",
            "Finished job attempts by outcome "
            "(posted, dry_run, not_reviewable, retry, failed, dead, superseded, released).",
            ["platform", "outcome"],
            registry=r,
        )
        self.job_duration = Histogram(
            "review_bot_job_duration_seconds",
            "Time from lease to outcome of one job attempt.",
            ["platform"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.findings = Counter(
            "review_bot_findings", "Findings in reviews, by rule.", ["rule"], registry=r
        )
        self.api_errors = Counter(
            "review_bot_api_errors",
            "Errors from platform APIs, by platform and HTTP status ('none' for network).",
            ["platform", "status"],
            registry=r,
        )

        self.leader = Gauge(
            "review_bot_leader",
            "1 while this replica leads (runs the platforms' background tasks), else 0.",
            ["replica"],
            registry=r,
        )
        self.leader_elected = Counter(
            "review_bot_leader_elected",
            "Times this replica became the leader.",
            ["replica"],
            registry=r,
        )

        self.reconcile_sweeps = Counter(
            "review_bot_reconcile_sweeps",
            "Reconcile sweeps by platform and outcome (ok, partial, rate_limited, failed).",
            ["platform", "outcome"],
            registry=r,
        )
        self.reconcile_seen = Counter(
            "review_bot_reconcile_changes_seen",
            "Open changes a sweep found updated since the sweep before.",
            ["platform"],
            registry=r,
        )
        self.reconcile_queued = Counter(
            "review_bot_reconcile_changes_queued",
            "Changes a sweep queued because no event had: lost deliveries, found.",
            ["platform"],
            registry=r,
        )
        self.reconcile_last_sweep = Gauge(
            "review_bot_reconcile_last_sweep_timestamp_seconds",
            "When the last complete sweep ended (epoch seconds).",
            ["platform"],
            registry=r,
        )

        self.github_requests = Counter(
            "github_api_requests",
            "GitHub API requests, by endpoint template and HTTP status ('none': no answer).",
            ["endpoint", "status"],
            registry=r,
        )

        self.gerrit_requests = Counter(
            "gerrit_api_requests",
            "Gerrit REST requests, by endpoint template and HTTP status ('none': no answer).",
            ["endpoint", "status"],
            registry=r,
        )

    def leadership_hook(self, replica: str) -> Callable[[bool], None]:
        """A `Leadership` on_change hook: this replica's leader gauge and elections. The
        replica label is this process's own id, one value per process."""
        self.leader.labels(replica).set(0)

        def changed(leading: bool) -> None:
            self.leader.labels(replica).set(1 if leading else 0)
            if leading:
                self.leader_elected.labels(replica).inc()

        return changed

    def track_queue_depth(self, depth: Callable[[], int]) -> None:
        """Read the depth at scrape time; a broken store shows as NaN, not a crash."""

        def read() -> float:
            try:
                return float(depth())
            except Exception:
                return math.nan

        self.queue_depth.set_function(read)

    def track_platforms(self, health: Callable[[], dict[str, dict[str, Any]]]) -> None:
        """Adapters' own state, read at scrape time: a stream-events connection shows as
        connected, reconnects and events (``PlatformAdapter.health()["stream"]``)."""
        self.registry.register(_StreamCollector(health))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StreamCollector(Collector):
    def __init__(self, health: Callable[[], dict[str, dict[str, Any]]]) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily(
            "review_bot_stream_connected",
            "Whether the platform's event stream (Gerrit stream-events) is connected.",
            labels=["platform"],
        )
        reconnects = CounterMetricFamily(
            "review_bot_stream_reconnects",
            "Connections of the event stream after its first one.",
            labels=["platform"],
        )
        events = CounterMetricFamily(
            "review_bot_stream_events", "Events read from the event stream.", labels=["platform"]
        )
        for platform, health in self._health().items():
            stream = health.get("stream")
            if not isinstance(stream, dict):
                continue
            connected.add_metric([platform], 1.0 if stream.get("connected") else 0.0)
            reconnects.add_metric([platform], float(stream.get("reconnects", 0)))
            events.add_metric([platform], float(stream.get("events", 0)))
        yield from (connected, reconnects, events)
