"""An aiohttp app on 127.0.0.1 (a free port) on its own event loop in a thread: how the
fake platforms run beside a test or a benchmark that is itself synchronous."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


class AppThread:
    def __init__(self, make_app: Callable[[], web.Application], name: str) -> None:
        self._make_app = make_app
        self.name = name
        self.port = 0
        self.thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> int:
        """Serve until ``stop()``; the port it listens on."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            runner = web.AppRunner(self._make_app(), access_log=None)
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            finally:
                ready.set()  # a failed bind must not leave start() waiting
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self.port

    def stop(self) -> None:
        """Idempotent: stops the loop, closes the listener and joins the thread."""
        if self._loop is not None and self.thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self.thread.join(10)
        self.thread = self._loop = None
