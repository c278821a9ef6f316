"""`review-bot serve`: build the store, adapters, worker and app from the config, and run.

The address is bound first: one that cannot be listened on is a UsageError (one line,
exit 2) before any store, worker or analysis pool exists, and `serving` is logged only
once the app has started on the bound sockets. aiohttp's run_app turns SIGTERM/SIGINT
into a graceful shutdown: it stops accepting, then the app's cleanup stops the worker,
which finishes or releases in-flight jobs within server.shutdown_grace_seconds.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable

from aiohttp import web
from prometheus_client import Counter

from bot.config.models import Config
from bot.errors import UsageError
from bot.platforms.base import AdapterRegistry
from bot.platforms.gerrit import GerritAdapter
from bot.platforms.github import GitHubAdapter
from bot.platforms.stub import StubAdapter
from bot.service.app import create_app
from bot.service.logs import configure_logging
from bot.service.metrics import Metrics
from bot.service.serve_lock import serve_lock
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
    stub = config.platforms.stub
    if stub.enabled:
        # The config refuses an enabled stub without a token (platforms.stub.token).
        assert stub.token is not None
        registry.register(StubAdapter(stub.token.get_secret_value()))
    return registry


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def listen(host: str, port: int, backlog: int = 128) -> list[socket.socket]:
    """Sockets bound to every address of ``host`` at ``port``, listening; a UsageError
    naming the address when that cannot be done (a port in use, out of range, a host
    that is not this machine's)."""
    where = _address(host, port)
    if not 0 <= port <= 65535:
        raise UsageError(f"cannot listen on {where}: port out of range (0-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:  # socket.gaierror: a name that does not resolve
        raise UsageError(f"cannot listen on {where}: {_reason(exc)}") from None
    sockets: list[socket.socket] = []
    try:
        # What asyncio's create_server does: one socket per address, IPv6 ones v6-only.
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise UsageError(f"cannot listen on {where}: {_reason(exc)}") from None
    return sockets


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    configure_logging(config.logging.level, json_lines=config.logging.json_)
    host = host or config.server.host
    port = config.server.port if port is None else port
    # Bound before anything else is made: a port in use leaves no store, worker or pool.
    sockets = listen(host, port)
    try:
        # After binding: a bad address touches nothing else, not even the lock file. Before
        # the store: a second serve on a SQLite file never migrates, leases or starts a pool.
        with serve_lock(config.storage) or contextlib.nullcontext():
            _run(config, host, sockets)
    finally:
        for sock in sockets:
            sock.close()


def _run(config: Config, host: str, sockets: list[socket.socket]) -> None:
    store = open_store(config)
    try:
        if store.applied_at_open:
            log.info("schema migrated", extra={"versions": list(store.applied_at_open)})
        metrics = Metrics()
        adapters = build_adapters(config, metrics)
        if not adapters.names():
            log.warning(
                "no platform is enabled: every webhook is refused with 404; "
                "enable one under platforms (github, gerrit or stub)"
            )
        worker = Worker(config, store, adapters, metrics=metrics)
        replica = worker.owner
        leadership = store.leadership(replica, on_change=metrics.leadership_hook(replica))
        app = create_app(
            config, store, adapters, metrics=metrics, worker=worker, leadership=leadership
        )
        port = sockets[0].getsockname()[1]  # the one the system chose for port 0

        def started(*_: object) -> None:
            # run_app calls this once the app has started and the sockets accept.
            log.info("serving", extra={"host": host, "port": port, "platforms": adapters.names()})

        web.run_app(
            app,
            sock=sockets,
            shutdown_timeout=config.server.shutdown_grace_seconds,
            print=started,
            access_log=None,
        )
    finally:
        store.close()
