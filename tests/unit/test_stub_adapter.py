"""The stub platform as a table of webhook bodies, with no server (its events are pure)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.errors import IntakeError, WebhookRejected
from bot.model import Job, JobKey, JobState
from bot.platforms.base import Ignored, ParsedEvent, PlatformAdapter
from bot.platforms.stub import TOKEN_HEADER, StubAdapter

TOKEN = "t0ken"
BASE = {"project": "p", "change": "1", "revision": "r", "files": {"tests/test_a.py": "x\n"}}


def test_the_stub_keeps_the_adapter_contract() -> None:
    _: PlatformAdapter = StubAdapter(TOKEN)  # for type checkers, as reviewdog writes var _ = ...
    assert isinstance(StubAdapter(TOKEN), PlatformAdapter)  # the members, at run time


@pytest.mark.parametrize(
    "tweak, outcome",
    [
        ({}, "event"),
        ({"event": "comment"}, "ignored"),
        ({"base_files": {"tests/test_a.py": "old\n"}}, "event"),
        ({"base_files": ["not", "a", "map"]}, 400),
        ({"files": {"tests/test_a.py": 3}}, 400),
        ({"revision": ""}, 400),
    ],
    ids=["review", "other-event", "with-base", "bad-base", "bad-files", "empty-revision"],
)
def test_parse(tweak: dict[str, Any], outcome: str | int) -> None:
    stub = StubAdapter(TOKEN)
    body = json.dumps({**BASE, **tweak}).encode()
    if isinstance(outcome, int):
        with pytest.raises(WebhookRejected) as err:
            stub.parse_webhook({TOKEN_HEADER: TOKEN}, body)
        assert err.value.status == outcome
        return
    parsed = stub.parse_webhook({TOKEN_HEADER: TOKEN}, body)
    assert isinstance(parsed, ParsedEvent if outcome == "event" else Ignored)


def test_a_bad_token_is_401() -> None:
    with pytest.raises(WebhookRejected) as err:
        StubAdapter(TOKEN).parse_webhook({TOKEN_HEADER: "guess"}, json.dumps(BASE).encode())
    assert err.value.status == 401


def test_an_empty_token_is_refused() -> None:
    # An empty token would match a request that has no X-Stub-Token at all.
    with pytest.raises(ValueError, match=r"platforms\.stub\.token"):
        StubAdapter("")


def job_of(payload: dict[str, Any]) -> Job:
    key = JobKey("stub", "p", "1", "r")
    return Job(1, key, JobState.running, 1, payload, None, 0.0, "o", None, None, None, 0.0, 0.0)


def test_fetch_reads_base_contents_only_when_the_event_had_them() -> None:
    stub = StubAdapter(TOKEN)
    event = stub.parse_webhook(
        {TOKEN_HEADER: TOKEN},
        json.dumps({**BASE, "base_files": {"tests/test_a.py": "old\n"}}).encode(),
    )
    assert isinstance(event, ParsedEvent)
    change = asyncio.run(stub.fetch(job_of(event.payload)))
    assert change.read("tests/test_a.py") == b"x\n"
    assert change.read_base is not None and change.read_base("tests/test_a.py") == b"old\n"
    with pytest.raises(IntakeError, match="no base contents"):
        change.read_base("tests/test_b.py")
    plain = asyncio.run(stub.fetch(job_of({"files": BASE["files"], "diff": ""})))
    assert plain.read_base is None
