"""The ``gerrit stream-events`` listener against a real SSH server: the fake Gerrit sshd of
tests/fakes/gerrit_ssh.py on 127.0.0.1 (its own loop, in a thread), the listener in the
test's loop. Reconnect waits are short (0.05 s), or an injected ``sleep`` records them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from bot.config.models import GerritSshConfig
from bot.platforms.gerrit.stream import StreamListener, backoff_delay
from tests.fakes.gerrit_ssh import FakeGerritSsh

pytestmark = pytest.mark.timeout(60)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gerrit"
LOGGER = "bot.platforms.gerrit.stream"
WAIT = 5.0


def fixture(name: str, created: int | str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    if created is not None:
        event["eventCreatedOn"] = created
    return event


def ssh_config(fake: FakeGerritSsh, **changes: Any) -> GerritSshConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": fake.port,
        "username": fake.username,
        "key_file": fake.key_file,
        "known_hosts_file": fake.known_hosts_file,
        "keepalive_seconds": 5.0,
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.05,
    }
    values.update(changes)
    return GerritSshConfig(**values)


async def until(what: str, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait (on the loop) until ``predicate()`` holds; fail naming ``what`` after timeout."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
    assert predicate(), what


async def streaming(fake: FakeGerritSsh, listener: StreamListener, connects: int) -> None:
    """Wait until the listener's connection number ``connects`` is up on both ends: the
    server registers the session before the client hears the command started."""
    status = listener.status
    await until(
        f"stream connection {connects}",
        lambda: fake.sessions == 1 and status.connected and status.connects == connects,
    )


class Recorder:
    """on_event and catch_up for the listener: what they were given, and failures on cue."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.catch_ups: list[float] = []
        self.fail_events = 0  # the next N on_event calls raise
        self.fail_catch_ups = 0  # the next N catch_up calls raise
        self.hold_catch_up: asyncio.Event | None = None  # catch_up waits for it
        self.catch_up_done = 0
        self.catch_up_cancelled = 0

    async def on_event(self, event: dict[str, Any]) -> None:
        if self.fail_events:
            self.fail_events -= 1
            raise RuntimeError("the store is down")
        self.events.append(event)

    async def catch_up(self, since: float) -> None:
        self.catch_ups.append(since)
        if self.fail_catch_ups:
            self.fail_catch_ups -= 1
            raise RuntimeError("REST query failed")
        try:
            if self.hold_catch_up is not None:
                await self.hold_catch_up.wait()
        except asyncio.CancelledError:
            self.catch_up_cancelled += 1
            raise
        self.catch_up_done += 1


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGerritSsh]:
    server = FakeGerritSsh(tmp_path).start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def running(listener: StreamListener) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(listener.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


# --- events --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_events_arrive_in_order_and_bad_lines_are_skipped(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec = Recorder()
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    first = fixture("patchset-created", 1763901235)
    second = fixture("comment-added-recheck", "1763901300")  # a numeric string counts too
    older = fixture("comment-added-vote", 1763900000)  # arrives later, created earlier
    last = fixture("change-merged", 1763901400)
    async with running(listener):
        await streaming(fake, listener, 1)
        assert fake.emit(first) == 1
        await until("the first event", lambda: len(rec.events) == 1)
        assert listener.status.connected
        assert listener.status.events == 1
        assert listener.status.last_event == 1763901235
        fake.emit(second)
        fake.emit(older)
        fake.emit_raw("this is not JSON {\n")
        fake.emit_raw("[1, 2, 3]\n")  # JSON, but not an object
        fake.emit_raw("\n")  # an empty line: nothing at all
        fake.emit(last)
        await until("four events", lambda: len(rec.events) == 4)
        await asyncio.sleep(0.05)  # nothing else is on its way
        assert rec.events == [first, second, older, last]
        status = listener.status
        assert (status.connected, status.connects, status.reconnects) == (True, 1, 0)
        assert status.events == 4
        assert status.last_event == 1763901400  # the greatest, not the latest
        assert status.last_error is None
        assert rec.catch_ups == []  # the first connection of the process has no gap
    warnings = messages(caplog, logging.WARNING)
    assert any("not a JSON object" in m and "this is not JSON {" in m for m in warnings)
    assert any("not a JSON object" in m and "[1, 2, 3]" in m for m in warnings)
    assert len(warnings) == 2
    assert fake.commands == ["gerrit stream-events"]


@pytest.mark.asyncio
async def test_an_on_event_failure_does_not_stop_the_stream(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec = Recorder()
    rec.fail_events = 1
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    async with running(listener):
        await streaming(fake, listener, 1)
        fake.emit(fixture("patchset-created"))
        fake.emit(fixture("change-merged"))
        await until("the second event", lambda: len(rec.events) == 1)
        assert rec.events[0]["type"] == "change-merged"
        assert listener.status.events == 2  # received, whatever on_event made of it
        assert (listener.status.connected, listener.status.connects) == (True, 1)
        assert fake.connections_total == 1
    failed = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(failed) == 1
    assert "patchset-created" in failed[0].getMessage()
    assert failed[0].exc_info is not None  # with the traceback


@pytest.mark.asyncio
async def test_a_line_over_the_limit_is_skipped_and_the_stream_goes_on(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec = Recorder()
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up, max_line_bytes=4096)
    fitting = fixture("patchset-created")
    fitting["change"]["commitMessage"] = "y" * 2500  # under the limit: delivered
    async with running(listener):
        await streaming(fake, listener, 1)
        # An over-long line in pieces: the first alone is over the limit, so the listener
        # usually skips before the end arrives (both ways are checked in the next test).
        fake.emit_raw('{"type": "huge", "x": "' + "x" * 5000)
        await asyncio.sleep(0.1)
        fake.emit_raw("x" * 3000)
        fake.emit_raw("x" * 3000 + '"}\n')
        fake.emit(fitting)
        fake.emit(fixture("change-merged"))
        await until("two events", lambda: len(rec.events) == 2)
        assert [e["type"] for e in rec.events] == ["patchset-created", "change-merged"]
        assert rec.events[0] == fitting
        assert listener.status.connects == 1
    warnings = messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "skipping a line of " in warnings[0]
    assert "over the 4096-byte limit" in warnings[0]


class ScriptedReader:
    """stdout as chunks of our choosing: where the reads split lines is what is tested."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def read(self, n: int = -1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


LINE_32 = b'{"n": 1, "p": "' + b"p" * 15 + b'"}'  # exactly the limit: delivered
LINE_33 = b'{"n": 9, "p": "' + b"p" * 16 + b'"}'  # one byte over: skipped


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("chunks", "expected", "skipped"),
    [
        # Newlines at and across chunk boundaries, an empty line, no final newline.
        ([b'{"n": 1}\n{"n"', b": 2}", b"\n", b'\n{"n": 3}\n{"n": 4}'], [1, 2, 3, 4], []),
        # An over-long line seen before its end, then its end in a later chunk.
        (
            [b'{"n": 1}\n{"x": "' + b"x" * 40, b"x" * 40, b'"}\n{"n": 2}\n'],
            [1, 2],
            ["at least "],
        ),
        # The same, its newline the first byte of the next chunk.
        ([b'{"x": "' + b"x" * 60 + b'"}', b'\n{"n": 1}\n'], [1], ["at least "]),
        # An over-long line whole in one chunk.
        ([b'{"n": 1}\n{"x": "' + b"x" * 80 + b'"}\n{"n": 2}\n'], [1, 2], ["of 89 bytes"]),
        # The limit itself.
        ([LINE_32 + b"\n" + LINE_33 + b"\n", b'{"n": 2}\n'], [1, 2], ["of 33 bytes"]),
        # An over-long last line cut by EOF: skipped, not parsed.
        ([b'{"n": 1}\n', b'{"x": "' + b"x" * 60], [1], ["at least "]),
    ],
)
async def test_lines_are_split_the_same_whatever_the_reads(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    chunks: list[bytes],
    expected: list[int],
    skipped: list[str],
) -> None:
    # Drives the listener's line reader directly (a private method): the network never
    # splits reads where a test wants it to.
    caplog.set_level(logging.INFO, logger=LOGGER)
    cfg = GerritSshConfig(
        host="gerrit.invalid",
        username="review-bot",
        key_file=tmp_path / "key",
        known_hosts_file=tmp_path / "known_hosts",
    )
    rec = Recorder()
    listener = StreamListener(cfg, rec.on_event, rec.catch_up, max_line_bytes=32)
    await listener._read_stream(ScriptedReader(chunks))  # type: ignore[arg-type]
    assert [e["n"] for e in rec.events] == expected
    warnings = messages(caplog, logging.WARNING)
    assert len(warnings) == len(skipped)
    for said, message in zip(skipped, warnings, strict=True):
        assert said in message and "over the 32-byte limit" in message


# --- reconnects and catch-up ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_dropped_connection_reconnects_and_catches_up_from_the_last_event(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec = Recorder()
    rec.hold_catch_up = asyncio.Event()  # the catch-up is slow: events must flow meanwhile
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    async with running(listener):
        await streaming(fake, listener, 1)
        fake.emit(fixture("patchset-created", 1763901235))
        fake.emit(fixture("comment-added-vote", 1763901000))
        await until("two events", lambda: len(rec.events) == 2)
        assert rec.catch_ups == []

        assert fake.drop() == 1
        await streaming(fake, listener, 2)
        await until("a catch-up", lambda: len(rec.catch_ups) == 1)
        assert rec.catch_ups == [1763901235.0]  # the greatest eventCreatedOn seen
        assert listener.status.last_error is not None
        assert "127.0.0.1" in listener.status.last_error

        fake.emit(fixture("change-merged", 1763901400))
        await until("the event after the reconnect", lambda: len(rec.events) == 3)
        assert rec.catch_up_done == 0  # arrived while the catch-up was still running
        rec.hold_catch_up.set()
        await until("the catch-up to finish", lambda: rec.catch_up_done == 1)

        status = listener.status
        assert (status.connected, status.connects, status.reconnects) == (True, 2, 1)
        assert status.events == 3
        assert status.last_event == 1763901400
        assert rec.catch_ups == [1763901235.0]  # once, for the one gap
        assert fake.connections_total == 2
    warnings = messages(caplog, logging.WARNING)
    assert any("reconnecting in" in m for m in warnings)


@pytest.mark.asyncio
async def test_without_any_event_the_catch_up_starts_when_the_first_connection_came_up(
    fake: FakeGerritSsh,
) -> None:
    rec = Recorder()
    now = [1763900000.0]
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up, clock=lambda: now[0])
    async with running(listener):
        await streaming(fake, listener, 1)
        now[0] = 1763900500.0
        fake.drop()
        await until("a catch-up", lambda: len(rec.catch_ups) == 1)
        assert rec.catch_ups == [1763900000.0]
        assert listener.status.last_event is None


@pytest.mark.asyncio
async def test_a_resumed_listener_catches_up_on_its_first_connection(
    fake: FakeGerritSsh,
) -> None:
    """A listener taking over (a restart, another replica) fills the gap since the
    checkpoint; its progress stays at the checkpoint until that catch-up is done."""
    rec = Recorder()
    rec.hold_catch_up = asyncio.Event()
    now = [1763900500.0]
    listener = StreamListener(
        ssh_config(fake),
        rec.on_event,
        rec.catch_up,
        clock=lambda: now[0],
        resume_since=1763900000.0,
    )
    assert listener.progress() == 1763900000.0  # not connected yet: the checkpoint itself
    async with running(listener):
        await streaming(fake, listener, 1)
        await until("a catch-up", lambda: len(rec.catch_ups) == 1)
        assert rec.catch_ups == [1763900000.0]
        fake.emit(fixture("patchset-created", 1763900600))
        await until("the event", lambda: len(rec.events) == 1)
        # A newer event arrived, but the gap before it is not filled yet.
        assert listener.progress() == 1763900000.0
        rec.hold_catch_up.set()
        await until("the catch-up to finish", lambda: rec.catch_up_done == 1)
        assert listener.progress() == 1763900600


@pytest.mark.asyncio
async def test_a_fresh_listener_reports_no_progress_until_it_connects(
    fake: FakeGerritSsh,
) -> None:
    rec = Recorder()
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up, clock=lambda: 42.0)
    assert listener.progress() is None
    async with running(listener):
        await streaming(fake, listener, 1)
        assert listener.progress() == 42.0  # nothing missed since the first connection
        assert rec.catch_ups == []


@pytest.mark.asyncio
async def test_a_failed_catch_up_keeps_the_stream_and_is_retried_from_its_start(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    rec = Recorder()
    rec.fail_catch_ups = 1
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    async with running(listener):
        await streaming(fake, listener, 1)
        fake.emit(fixture("patchset-created", 100))
        await until("an event", lambda: len(rec.events) == 1)
        fake.drop()
        await until("a failed catch-up", lambda: len(rec.catch_ups) == 1)
        await streaming(fake, listener, 2)
        # The stream is still up after the failure, and events flow.
        fake.emit(fixture("change-merged", 200))
        await until("an event after the failure", lambda: len(rec.events) == 2)
        assert listener.status.connected
        assert listener.status.reconnects == 1
        failed = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
        assert len(failed) == 1
        assert "catch-up since 100" in failed[0].getMessage()
        assert failed[0].exc_info is not None
        # The next reconnect catches up from where the failed one should have.
        fake.drop()
        await until("a second catch-up", lambda: len(rec.catch_ups) == 2)
        assert rec.catch_ups == [100.0, 100.0]
        await until("the catch-up to finish", lambda: rec.catch_up_done == 1)
        # Done once: the one after starts from the last event again.
        fake.drop()
        await until("a third catch-up", lambda: len(rec.catch_ups) == 3)
        assert rec.catch_ups == [100.0, 100.0, 200.0]


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("known", ["another key", "no entry"])
async def test_an_unknown_host_key_is_refused(
    fake: FakeGerritSsh, tmp_path: Path, caplog: pytest.LogCaptureFixture, known: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    known_hosts = tmp_path / "other_known_hosts"
    if known == "another key":
        fake.other_known_hosts(known_hosts)
    else:
        known_hosts.write_text("# nothing for this host\n")
    rec = Recorder()
    listener = StreamListener(
        ssh_config(fake, known_hosts_file=known_hosts), rec.on_event, rec.catch_up
    )
    async with running(listener):
        await until("two refusals", lambda: len(messages(caplog, logging.ERROR)) >= 2)
        assert fake.sessions == 0
    status = listener.status
    assert (status.connected, status.connects, status.events) == (False, 0, 0)
    assert fake.logins == 0 and fake.auth_failures == 0  # never got as far as auth
    assert fake.commands == []
    expected = (
        f"the SSH host key of 127.0.0.1:{fake.port} is not in known_hosts_file {known_hosts}; "
        "refusing to connect"
    )
    assert status.last_error is not None and status.last_error.startswith(expected)
    assert f"ssh-keyscan -p {fake.port} 127.0.0.1" in status.last_error
    errors = messages(caplog, logging.ERROR)
    assert all(expected in m for m in errors)


@pytest.mark.asyncio
@pytest.mark.parametrize("wrong", ["key", "user"])
async def test_a_refused_login_names_the_user_and_the_key(
    fake: FakeGerritSsh, tmp_path: Path, caplog: pytest.LogCaptureFixture, wrong: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    if wrong == "key":
        cfg = ssh_config(fake, key_file=fake.other_client_key(tmp_path / "other_key"))
    else:
        cfg = ssh_config(fake, username="somebody-else")
    rec = Recorder()
    listener = StreamListener(cfg, rec.on_event, rec.catch_up)
    async with running(listener):
        await until("a refusal", lambda: bool(messages(caplog, logging.ERROR)))
    assert fake.auth_failures >= 1
    assert fake.logins == 0 and fake.sessions == 0 and fake.commands == []
    assert listener.status.connects == 0
    error = listener.status.last_error
    assert error is not None
    assert f"refused SSH authentication as user {cfg.username!r}" in error
    assert str(cfg.key_file) in error
    assert "needs that key's public half registered" in error
    assert error in messages(caplog, logging.ERROR)[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["key_file", "known_hosts_file"])
async def test_a_missing_file_is_named_and_nothing_connects(
    fake: FakeGerritSsh, tmp_path: Path, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    absent = tmp_path / "absent"
    rec = Recorder()
    listener = StreamListener(ssh_config(fake, **{missing: absent}), rec.on_event, rec.catch_up)
    async with running(listener):
        await until("an error", lambda: bool(messages(caplog, logging.ERROR)))
    assert listener.status.last_error == f"{missing} {absent} does not exist"
    assert fake.connections_total == 0


@pytest.mark.asyncio
async def test_an_unusable_key_file_is_named(
    fake: FakeGerritSsh, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    bad = tmp_path / "not_a_key"
    bad.write_text("hello\n")
    rec = Recorder()
    listener = StreamListener(ssh_config(fake, key_file=bad), rec.on_event, rec.catch_up)
    async with running(listener):
        await until("an error", lambda: bool(messages(caplog, logging.ERROR)))
    error = listener.status.last_error
    assert error is not None and error.startswith(f"key_file {bad} is not a usable private key")
    assert fake.connections_total == 0


@pytest.mark.asyncio
async def test_an_account_without_the_stream_events_capability_is_told_so(
    fake: FakeGerritSsh, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    fake.stream_events_allowed = False
    rec = Recorder()
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    async with running(listener):
        await until("an error", lambda: bool(messages(caplog, logging.ERROR)))
    error = listener.status.last_error
    assert error is not None
    assert "`gerrit stream-events` on 127.0.0.1" in error
    assert "exit status 1" in error
    assert 'fatal: review-bot does not have "Stream Events" capability.' in error
    assert error in messages(caplog, logging.ERROR)[0]
    assert listener.status.events == 0 and not listener.status.connected
    assert fake.commands[0] == "gerrit stream-events"


# --- backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [
        (0, 0.0, 0.5),
        (0, 1.0, 1.0),
        (1, 0.5, 1.5),
        (2, 0.0, 2.0),
        (3, 1.0, 8.0),
        (4, 1.0, 10.0),  # 16 capped at 10
        (4, 0.0, 5.0),
        (5000, 0.5, 7.5),  # no overflow
    ],
)
def test_backoff_delay(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay(attempt, 1.0, 10.0, jitter) == pytest.approx(expected)


class Sleeps:
    """An injected sleep: records the delays, runs ``on`` hooks, and after ``block_after``
    delays blocks until cancelled (so the listener stops spinning)."""

    def __init__(self, block_after: int, on: dict[int, Callable[[], None]] | None = None) -> None:
        self.delays: list[float] = []
        self.block_after = block_after
        self.on = on or {}

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        hook = self.on.get(len(self.delays))
        if hook is not None:
            hook()
        if len(self.delays) >= self.block_after:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_reconnect_delays_double_to_the_cap_and_reset_after_events(
    fake: FakeGerritSsh,
) -> None:
    # Connections come up but the command fails at once: they deliver nothing, so the
    # backoff grows; after the fifth wait the account gets the capability back.
    fake.stream_events_allowed = False

    def allow() -> None:
        fake.stream_events_allowed = True

    sleeps = Sleeps(block_after=8, on={5: allow})
    rec = Recorder()
    cfg = ssh_config(fake, backoff_initial_seconds=1.0, backoff_max_seconds=8.0)
    listener = StreamListener(cfg, rec.on_event, rec.catch_up, sleep=sleeps, random=lambda: 0.5)
    async with running(listener):
        await streaming(fake, listener, 6)
        assert sleeps.delays == [0.75, 1.5, 3.0, 6.0, 6.0]  # d = 1, 2, 4, 8, 8; 0.75 d
        fake.emit(fixture("patchset-created"))
        await until("an event", lambda: len(rec.events) == 1)
        fake.stream_events_allowed = False
        fake.drop()
        await until("eight waits", lambda: len(sleeps.delays) == 8)
        # That connection delivered an event: the count starts again.
        assert sleeps.delays[5:] == [0.75, 1.5, 3.0]


@pytest.mark.asyncio
async def test_a_connection_up_longer_than_backoff_max_resets_the_delay(
    fake: FakeGerritSsh,
) -> None:
    now = [1000.0]
    fake.stream_events_allowed = False

    def allow() -> None:
        fake.stream_events_allowed = True

    sleeps = Sleeps(block_after=5, on={3: allow})
    rec = Recorder()
    cfg = ssh_config(fake, backoff_initial_seconds=1.0, backoff_max_seconds=8.0)
    listener = StreamListener(
        cfg, rec.on_event, rec.catch_up, sleep=sleeps, random=lambda: 1.0, clock=lambda: now[0]
    )
    async with running(listener):
        await streaming(fake, listener, 4)
        assert sleeps.delays == [1.0, 2.0, 4.0]
        now[0] += 8.5  # up for longer than backoff_max, without a line
        fake.stream_events_allowed = False
        fake.drop()
        await until("five waits", lambda: len(sleeps.delays) == 5)
        assert sleeps.delays[3:] == [1.0, 2.0]
        assert rec.events == []


# --- cancellation and shutdown -----------------------------------------------------------


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.asyncio
async def test_cancelling_run_closes_the_connection_and_leaves_no_task(
    fake: FakeGerritSsh,
) -> None:
    rec = Recorder()
    rec.hold_catch_up = asyncio.Event()  # a catch-up in flight when run() is cancelled
    listener = StreamListener(ssh_config(fake), rec.on_event, rec.catch_up)
    before = other_tasks()
    task = asyncio.create_task(listener.run())
    await streaming(fake, listener, 1)
    fake.drop()
    await until("a catch-up", lambda: len(rec.catch_ups) == 1)
    await streaming(fake, listener, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.catch_up_cancelled == 1
    assert not listener.status.connected
    await until("no session on the server", lambda: fake.sessions == 0)
    await until("no connection on the server", lambda: fake.connections == 0)
    await asyncio.sleep(0.05)  # anything left would still be pending
    assert other_tasks() == before


@pytest.mark.asyncio
async def test_cancelling_run_during_the_handshake_leaves_no_task(tmp_path: Path) -> None:
    # A TCP server that never says a word: the SSH handshake waits for its banner.
    accepted: list[asyncio.StreamWriter] = []
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # EOF when the client goes
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key.write_private_key(str(key_file))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(FakeGerritSsh.known_hosts_line(port, key))
    cfg = GerritSshConfig(
        host="127.0.0.1",
        port=port,
        username="review-bot",
        key_file=key_file,
        known_hosts_file=known_hosts,
    )
    rec = Recorder()
    listener = StreamListener(cfg, rec.on_event, rec.catch_up)
    before = other_tasks()
    try:
        task = asyncio.create_task(listener.run())
        await until("the TCP connection", lambda: bool(accepted))
        await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for the server's banner
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(WAIT):
            await closed.wait()  # the client closed its socket
        await asyncio.sleep(0.05)
        assert other_tasks() == before
        assert listener.status.connects == 0
    finally:
        server.close()
        await server.wait_closed()


def test_the_fake_stops_its_thread_and_its_connections(tmp_path: Path) -> None:
    fake = FakeGerritSsh(tmp_path).start()
    assert any(t.name == "fake-gerrit-ssh" for t in threading.enumerate())

    async def connect() -> None:
        conn = await asyncssh.connect(
            "127.0.0.1",
            fake.port,
            username=fake.username,
            client_keys=[str(fake.key_file)],
            known_hosts=str(fake.known_hosts_file),
            config=[],
            agent_path=None,
        )
        process = await conn.create_process("gerrit stream-events")
        await asyncio.to_thread(fake.wait_sessions, 1)
        await asyncio.to_thread(fake.stop)
        # The server went: the client sees its stream end.
        with contextlib.suppress(asyncssh.Error):
            await asyncio.wait_for(process.stdout.read(), WAIT)
        conn.close()
        await conn.wait_closed()

    asyncio.run(connect())
    assert not any(t.name == "fake-gerrit-ssh" for t in threading.enumerate())
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        fake.emit({"type": "x"})


def test_the_fake_answers_other_commands_as_gerrit_does(fake: FakeGerritSsh) -> None:
    async def ask(command: str) -> asyncssh.SSHCompletedProcess:
        async with asyncssh.connect(
            "127.0.0.1",
            fake.port,
            username=fake.username,
            client_keys=[str(fake.key_file)],
            known_hosts=str(fake.known_hosts_file),
            config=[],
            agent_path=None,
        ) as conn:
            return await conn.run(command, check=False)

    result = asyncio.run(ask("gerrit foo"))
    assert result.exit_status == 1
    assert result.stderr == 'fatal: "foo" is not a gerrit command\n'
    assert fake.commands == ["gerrit foo"]
    assert fake.sessions == 0
