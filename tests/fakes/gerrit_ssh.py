"""A fake Gerrit SSH daemon on 127.0.0.1 for ``gerrit stream-events``, built with asyncssh.

It behaves as Gerrit's sshd does for a stream-events client:

- the host key is an ed25519 key made at construction; ``known_hosts_file`` holds it for
  ``[127.0.0.1]:PORT`` (written by ``start()``, once the port is known), the form
  ``ssh-keyscan -p PORT 127.0.0.1`` prints;
- only public-key auth, only for ``username`` with the client key written to ``key_file``;
  every rejected key is counted in ``auth_failures``;
- exec ``gerrit stream-events`` streams: ``emit()`` writes one JSON object a line to every
  live stream session, as Gerrit does (the server never reads stdin); without the
  capability (``stream_events_allowed = False``) it answers Gerrit's ``fatal:`` line on
  stderr and exit status 1; any other command: ``fatal: "foo" is not a gerrit command``, 1;
- ``drop()`` aborts every connection without an SSH disconnect (a server restart).

The server runs on its own event loop in a thread; ``start()``/``stop()``, or ``with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import asyncssh

HOST = "127.0.0.1"
COMMAND = ("gerrit", "stream-events")
_T = TypeVar("_T")


class FakeGerritSsh:
    def __init__(
        self,
        tmp_dir: Path,
        *,
        username: str = "review-bot",
        stream_events_allowed: bool = True,
    ) -> None:
        self.tmp_dir = tmp_dir
        self.username = username
        # Read on the server loop when a command arrives: flip it from the test thread at will.
        self.stream_events_allowed = stream_events_allowed
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.key_file = tmp_dir / "id_ed25519"
        self.known_hosts_file = tmp_dir / "known_hosts"
        self.client_key.write_private_key(str(self.key_file))
        self.key_file.chmod(0o600)
        self.port = 0
        self.connections_total = 0
        self.logins = 0  # connections that completed auth
        self.auth_failures = 0  # public keys or users refused
        self.commands: list[str] = []
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._streams: set[asyncssh.SSHServerProcess[str]] = set()
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._stopping: asyncio.Event | None = None

    # --- files the client needs --------------------------------------------------------------

    @staticmethod
    def known_hosts_line(port: int, key: asyncssh.SSHKey) -> str:
        public = key.export_public_key("openssh").decode().split()
        return f"[{HOST}]:{port} {public[0]} {public[1]}\n"

    def other_known_hosts(self, path: Path) -> Path:
        """A known_hosts file that trusts a DIFFERENT key for this server's host and port."""
        path.write_text(
            self.known_hosts_line(self.port, asyncssh.generate_private_key("ssh-ed25519"))
        )
        return path

    def other_client_key(self, path: Path) -> Path:
        """A private key file the server does not know."""
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(path))
        path.chmod(0o600)
        return path

    # --- what the test sees ------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        """Live ``gerrit stream-events`` sessions."""
        with self._changed:
            return len(self._streams)

    @property
    def connections(self) -> int:
        """Live SSH connections (authenticated or not)."""
        with self._changed:
            return len(self._connections)

    def wait_sessions(self, n: int, timeout: float = 5.0) -> None:
        """Block the calling thread until exactly ``n`` stream sessions are live."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._streams) == n, timeout):
                raise TimeoutError(f"{len(self._streams)} stream sessions live, waited for {n}")

    def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        """Block the calling thread until exactly ``n`` SSH connections are live."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._connections) == n, timeout):
                raise TimeoutError(f"{len(self._connections)} connections live, waited for {n}")

    # --- acting ------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> int:
        """Send one event line to every live stream session; returns how many got it."""
        return self.emit_raw(json.dumps(event) + "\n")

    def emit_raw(self, text: str) -> int:
        """Send ``text`` as is (no newline added) to every live stream session."""
        return self._call(self._write(text))

    def drop(self) -> int:
        """Abort every connection, no SSH disconnect message; returns how many."""
        return self._call(self._abort_all())

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> FakeGerritSsh:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # surfaced by start() below
                failure.append(exc)
                ready.set()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-gerrit-ssh", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the fake Gerrit SSH server did not start")
        if failure:
            raise RuntimeError("the fake Gerrit SSH server failed to start") from failure[0]
        self.known_hosts_file.write_text(self.known_hosts_line(self.port, self.host_key))
        return self

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            # The loop may have finished on its own (a failed start): nothing to signal then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(10)
        if thread.is_alive():
            raise RuntimeError("the fake Gerrit SSH server thread did not stop")
        self._thread = None

    def __enter__(self) -> FakeGerritSsh:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the server loop ---------------------------------------------------------------------

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        fake = self

        class Server(asyncssh.SSHServer):
            # One instance per connection.
            conn: asyncssh.SSHServerConnection | None = None

            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                self.conn = conn
                with fake._changed:
                    fake.connections_total += 1
                    fake._connections.add(conn)
                    fake._changed.notify_all()

            def connection_lost(self, exc: Exception | None) -> None:
                with fake._changed:
                    if self.conn is not None:
                        fake._connections.discard(self.conn)
                    fake._changed.notify_all()

            def begin_auth(self, username: str) -> bool:
                return True  # auth required for everyone

            def password_auth_supported(self) -> bool:
                return False

            def kbdint_auth_supported(self) -> bool:
                return False

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                ok = username == fake.username and (key.public_data == fake.client_key.public_data)
                if not ok:
                    fake.auth_failures += 1
                return ok

            def auth_completed(self) -> None:
                fake.logins += 1

        self._acceptor = await asyncssh.create_server(
            Server,
            HOST,
            0,
            server_host_keys=[self.host_key],
            process_factory=self._process,
            config=[],
            # No GSSAPI and no host-based auth: public key only, as Gerrit's sshd.
            gss_host=None,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            keepalive_interval=0,
        )
        self.port = self._acceptor.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._acceptor.close()
            await self._abort_all()
            await self._acceptor.wait_closed()

    async def _process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        command = process.command or ""
        self.commands.append(command)
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = [command]
        if tuple(argv[:2]) != COMMAND:
            name = argv[1] if argv[:1] == ["gerrit"] and len(argv) > 1 else (argv or [""])[0]
            process.stderr.write(f'fatal: "{name}" is not a gerrit command\n')
            process.exit(1)
            return
        if not self.stream_events_allowed:
            process.stderr.write(
                f'fatal: {self.username} does not have "Stream Events" capability.\n'
            )
            process.exit(1)
            return
        with self._changed:
            self._streams.add(process)
            self._changed.notify_all()
        try:
            # Gerrit never reads a stream client's stdin: the session lives until the
            # channel or the connection goes.
            await process.wait_closed()
        finally:
            with self._changed:
                self._streams.discard(process)
                self._changed.notify_all()

    async def _write(self, text: str) -> int:
        sent = 0
        for process in list(self._streams):
            if not process.channel.is_closing():
                process.stdout.write(text)
                sent += 1
        return sent

    async def _abort_all(self) -> int:
        connections = list(self._connections)
        for conn in connections:
            conn.abort()
        for conn in connections:
            await conn.wait_closed()
        # Wait for the stream handlers to see their channels go, so ``sessions`` is 0 after.
        for _ in range(200):
            if not self._streams:
                break
            await asyncio.sleep(0.005)
        return len(connections)

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise RuntimeError("the fake Gerrit SSH server is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)
