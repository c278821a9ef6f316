"""`review-bot serve`: build the store, adapters, worker and app from the config, and run.

aiohttp's run_app turns SIGTERM/SIGINT into a graceful shutdown: it stops accepting,
then the app's cleanup stops the worker, which finishes or releases in-flight jobs
within server.shutdown_grace_seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from aiohttp import web
from prometheus_client import Counter

from bot.config.models import Config
from bot.platforms.base import AdapterRegistry
from bot.platforms.gerrit import GerritAdapter
from bot.platforms.github import GitHubAdapter
from bot.platforms.stub import StubAdapter
from bot.service.app import create_app
from bot.service.logs import configure_logging
from bot.service.metrics import Metrics
from bot.service.store import open_store
from bot.service.worker import Worker

log = logging.getLogger("review-bot.service")


def _counted(counter: Counter) -> Callable[[str, str], None]:
    """An API client's request hook: (endpoint template, status) counted."""
    return lambda endpoint, status: counter.labels(endpoint, status).inc()


def build_adapters(config: Config, metrics: Metrics | None = None) -> AdapterRegistry:
    """The adapters the config enables."""
    registry = AdapterRegistry()
    github = config.platforms.github
    if github.enabled:
        registry.register(
            GitHubAdapter(
                github,
                review=lambda project: config.for_project("github", project).review,
                dry_run=config.is_dry_run("github"),
                on_request=None if metrics is None else _counted(metrics.github_requests),
            )
        )
    gerrit = config.platforms.gerrit
    if gerrit.enabled:
        registry.register(
            GerritAdapter(
                gerrit,
                review=lambda project: config.for_project("gerrit", project).review,
                dry_run=config.is_dry_run("gerrit"),
                on_request=None if metrics is None else _counted(metrics.gerrit_requests),
            )
        )
    if config.platforms.stub.enabled:
        # A test adapter: its shared token comes from the environment, never the config.
        registry.register(StubAdapter(os.environ.get("REVIEW_BOT_STUB_TOKEN", "")))
    return registry


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    configure_logging(config.logging.level, json_lines=config.logging.json_)
    store = open_store(config)
    metrics = Metrics()
    adapters = build_adapters(config, metrics)
    worker = Worker(config, store, adapters, metrics=metrics)
    app = create_app(config, store, adapters, metrics=metrics, worker=worker)
    host = host or config.server.host
    port = config.server.port if port is None else port
    log.info("serving", extra={"host": host, "port": port, "platforms": adapters.names()})
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            shutdown_timeout=config.server.shutdown_grace_seconds,
            print=None,
            access_log=None,
        )
    finally:
        store.close()
