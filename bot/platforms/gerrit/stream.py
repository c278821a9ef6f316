"""``gerrit stream-events`` over SSH: the background task that follows a Gerrit server.

Gerrit prints one JSON event a line on the SSH command's stdout (the objects the webhooks
plugin posts) to an account with the global "Stream Events" capability; that is how third
party bots follow servers such as review.opendev.org. ``StreamListener.run()`` keeps one
such stream open for as long as the service runs:

- **Trust.** The host key must be in ``known_hosts_file``: an unknown or changed key is
  refused, never learnt. Only ``key_file`` is offered: no agent, no ``~/.ssh/config``, no
  default keys, no password or keyboard-interactive auth.
- **Lines.** Every line that is a JSON object goes to ``on_event``, in order; anything else
  (a bad line, a line over ``max_line_bytes``) is logged and skipped. ``on_event`` raising
  is logged and the stream goes on.
- **Reconnects.** A failed or ended connection is retried after
  ``min(backoff_max, backoff_initial * 2**n)`` seconds, jittered to between half and all of
  it; ``n`` restarts at 0 after a connection that delivered a line or stayed up longer than
  ``backoff_max``.
- **Catch-up.** Events sent while no stream was open are lost to the stream, so every
  connection but the process's first calls ``catch_up(since)`` concurrently with reading
  (the job store coalesces what both deliver), ``since`` being the greatest
  ``eventCreatedOn`` seen, else ``resume_since``, else the time the first connection came
  up. With ``resume_since`` (how far an earlier listener got: this process's previous
  run, or a replica that led before) the first connection catches up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from bot.config.models import GerritSshConfig

LOG = logging.getLogger("bot.platforms.gerrit.stream")

COMMAND = "gerrit stream-events"
# A change with thousands of files or a huge commit message makes a long line; past this a
# line is skipped (logged), the stream goes on.
MAX_LINE_BYTES = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024
CONNECT_TIMEOUT = 30.0  # TCP, key exchange and auth
KEEPALIVE_COUNT_MAX = 3  # unanswered keepalives before the connection counts as lost
CLOSE_TIMEOUT = 5.0  # after stdout's EOF, for stderr and the exit status
STDERR_KEEP = 4096
LOGGED_CHARS = 200


@dataclass
class StreamStatus:
    connected: bool = False
    connects: int = 0  # successful connections
    reconnects: int = 0  # successful connections after the first
    events: int = 0  # events received (valid JSON objects)
    last_event: float | None = None  # the greatest eventCreatedOn seen (epoch s, server clock)
    last_error: str | None = None  # why the last connection failed or ended, one line


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float) -> float:
    """The wait before reconnect ``attempt`` (0-based): ``d = min(maximum, initial * 2**n)``,
    then ``d/2 + jitter*d/2`` for ``jitter`` in [0, 1]."""
    d = min(maximum, initial * 2.0 ** min(attempt, 64))
    return d / 2 + jitter * d / 2


class _Refused(Exception):
    """A connection attempt that failed for a reason we already put in words."""

    def __init__(self, message: str, level: int = logging.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.level = level


class StreamListener:
    def __init__(
        self,
        ssh: GerritSshConfig,
        on_event: Callable[[dict[str, Any]], Awaitable[None]],
        catch_up: Callable[[float], Awaitable[None]],
        *,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        max_line_bytes: int = MAX_LINE_BYTES,
        resume_since: float | None = None,
    ) -> None:
        self.ssh = ssh
        self.on_event = on_event
        self.catch_up = catch_up
        self.status = StreamStatus()
        self._random = random
        self._sleep = sleep
        self._clock = clock
        self._max_line = max_line_bytes
        self._extra = {"host": ssh.host, "port": ssh.port}
        self._where = f"{ssh.host}:{ssh.port}"
        self._first_up: float | None = None  # when the process's first connection came up
        self._resume_since = resume_since
        self._catch_up_since: float | None = None  # a catch-up not completed yet
        self._delivered = False  # the current connection delivered a line
        self._up_at: float | None = None  # when the current connection came up

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until cancelled; never returns on its own."""
        attempt = 0
        try:
            while True:
                self._delivered = False
                self._up_at = None
                failure: Exception | None = None
                try:
                    level, message = await self._connection()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    level, message, foreseen = self._describe(exc)
                    failure = None if foreseen else exc  # a traceback for the unforeseen
                finally:
                    self.status.connected = False
                up_for = None if self._up_at is None else self._clock() - self._up_at
                if self._delivered or (
                    up_for is not None and up_for > self.ssh.backoff_max_seconds
                ):
                    attempt = 0
                delay = backoff_delay(
                    attempt,
                    self.ssh.backoff_initial_seconds,
                    self.ssh.backoff_max_seconds,
                    self._random(),
                )
                attempt += 1
                message = " ".join(message.split())  # one line, whatever the server said
                self.status.last_error = message
                LOG.log(
                    level,
                    "gerrit stream-events: %s; reconnecting in %.2fs",
                    message,
                    delay,
                    exc_info=failure,
                    extra=self._extra,
                )
                await self._sleep(delay)
        finally:
            self.status.connected = False

    async def _connection(self) -> tuple[int, str]:
        """One connection, from connect to the end of the stream: how it ended (level, one
        line). Raises what made it fail."""
        ssh = self.ssh
        self._check_file("key_file", ssh.key_file)
        self._check_file("known_hosts_file", ssh.known_hosts_file)
        async with asyncssh.connect(
            ssh.host,
            ssh.port,
            username=ssh.username,
            client_keys=[str(ssh.key_file)],
            passphrase=None,
            known_hosts=str(ssh.known_hosts_file),
            keepalive_interval=ssh.keepalive_seconds,
            keepalive_count_max=KEEPALIVE_COUNT_MAX,
            connect_timeout=CONNECT_TIMEOUT,
            # Nothing of the user's SSH set-up: no ~/.ssh/config (an empty list, not the
            # default), no agent, no X.509 bundle from ~/.ssh, public-key auth only.
            config=[],
            agent_path=None,
            x509_trusted_certs=None,
            x509_trusted_cert_paths=None,
            pkcs11_provider=None,
            preferred_auth="publickey",
            gss_kex=False,
            gss_auth=False,
            host_based_auth=False,
            kbdint_auth=False,
            password_auth=False,
        ) as conn:
            # stdin stays open and unused, as with a plain ``ssh host gerrit stream-events``.
            process = await conn.create_process(COMMAND, encoding=None)
            self._connected()
            tasks: list[asyncio.Task[Any]] = []
            if self.status.connects > 1 or self._resume_since is not None:
                tasks.append(asyncio.create_task(self._run_catch_up(self._since())))
            stderr = asyncio.create_task(self._read_stderr(process.stderr))
            tasks.append(stderr)
            try:
                await self._read_stream(process.stdout)
                return await self._ended(process, stderr)
            finally:
                # A catch-up still running when the connection ends is cancelled, not awaited:
                # a hung one must not hold up the reconnect. Its ``since`` is kept, so the
                # next reconnect's catch-up starts from there (the only retry; kept simple).
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def progress(self) -> float | None:
        """Where a later listener should resume: the newest event seen, else the time the
        first connection came up (nothing was missed after it), else ``resume_since``;
        never past the start of a catch-up that has not completed, whose gap a later
        listener must fill in its place."""
        mark = self.status.last_event
        if mark is None:
            mark = self._first_up if self._first_up is not None else self._resume_since
        if mark is not None and self._catch_up_since is not None:
            mark = min(mark, self._catch_up_since)
        return mark

    def _connected(self) -> None:
        now = self._clock()
        status = self.status
        status.connected = True
        status.connects += 1
        if status.connects > 1:
            status.reconnects += 1
        if self._first_up is None:
            self._first_up = now
        self._up_at = now
        LOG.info(
            "gerrit stream-events: streaming from %s as %s (connection %d)",
            self._where,
            self.ssh.username,
            status.connects,
            extra=self._extra,
        )

    def _since(self) -> float:
        since = self.status.last_event
        if since is None:
            since = self._resume_since
        if since is None:
            assert self._first_up is not None  # a reconnect follows a first connection
            since = self._first_up
        if self._catch_up_since is not None:
            since = min(since, self._catch_up_since)
        self._catch_up_since = since
        return since

    async def _run_catch_up(self, since: float) -> None:
        try:
            await self.catch_up(since)
        except Exception:
            # Does not touch the connection; retried at the next reconnect only.
            LOG.exception(
                "gerrit stream-events: the catch-up since %s failed; the next reconnect "
                "tries again",
                since,
                extra=self._extra,
            )
            return
        if self._catch_up_since == since:
            self._catch_up_since = None

    # --- reading -------------------------------------------------------------------------

    async def _read_stream(self, stdout: asyncssh.SSHReader[bytes]) -> None:
        buf = bytearray()
        skipping = False  # inside a line over the limit, until its newline
        while chunk := await stdout.read(READ_CHUNK):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                piece = chunk[start:end]
                start = end + 1
                if skipping:
                    skipping = False
                elif len(buf) + len(piece) > self._max_line:
                    self._overlong(len(buf) + len(piece), whole=True)
                    buf.clear()
                else:
                    buf += piece
                    line = bytes(buf)
                    buf.clear()
                    await self._line(line)
            if not skipping:
                buf += chunk[start:]
                if len(buf) > self._max_line:
                    self._overlong(len(buf), whole=False)
                    buf.clear()
                    skipping = True
        if buf and not skipping:  # the last line came without its newline
            await self._line(bytes(buf))

    def _overlong(self, size: int, *, whole: bool) -> None:
        self._delivered = True
        LOG.warning(
            "gerrit stream-events: skipping a line of %s%d bytes, over the %d-byte limit",
            "" if whole else "at least ",
            size,
            self._max_line,
            extra=self._extra,
        )

    async def _line(self, line: bytes) -> None:
        if not line.strip():
            return
        self._delivered = True
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            event = None
        if not isinstance(event, dict):
            LOG.warning(
                "gerrit stream-events: skipping a line that is not a JSON object: %r",
                line.decode("utf-8", "replace")[:LOGGED_CHARS],
                extra=self._extra,
            )
            return
        status = self.status
        status.events += 1
        created = _epoch(event.get("eventCreatedOn"))
        if created is not None and (status.last_event is None or created > status.last_event):
            status.last_event = created
        try:
            await self.on_event(event)
        except Exception:
            LOG.exception(
                "gerrit stream-events: handling a %r event failed; going on with the stream",
                event.get("type"),
                extra=self._extra,
            )

    @staticmethod
    async def _read_stderr(stderr: asyncssh.SSHReader[bytes]) -> bytes:
        kept = bytearray()
        while chunk := await stderr.read(READ_CHUNK):
            kept += chunk[: max(0, STDERR_KEEP - len(kept))]
        return bytes(kept)

    async def _ended(
        self, process: asyncssh.SSHClientProcess[bytes], stderr: asyncio.Task[bytes]
    ) -> tuple[int, str]:
        """stdout reached EOF: why, from stderr and the exit status."""
        text = b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                text = await stderr
                await process.wait_closed()
        first = next(
            (s.strip() for s in text.decode("utf-8", "replace").splitlines() if s.strip()), ""
        )[:LOGGED_CHARS]
        said = f": {first}" if first else ""
        status, signal = process.exit_status, process.exit_signal
        where = f"`{COMMAND}` on {self._where}"
        if signal is not None:
            return logging.WARNING, f"{where} was ended by signal {signal[0]}{said}"
        if status is None:
            return logging.WARNING, f"{self._where} closed the stream without an exit status{said}"
        if status == 0:
            return logging.WARNING, f"{where} ended (exit status 0){said}"
        hint = ""
        if "capability" in first.lower():
            hint = (
                f' (the account {self.ssh.username} needs the global "Stream Events" '
                "capability: All-Projects > Access > Global Capabilities)"
            )
        return logging.ERROR, f"{where} failed (exit status {status}){said}{hint}"

    # --- errors --------------------------------------------------------------------------

    @staticmethod
    def _check_file(what: str, path: Path) -> None:
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError:
            raise _Refused(f"{what} {path} does not exist") from None
        except PermissionError:
            raise _Refused(f"{what} {path} is not readable (permission denied)") from None
        except OSError as exc:
            raise _Refused(f"{what} {path} cannot be read: {exc.strerror or exc}") from None

    def _describe(self, exc: Exception) -> tuple[int, str, bool]:
        """A failed connection in one line, how loud to log it, and whether it was foreseen
        (no traceback then)."""
        explained = self._explain(exc)
        if explained is None:
            name = type(exc).__name__
            return logging.ERROR, f"unexpected error with {self._where}: {name}: {exc}", False
        return explained[0], explained[1], True

    def _explain(self, exc: Exception) -> tuple[int, str] | None:
        ssh, where = self.ssh, self._where
        if isinstance(exc, _Refused):
            return exc.level, exc.message
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return logging.ERROR, (
                f"the SSH host key of {where} is not in known_hosts_file "
                f"{ssh.known_hosts_file}; refusing to connect (add the server's key, e.g. "
                f"from ssh-keyscan -p {ssh.port} {ssh.host})"
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return logging.ERROR, (
                f"{where} refused SSH authentication as user {ssh.username!r} with key_file "
                f"{ssh.key_file}: the Gerrit account {ssh.username!r} needs that key's public "
                "half registered (Settings > SSH Keys)"
            )
        if isinstance(exc, asyncssh.KeyImportError):
            reason = str(exc)
            if "passphrase" in reason.lower():
                reason += " (use a key without a passphrase)"
            return logging.ERROR, f"key_file {ssh.key_file} is not a usable private key: {reason}"
        if isinstance(exc, asyncssh.ConnectionLost):  # also a keepalive timeout
            return logging.WARNING, f"the SSH connection to {where} was lost: {exc.reason}"
        if isinstance(exc, asyncssh.DisconnectError):
            name = type(exc).__name__
            return logging.WARNING, f"{where} closed the SSH connection: {exc.reason} ({name})"
        if isinstance(exc, asyncssh.ChannelOpenError):
            return logging.WARNING, f"{where} refused an SSH session channel: {exc.reason}"
        if isinstance(exc, asyncssh.Error):
            return logging.WARNING, f"SSH error with {where}: {exc.reason}"
        if isinstance(exc, TimeoutError):
            return logging.WARNING, f"connecting to {where} timed out"
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            if exc.filename is not None:  # a file asyncssh read itself
                return logging.ERROR, f"cannot read {exc.filename}: {reason}"
            return logging.WARNING, f"cannot connect to {where}: {reason}"
        return None


def _epoch(value: object) -> float | None:
    """``eventCreatedOn`` (epoch seconds, a number or a numeric string), if it is one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
