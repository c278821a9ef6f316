"""Gerrit events (webhooks plugin and stream-events carry the same JSON) -> jobs."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.core.globs import GlobSet
from bot.errors import WebhookRejected
from bot.platforms.base import Ignored, ParsedEvent
from bot.platforms.gerrit.events import (
    CURRENT,
    EventRules,
    asks_recheck,
    authorize,
    event_id,
    parse_body,
    parse_event,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gerrit"
RULES = EventRules(token=b"s3cret-token", account="review-bot")


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(data)


def test_patchset_created_reviews_its_revision() -> None:
    got = parse_event(RULES, event("patchset-created"))
    assert isinstance(got, ParsedEvent)
    assert (got.platform, got.project, got.change) == ("gerrit", "openstack/nova", "934127")
    assert got.revision == "5d1e9c3a7b2f4e6d8c0a1b3c5d7e9f1a2b4c6d8e"
    assert not got.recheck
    assert got.payload == {
        "project": "openstack/nova",
        "number": 934127,
        "branch": "master",
        "type": "patchset-created",
        "patch_set": 3,
    }


def test_numbers_may_arrive_as_strings() -> None:
    data = event("patchset-created")
    data["change"]["number"] = "934127"
    data["patchSet"]["number"] = "3"
    got = parse_event(RULES, data)
    assert isinstance(got, ParsedEvent)
    assert got.change == "934127" and got.payload["patch_set"] == 3


@pytest.mark.parametrize("bad", [None, "", "12a", -4, 0, True, 1.5])
def test_a_bad_change_number_is_refused_naming_the_field(bad: object) -> None:
    data = event("patchset-created")
    data["change"]["number"] = bad
    with pytest.raises(WebhookRejected, match=r"change\.number") as info:
        parse_event(RULES, data)
    assert info.value.status == 400


def test_missing_revision_is_refused() -> None:
    data = event("patchset-created")
    del data["patchSet"]["revision"]
    with pytest.raises(WebhookRejected, match=r"patchSet\.revision"):
        parse_event(RULES, data)


def test_trivial_rebase_is_skipped_by_default_and_configurable() -> None:
    got = parse_event(RULES, event("patchset-created-trivial-rebase"))
    assert isinstance(got, Ignored) and got.kind == "skipped" and "TRIVIAL_REBASE" in got.reason
    keep_all = EventRules(token=b"t", skip_kinds=frozenset())
    assert isinstance(parse_event(keep_all, event("patchset-created-trivial-rebase")), ParsedEvent)


def test_a_patch_set_the_bot_uploaded_is_ignored() -> None:
    data = event("patchset-created")
    data["uploader"]["username"] = "review-bot"
    got = parse_event(RULES, data)
    assert isinstance(got, Ignored) and got.kind == "own"


def test_recheck_reviews_the_current_patch_set() -> None:
    got = parse_event(RULES, event("comment-added-recheck"))
    assert isinstance(got, ParsedEvent)
    assert got.recheck and got.revision == CURRENT
    assert "patch_set" not in got.payload  # the comment's patch set may not be current


def test_our_own_comment_is_ignored() -> None:
    data = event("comment-added-recheck")
    data["author"]["username"] = "review-bot"
    got = parse_event(RULES, data)
    assert isinstance(got, Ignored) and got.kind == "own"


def test_a_vote_with_a_message_is_no_recheck() -> None:
    got = parse_event(RULES, event("comment-added-vote"))
    assert isinstance(got, Ignored) and got.kind == "ignored"


def test_recheck_on_a_closed_change_is_ignored() -> None:
    data = event("comment-added-recheck")
    data["change"].update(status="MERGED", open=False)
    got = parse_event(RULES, data)
    assert isinstance(got, Ignored) and got.kind == "closed"


@pytest.mark.parametrize(
    ("comment", "plain", "expected"),
    [
        ("Patch Set 3:\n\nrecheck", True, True),
        ("Patch Set 3:\n\nrecheck", False, False),
        ("Patch Set 3:\n\nrecheck review-bot", False, True),
        ("Patch Set 3: Code-Review+1\n\nRECHECK review-bot\n", False, True),
        ("Patch Set 12: -Verified\n\nThanks!\n\nrecheck", True, True),
        ("Patch Set 3:\n\n(1 comment)", True, False),
        ("Patch Set 3:\n\nplease do not recheck yet", True, False),
        ("Patch Set 3:\n\nrecheck zuul-ci", True, False),
        # The header line itself never counts, only what follows it.
        ("Patch Set 3: recheck", True, False),
        ("recheck", True, True),  # a comment without the header (some plugins, tests)
    ],
)
def test_recheck_matches_after_the_patch_set_header(
    comment: str, plain: bool, expected: bool
) -> None:
    rules = EventRules(token=b"t", recheck_plain=plain)
    assert asks_recheck(rules, comment) is expected


def test_the_recheck_regex_is_configurable() -> None:
    rules = EventRules(token=b"t", recheck=re.compile(r"(?m)^run tests$"), recheck_plain=False)
    assert asks_recheck(rules, "Patch Set 1:\n\nrun tests")
    assert not asks_recheck(rules, "Patch Set 1:\n\nrecheck review-bot")


def test_other_event_types_are_ignored() -> None:
    got = parse_event(RULES, event("change-merged"))
    assert isinstance(got, Ignored) and "change-merged" in got.reason


def test_a_redelivery_has_the_same_id_and_another_event_another() -> None:
    first = parse_event(RULES, event("patchset-created"))
    again = parse_body(RULES, json.dumps(event("patchset-created"), indent=1).encode())
    later = event("patchset-created")
    later["eventCreatedOn"] += 60
    other = parse_event(RULES, later)
    assert isinstance(first, ParsedEvent) and isinstance(again, ParsedEvent)
    assert isinstance(other, ParsedEvent)
    assert first.delivery_id == again.delivery_id == event_id(event("patchset-created"))
    assert other.delivery_id != first.delivery_id


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_malformed_body_is_a_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse_body(RULES, body)
    assert info.value.status == 400


def test_the_url_token_is_checked() -> None:
    authorize(RULES, "s3cret-token", "10.1.2.3")
    for wrong in ("", "s3cret", "s3cret-token-x", "S3CRET-TOKEN"):
        with pytest.raises(WebhookRejected) as info:
            authorize(RULES, wrong, "10.1.2.3")
        assert info.value.status == 401


def test_no_configured_token_refuses_every_webhook() -> None:
    with pytest.raises(WebhookRejected):
        authorize(EventRules(token=b""), "", "127.0.0.1")


def test_the_source_network_allow_list() -> None:
    rules = EventRules(
        token=b"t",
        networks=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")),
    )
    authorize(rules, "t", "10.200.0.1")
    authorize(rules, "t", "::1")
    for remote in ("192.168.1.1", None, "not-an-address"):
        with pytest.raises(WebhookRejected) as info:
            authorize(rules, "t", remote)
        assert info.value.status == 403


def test_only_the_configured_projects_are_reviewed() -> None:
    rules = EventRules(token=b"t", projects=GlobSet(["openstack/nova", "starlingx/*"]))
    assert isinstance(parse_event(rules, event("patchset-created")), ParsedEvent)
    other = event("patchset-created")
    other["change"]["project"] = "openstack/neutron"
    got = parse_event(rules, other)
    assert isinstance(got, Ignored) and got.kind == "project" and "openstack/neutron" in got.reason
    recheck = event("comment-added-recheck")
    recheck["change"]["project"] = "starlingx/config"
    assert isinstance(parse_event(rules, recheck), ParsedEvent)
